"""The cross-modal paper's transcription baseline: PCA of the signal, then an MLP.

DAFx 2019 (L339-345): "PCA of the signal, then a 2-layer MLP with the same number of
hidden units as the symbol decoder, trained with cross-entropy". Here:

- PCA: the 32 leading principal components (the VAE's latent size) of the training
  features (log1p constant-Q frames, centred), each component scaled to unit variance
  over the training set so that the MLP sees comparable inputs;
- MLP: 32 -> hidden -> hidden -> 24 M logits, ELU, like the symbol decoder it stands
  beside (``hidden`` is read from the model file);
- loss: cross-entropy summed over the symbol groups (pitch class, octave, dynamics per
  instrument), Adam 1e-3, batch 256, a fixed number of steps, seeded, on the CPU with
  one thread (the machine is shared; a few seconds to a minute per model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

COMPONENTS = 32
STEPS = 3000
BATCH = 256
LEARNING_RATE = 1e-3


@dataclass
class PcaMlpBaseline:
    mean: np.ndarray         # [bins]
    axes: np.ndarray         # [components, bins]
    scale: np.ndarray        # [components]: std of each component over the training set
    layers: list             # [(weight [out, in], bias [out])], ELU between them
    groups: tuple            # symbol group sizes, e.g. (12, 9, 3) per instrument

    def project(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, np.float64) - self.mean) @ self.axes.T) / self.scale

    def logits(self, features: np.ndarray) -> np.ndarray:
        h = self.project(features)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.where(h > 0, h, np.expm1(np.minimum(h, 0.0)))
        return h


def fit_pca(features: np.ndarray, components: int = COMPONENTS):
    """Mean [bins], axes [components, bins], per-component std [components]."""
    x = np.asarray(features, np.float64)
    if len(x) < components:
        raise ValueError(f"PCA of {components} components needs at least {components} training "
                         f"frames, got {len(x)}")
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = vt[:components]
    scale = ((x - mean) @ axes.T).std(0)
    return mean, axes, np.maximum(scale, 1e-8)


def fit(features: np.ndarray, labels: np.ndarray, hidden: int, groups: Sequence[int],
        seed: int = 0, steps: int = STEPS, components: int = COMPONENTS) -> PcaMlpBaseline:
    """Fits the baseline on training frames: features [N, bins], labels [N, len(groups)]
    (class index per group)."""
    import torch
    import torch.nn.functional as F

    labels = np.asarray(labels, np.int64)
    if labels.shape != (len(features), len(groups)):
        raise ValueError(f"labels have shape {labels.shape}, expected ({len(features)}, {len(groups)})")
    mean, axes, scale = fit_pca(features, components)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        x = torch.as_tensor(((np.asarray(features, np.float64) - mean) @ axes.T) / scale,
                            dtype=torch.float32)
        y = torch.as_tensor(labels)
        mlp = torch.nn.Sequential(torch.nn.Linear(components, hidden), torch.nn.ELU(),
                                  torch.nn.Linear(hidden, hidden), torch.nn.ELU(),
                                  torch.nn.Linear(hidden, sum(groups)))
        opt = torch.optim.Adam(mlp.parameters(), lr=LEARNING_RATE)
        for _ in range(steps):
            idx = torch.as_tensor(rng.integers(0, len(x), min(BATCH, len(x))))
            logits = torch.split(mlp(x[idx]), list(groups), dim=-1)
            loss = sum(F.cross_entropy(lg, y[idx, g]) for g, lg in enumerate(logits))
            opt.zero_grad()
            loss.backward()
            opt.step()
        layers = [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
                  for m in mlp if isinstance(m, torch.nn.Linear)]
    finally:
        torch.set_num_threads(threads)
    return PcaMlpBaseline(mean, axes, scale, layers, tuple(groups))
