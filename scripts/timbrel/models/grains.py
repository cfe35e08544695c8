"""Neural granular synthesis: a hierarchical VAE over grains (Bitton, Esling & Harada, ICMC
2020; thesis L9198-10276, DIGEST.md §3d). The PyTorch side of the ``grains`` family; the
contract (shapes, formulas, metadata, sizes, real-time arithmetic) is docs/grains.md.

As in ``vq_timbre``, the networks are named ``SequenceGraph`` s over ``[B, T, C]`` and the
signal processing around them (slicing, noise filtering, windowing, overlap-add, the FIR
post-filter) is plain code here, with its constants in the metadata, so the core can
reproduce it step by step.

Graphs (names fixed; T is the grain axis unless said otherwise):

- ``grain_encoder``: one windowed grain as a sequence of 2048 one-channel samples
  ``[N, 2048, 1]`` -> Conv1d(1, c1, 32, stride 16, pad 8) -> ReLU -> Log1p (a learned
  log-compressed filterbank, 128 frames) -> Residual(Linear c1, LeakyReLU, Linear c1)
  -> Conv1d(c1, c2, 8, stride 4, pad 2) (32 frames) -> LeakyReLU -> Residual(Linear c2,
  LeakyReLU, Linear c2) -> Conv1d(c2, c2, 8, stride 4, pad 2) (8 frames) -> LeakyReLU
  -> Flatten -> Linear ``encoder_dense`` -> LeakyReLU -> Linear 2 ``latent``:
  ``[N, 1, 2 latent]`` = (mu, log-variance).
- ``grain_decoder``: ``[B, g, latent + classes]`` ([z_i, one-hot class]) -> Linear ``hidden``
  -> LayerNorm -> LeakyReLU -> ``blocks`` x Residual(Linear ``hidden``, LayerNorm, LeakyReLU) -> Linear
  1025 -> Softplus: the filter magnitudes H_i >= 0 of every grain.
- ``sequence_encoder``: ``[B, g, latent + classes]`` -> Linear ``seq_hidden`` -> LeakyReLU ->
  GRU ``seq_hidden``; ``embedding``: its last step -> Linear 2 ``embedding`` = (mu, log-var).
- ``sequence_decoder``: ``[B, g, embedding + classes]`` ([e, one-hot class] at every step,
  never its own output) -> GRU ``seq_hidden`` -> Linear ``latent``: the grain latents z^_i.

Synthesis (docs/grains.md "Synthesis"): grain i = irfft(H_i * rfft(n_i)), n_i ~ U[-1, 1)
of 2048 samples; times the window a_i (periodic Hann; the first grain's first half and the
last grain's second half flat at 1, which keeps the attack at sample 0); overlap-added at
hop 512 and divided by W[m] = sum_i a_i[m - 512 i] (2 inside, >= 1 at the edges); then
(``post_processing``) a causal FIR, the sum of ``pp_channels`` parallel ``pp_taps``-tap
FIR filters mixed by a 1x1 convolution, which is one FIR filter (``PostFilter.taps``).
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import Flatten, Log1p, Residual, SequenceGraph
from .vq_timbre import xorshift32

SAMPLE_RATE = 22050
GRAIN = 2048
HOP = 512
OVERLAP = GRAIN // HOP          # 4 grains cover every sample inside
BINS = GRAIN // 2 + 1           # 1025 filter magnitudes
GRAINS = 65                     # grains per one-shot
SAMPLES = (GRAINS - 1) * HOP + GRAIN  # 34816 samples, 1.58 s
NOISE_SEED = 0x6A09E667         # parity renders: xorshift32 from this seed, 2048 per grain
SLOPE = 0.2                     # LeakyReLU slope everywhere
# Pitched models (the note corpus): c = [one-hot instrument, pitch code], the pitch code
# exp(-((p - m_k) / PITCH_WIDTH)^2 / 2) over MIDI centres m_k every 3 semitones from A0 to
# C8 (30 values). Radial bumps rather than one number: the decoders must map a pitch to
# harmonics at its multiples, a very non-linear function of p, and bumps give them a local
# code to interpolate between (docs/grains.md "Pitched models").
PITCH_CENTRES = tuple(float(m) for m in range(21, 109, 3))
PITCH_WIDTH = 3.0


def pitch_code(pitch, centres: Sequence[float] = PITCH_CENTRES,
               width: float = PITCH_WIDTH) -> np.ndarray:
    """MIDI pitch(es) [...] -> float32 [..., len(centres)] radial bumps (module constants)."""
    p = np.asarray(pitch, np.float64)[..., None]
    m = np.asarray(centres, np.float64)
    return np.exp(-0.5 * ((p - m) / float(width)) ** 2).astype(np.float32)


def samples_for(grains: int) -> int:
    """Length of the overlap-add of ``grains`` grains: (g - 1) 512 + 2048."""
    return (int(grains) - 1) * HOP + GRAIN


def grains_for(samples: int) -> int:
    """Grains g whose overlap-add covers ``samples``: the least g with (g-1) 512 + 2048 >= L."""
    return max(1, -(-(int(samples) - GRAIN) // HOP) + 1)


# --- windows and overlap-add ------------------------------------------------------------------

def hann(n: int = GRAIN, dtype=torch.float64, device=None) -> torch.Tensor:
    """Periodic Hann 0.5 - 0.5 cos(2 pi k / n), k = 0..n-1."""
    k = torch.arange(n, dtype=torch.float64, device=device)
    return (0.5 - 0.5 * torch.cos(2.0 * math.pi * k / n)).to(dtype)


def grain_windows(grains: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """a_i, [g, 2048]: periodic Hann, except a_0[k] = 1 for k < 1024 and a_{g-1}[k] = 1 for
    k >= 1024 (the Hann's peak value), so the one-shot's first and last samples are not faded."""
    w = hann(GRAIN, torch.float64, device).expand(int(grains), GRAIN).clone()
    w[0, :GRAIN // 2] = 1.0
    w[-1, GRAIN // 2:] = 1.0
    return w.to(dtype)


def overlap_add(frames: torch.Tensor) -> torch.Tensor:
    """[B, g, 2048] -> [B, (g - 1) 512 + 2048]: out[m] = sum_i frames[i, m - 512 i]."""
    B, g, n = frames.shape
    if n != GRAIN:
        raise ValueError(f"grains must be {GRAIN} samples, got {n}")
    blocks = frames.reshape(B, g, OVERLAP, HOP)
    out = frames.new_zeros(B, g + OVERLAP - 1, HOP)
    for j in range(OVERLAP):
        out[:, j:j + g] = out[:, j:j + g] + blocks[:, :, j]
    return out.reshape(B, (g + OVERLAP - 1) * HOP)


def ola_norm(grains: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """W[m] = sum_i a_i[m - 512 i], [(g - 1) 512 + 2048]; exactly 2 where four Hann grains
    overlap, between 1 and 2 near the ends (never below 1)."""
    w = grain_windows(grains, torch.float64, device)
    return overlap_add(w.unsqueeze(0))[0].to(dtype)


def slice_grains(x: torch.Tensor, grains: Optional[int] = None) -> torch.Tensor:
    """[B, L] -> [B, g, 2048], grain i = x[512 i : 512 i + 2048] (zeros past the end)."""
    g = grains_for(x.shape[-1]) if grains is None else int(grains)
    need = samples_for(g)
    if x.shape[-1] < need:
        x = F.pad(x, (0, need - x.shape[-1]))
    return x[..., :need].unfold(-1, GRAIN, HOP)


def analysis_grains(x: torch.Tensor, grains: Optional[int] = None) -> torch.Tensor:
    """The encoder's input: a_i * grain i, [B, g, 2048]."""
    s = slice_grains(x, grains)
    return s * grain_windows(s.shape[1], s.dtype, s.device)


def filter_noise(H: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """irfft(H * rfft(n), 2048) per grain: H [B, g, 1025] real >= 0, noise [B, g, 2048] ->
    [B, g, 2048] (numpy's normalisation: irfft divides by 2048). H = 1 gives n back."""
    spectrum = torch.fft.rfft(noise, dim=-1) * H.to(noise.dtype)
    return torch.fft.irfft(spectrum, n=GRAIN, dim=-1)


def noise_like(H: torch.Tensor, dtype=None) -> torch.Tensor:
    """Training noise: torch.rand in [-1, 1), one 2048-sample vector per grain."""
    return torch.rand(H.shape[0], H.shape[1], GRAIN, device=H.device,
                      dtype=dtype or H.dtype) * 2.0 - 1.0


def parity_noise(batch: int, grains: int, seed: int = NOISE_SEED) -> torch.Tensor:
    """The contract's noise: one xorshift32 stream from ``seed`` per item, 2048 values per
    grain in grain order, float64 [B, g, 2048] (every item gets the same stream)."""
    n = torch.from_numpy(xorshift32(grains * GRAIN, seed).astype(np.float64)).reshape(grains, GRAIN)
    return n.expand(batch, grains, GRAIN).clone()


class PostFilter(nn.Module):
    """The "+pp" post-processing: ``channels`` parallel causal FIR filters of ``taps`` taps
    (a Conv1d 1 -> C) summed by a 1x1 convolution (C -> 1, no bias). Both are linear and
    time-invariant, so the module is exactly one causal FIR filter,
    h[k] = sum_c mix[c] taps[c, k], y[m] = sum_k h[k] x[m - k] (x = 0 before 0); ``taps()``
    gives h, which is what the metadata stores and the core runs. It starts as the identity
    (h = delta plus 1e-3 noise that lets the channels differ)."""

    def __init__(self, channels: int = 4, taps: int = 64):
        super().__init__()
        self.channels, self.n_taps = int(channels), int(taps)
        init = torch.randn(self.channels, self.n_taps) * 1e-3
        init[:, 0] += 1.0
        self.fir = nn.Parameter(init)                       # [C, K]
        self.mix = nn.Parameter(torch.full((self.channels,), 1.0 / self.channels))

    def taps(self) -> torch.Tensor:
        return (self.mix.unsqueeze(1) * self.fir).sum(0)     # [K]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L] -> [B, L]."""
        h = self.taps().to(x.dtype)
        y = F.conv1d(F.pad(x, (self.n_taps - 1, 0)).unsqueeze(1), h.flip(0).view(1, 1, -1))
        return y.squeeze(1)

    def multichannel(self, x: torch.Tensor) -> torch.Tensor:
        """The same output computed as the thesis draws it (C filters, then the 1x1 mix)."""
        w = self.fir.flip(1).unsqueeze(1).to(x.dtype)        # [C, 1, K]
        y = F.conv1d(F.pad(x, (self.n_taps - 1, 0)).unsqueeze(1), w)
        return (self.mix.view(1, -1, 1).to(x.dtype) * y).sum(1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, taps={self.n_taps}"


def synthesize(H: torch.Tensor, noise: Optional[torch.Tensor] = None,
               post: Optional[PostFilter] = None) -> torch.Tensor:
    """Filter magnitudes [B, g, 1025] -> audio [B, (g - 1) 512 + 2048]: noise filtering,
    windows a_i, overlap-add / W, then the post-filter if given. ``noise`` [B, g, 2048]
    (None: torch.rand) sets the dtype of the computation."""
    if noise is None:
        noise = noise_like(H)
    g = H.shape[1]
    grains = filter_noise(H, noise) * grain_windows(g, noise.dtype, noise.device)
    y = overlap_add(grains) / ola_norm(g, noise.dtype, noise.device)
    return post(y) if post is not None else y


# --- the model ----------------------------------------------------------------------------------

def _encoder(latent: int, channels: Tuple[int, int], dense: int) -> SequenceGraph:
    c1, c2 = channels
    frames = GRAIN // 16 // 4 // 4  # 8
    return SequenceGraph(
        nn.Conv1d(1, c1, 32, stride=16, padding=8), nn.ReLU(), Log1p(),
        Residual(nn.Linear(c1, c1), nn.LeakyReLU(SLOPE), nn.Linear(c1, c1)),
        nn.Conv1d(c1, c2, 8, stride=4, padding=2), nn.LeakyReLU(SLOPE),
        Residual(nn.Linear(c2, c2), nn.LeakyReLU(SLOPE), nn.Linear(c2, c2)),
        nn.Conv1d(c2, c2, 8, stride=4, padding=2), nn.LeakyReLU(SLOPE),
        Flatten(frames), nn.Linear(frames * c2, dense), nn.LeakyReLU(SLOPE),
        nn.Linear(dense, 2 * latent))


def _decoder(inputs: int, hidden: int, blocks: int) -> SequenceGraph:
    # LayerNorm after the input layer: the output's scale must not follow |z| (unbounded
    # before the KL weight rises; without it the softplus pre-activations ran to -100 and
    # every grain fell silent, where the floored log loss has no gradient).
    layers: List[nn.Module] = [nn.Linear(inputs, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(SLOPE)]
    for _ in range(blocks):
        layers.append(Residual(nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(SLOPE)))
    layers += [nn.Linear(hidden, BINS), nn.Softplus()]
    return SequenceGraph(*layers)


class NeuralGranular(nn.Module):
    """The two-level VAE: graphs (module doc), the post-filter and the offline synthesis."""

    family = "grains"
    graph_names = ("grain_encoder", "grain_decoder", "sequence_encoder", "embedding",
                   "sequence_decoder")
    decoder_graphs = ("grain_decoder", "sequence_decoder")  # what the core runs per hop

    def __init__(self, classes: int, latent: int = 64, embedding: int = 128,
                 encoder_channels: Sequence[int] = (32, 64), encoder_dense: int = 256,
                 hidden: int = 256, blocks: int = 2, seq_hidden: int = 256,
                 post_processing: bool = True, pp_channels: int = 4, pp_taps: int = 64,
                 grains: int = GRAINS, initial_level: float = 0.05,
                 encoder_input_gain: float = 1000.0,
                 pitch_centres: Optional[Sequence[float]] = None, pitch_width: float = PITCH_WIDTH):
        super().__init__()
        self.classes, self.latent, self.embedding = int(classes), int(latent), int(embedding)
        # c = [one-hot class (classes), pitch code (len(pitch_centres))]
        self.pitch_centres = tuple(float(m) for m in (pitch_centres or ()))
        self.pitch_width = float(pitch_width)
        self.conditions = self.classes + len(self.pitch_centres)
        self.encoder_channels = (int(encoder_channels[0]), int(encoder_channels[1]))
        self.encoder_dense, self.hidden, self.blocks = int(encoder_dense), int(hidden), int(blocks)
        self.seq_hidden, self.grains = int(seq_hidden), int(grains)
        self.post_processing = bool(post_processing)
        self.pp_channels, self.pp_taps = int(pp_channels), int(pp_taps)
        self.grain_encoder = _encoder(self.latent, self.encoder_channels, self.encoder_dense)
        self.grain_decoder = _decoder(self.latent + self.conditions, self.hidden, self.blocks)
        self.sequence_encoder = SequenceGraph(
            nn.Linear(self.latent + self.conditions, self.seq_hidden), nn.LeakyReLU(SLOPE),
            nn.GRU(self.seq_hidden, self.seq_hidden, batch_first=True))
        self.embedding_head = SequenceGraph(nn.Linear(self.seq_hidden, 2 * self.embedding))
        self.sequence_decoder = SequenceGraph(
            nn.GRU(self.embedding + self.conditions, self.seq_hidden, batch_first=True),
            nn.Linear(self.seq_hidden, self.latent))
        self.post_filter = PostFilter(self.pp_channels, self.pp_taps) if self.post_processing else None
        # The encoder's grains are multiplied by this before the first convolution, which
        # feeds log1p: grains at -60 dBFS then already sit in its logarithmic range
        # (log1p(1000 x) ~ log x + 6.9 for x >> 1e-3). A constant in front of a linear layer:
        # the exporter folds it into grain_encoder.0.weight (docs/grains.md).
        self.encoder_input_gain = float(encoder_input_gain)
        with torch.no_grad():
            self.grain_encoder[0].bias.zero_()
            # Posteriors start narrow (sigma e^-3): with the default log-variance ~0 the
            # sampling noise (sigma 1) swamped the means (~0.5), the decoder learned to ignore
            # z, and the output fell to the silence that is the best grain-independent guess.
            self.grain_encoder[-1].bias[self.latent:].fill_(-6.0)
            self.embedding_head[-1].bias[self.embedding:].fill_(-6.0)
            # Start quiet: softplus(b) = initial_level, i.e. white noise at ~-30 dBFS.
            self.grain_decoder[-2].bias.fill_(math.log(math.expm1(initial_level)))
            self.grain_decoder[-2].weight.mul_(0.1)

    # the exported graphs ("embedding" is the attribute embedding_head: `embedding` is a size)
    def graphs(self) -> Dict[str, SequenceGraph]:
        return {"grain_encoder": self.grain_encoder, "grain_decoder": self.grain_decoder,
                "sequence_encoder": self.sequence_encoder, "embedding": self.embedding_head,
                "sequence_decoder": self.sequence_decoder}

    def config(self) -> Dict:
        return {"classes": self.classes, "latent": self.latent, "embedding": self.embedding,
                "encoder_channels": list(self.encoder_channels), "encoder_dense": self.encoder_dense,
                "hidden": self.hidden, "blocks": self.blocks, "seq_hidden": self.seq_hidden,
                "post_processing": self.post_processing, "pp_channels": self.pp_channels,
                "pp_taps": self.pp_taps, "grains": self.grains,
                "encoder_input_gain": self.encoder_input_gain,
                **({"pitch_centres": list(self.pitch_centres), "pitch_width": self.pitch_width}
                   if self.pitch_centres else {})}

    @property
    def pitched(self) -> bool:
        return bool(self.pitch_centres)

    def condition(self, labels, pitches=None) -> np.ndarray:
        """Class indices [B] (and MIDI pitches [B], pitched models) -> c float32 [B, conditions]."""
        labels = np.asarray(labels, np.int64).reshape(-1)
        c = np.zeros((len(labels), self.conditions), np.float32)
        c[np.arange(len(labels)), labels] = 1.0
        if self.pitched:
            if pitches is None:
                raise ValueError("this model is conditioned on pitch: give pitches")
            c[:, self.classes:] = pitch_code(np.asarray(pitches, np.float64).reshape(-1),
                                             self.pitch_centres, self.pitch_width)
        return c

    @classmethod
    def from_config(cls, cfg: Dict) -> "NeuralGranular":
        return cls(**{k: v for k, v in cfg.items()})

    def one_hot(self, labels: Optional[torch.Tensor], batch: int, device) -> torch.Tensor:
        """[B] class indices (or a [B, conditions] float tensor: a mix, or a pitched model's
        ``condition()``) -> [B, conditions]."""
        if self.conditions == 0:
            return torch.zeros(batch, 0, device=device)
        if labels is None:
            raise ValueError(f"this model is conditioned on {self.conditions} values: give labels")
        if labels.dim() == 2:
            if labels.shape[1] != self.conditions:
                raise ValueError(f"conditioning of {labels.shape[1]} values; the model takes "
                                 f"{self.conditions}")
            return labels.float().to(device)
        if self.pitched:
            raise ValueError("a pitched model needs condition(labels, pitches), not class indices")
        return F.one_hot(labels.long().to(device), self.classes).float()

    # -- bottom level --

    def encode_grains(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Audio [B, L] -> (mu, logvar) [B, g, latent], g = ``self.grains``."""
        frames = analysis_grains(x, self.grains)
        B, g, _ = frames.shape
        frames = frames * self.encoder_input_gain
        out = self.grain_encoder(frames.reshape(B * g, GRAIN, 1)).reshape(B, g, 2 * self.latent)
        mu, logvar = out.chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)

    def filters(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """z [B, g, latent], cond [B, classes] -> H [B, g, 1025]."""
        c = cond.to(z.dtype).unsqueeze(1).expand(z.shape[0], z.shape[1], cond.shape[-1])
        return self.grain_decoder(torch.cat([z, c], -1))

    def decode_grains(self, z: torch.Tensor, cond: torch.Tensor,
                      noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """z [B, g, latent] -> audio [B, (g - 1) 512 + 2048] (post-filter included)."""
        return synthesize(self.filters(z, cond), noise, self.post_filter)

    # -- top level --

    def encode_sequence(self, z: torch.Tensor, cond: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """z [B, g, latent] -> (mu_e, logvar_e) [B, embedding]."""
        c = cond.to(z.dtype).unsqueeze(1).expand(z.shape[0], z.shape[1], cond.shape[-1])
        h = self.sequence_encoder(torch.cat([z, c], -1))
        mu, logvar = self.embedding_head(h[:, -1:]).squeeze(1).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode_sequence(self, e: torch.Tensor, cond: torch.Tensor,
                        grains: Optional[int] = None) -> torch.Tensor:
        """e [B, embedding] -> z^ [B, g, latent]: the GRU reads [e, class] at every step."""
        g = self.grains if grains is None else int(grains)
        inp = torch.cat([e, cond.to(e.dtype)], -1).unsqueeze(1).expand(e.shape[0], g, -1)
        return self.sequence_decoder(inp)

    # -- both --

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None, joint: bool = True,
                sample: Optional[bool] = None, noise: Optional[torch.Tensor] = None,
                bottom: bool = True) -> Dict[str, torch.Tensor]:
        """x [B, L >= 34816 is cut, shorter is zero-padded] -> reconstructions and posteriors.

        ``bottom``: ``out_grains`` from the grain latents z (the grain VAE alone);
        ``joint``: also the sequence level, e -> z^ -> ``out_sequence``. ``sample``: draw z and
        e from the posteriors (default: in training mode) rather than use their means.
        """
        sample = self.training if sample is None else sample
        x = x[:, :samples_for(self.grains)]
        cond = self.one_hot(labels, x.shape[0], x.device)
        mu, logvar = self.encode_grains(x)
        z = self.sample(mu, logvar) if sample else mu
        r: Dict[str, torch.Tensor] = {"mu": mu, "logvar": logvar, "z": z}
        if bottom:
            r["out_grains"] = self.decode_grains(z, cond, noise)
        if joint:
            mu_e, logvar_e = self.encode_sequence(z, cond)
            e = self.sample(mu_e, logvar_e) if sample else mu_e
            z_hat = self.decode_sequence(e, cond, z.shape[1])
            r.update(mu_e=mu_e, logvar_e=logvar_e, e=e, z_hat=z_hat,
                     out_sequence=self.decode_grains(z_hat, cond, noise))
        return r

    # -- offline renders (float64 synthesis, xorshift32 noise) --

    @torch.no_grad()
    def render(self, x: np.ndarray, label: Optional[int] = None, path: str = "grains",
               seed: int = NOISE_SEED, pitch: Optional[float] = None) -> np.ndarray:
        """Resynthesis of one one-shot through the posterior means: ``path`` "grains" (z = mu)
        or "sequence" (e = mu_e -> z^). float32 [34816]."""
        was = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            xt = torch.as_tensor(np.asarray(x, np.float32))[None, :samples_for(self.grains)].to(dev)
            cond = self._cond_of(label, pitch, dev)
            mu, _ = self.encode_grains(F.pad(xt, (0, max(0, samples_for(self.grains) - xt.shape[1]))))
            z = mu
            if path == "sequence":
                mu_e, _ = self.encode_sequence(mu, cond)
                z = self.decode_sequence(mu_e, cond)
            elif path != "grains":
                raise ValueError("path must be 'grains' or 'sequence'")
            noise = parity_noise(1, z.shape[1], seed).to(dev)
            return self.decode_grains(z, cond, noise)[0].float().cpu().numpy()
        finally:
            self.train(was)

    @torch.no_grad()
    def generate(self, label: Optional[int] = None, e: Optional[np.ndarray] = None,
                 seed: int = NOISE_SEED, grains: Optional[int] = None,
                 pitch: Optional[float] = None) -> np.ndarray:
        """A one-shot from the embedding ``e`` (default: a draw from N(0, I) seeded by
        ``seed``) and a class: float32 [(g - 1) 512 + 2048]."""
        was = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            if e is None:
                e = np.random.default_rng(seed).standard_normal(self.embedding)
            et = torch.as_tensor(np.asarray(e, np.float32)).reshape(1, -1).to(dev)
            cond = self._cond_of(label, pitch, dev)
            z = self.decode_sequence(et, cond, grains)
            noise = parity_noise(1, z.shape[1], seed).to(dev)
            return self.decode_grains(z, cond, noise)[0].float().cpu().numpy()
        finally:
            self.train(was)

    def _cond_of(self, label: Optional[int], pitch: Optional[float], dev) -> torch.Tensor:
        if self.pitched and label is not None:
            return torch.from_numpy(self.condition([int(label)], [pitch])).to(dev)
        labels = None if label is None else torch.tensor([int(label)], device=dev)
        return self.one_hot(labels, 1, dev)

    # -- what the core needs besides the graphs --

    def metadata(self, class_names: Sequence[str], training: Optional[Dict] = None) -> Dict:
        """The synthesis constants (docs/grains.md "Metadata"); ``post_filter`` holds the
        collapsed FIR taps h[0..K-1] (empty without post-processing)."""
        if len(class_names) != self.classes:
            raise ValueError(f"{len(class_names)} class names for a model of {self.classes} classes")
        taps = [] if self.post_filter is None else \
            [float(v) for v in self.post_filter.taps().detach().double().cpu()]
        return {"sample_rate": SAMPLE_RATE, "grain": GRAIN, "hop": HOP, "bins": BINS,
                "grains": self.grains, "samples": samples_for(self.grains),
                "latent": self.latent, "embedding": self.embedding, "classes": list(class_names),
                "encoder_input_gain": self.encoder_input_gain,
                "conditioning": "one_hot_after_input",
                **({"pitch_conditioning": {"code": "gaussian_bumps",
                                           "centres": list(self.pitch_centres),
                                           "width": self.pitch_width}} if self.pitched else {}),
                "window": "hann_periodic_flat_ends", "ola_normalisation": "window_sum",
                "filter": "softplus_magnitude_zero_phase",
                "noise": {"distribution": "uniform", "low": -1.0, "high": 1.0,
                          "generator": "xorshift32", "seed": NOISE_SEED},
                "post_processing": self.post_processing, "post_filter": taps,
                "training": dict(training or {})}


# --- cost -----------------------------------------------------------------------------------------

def _graph_macs(graph: Sequence[nn.Module], frames: int) -> int:
    """Multiply-adds of one run of a graph over ``frames`` input frames (per frame for
    frame-wise graphs with frames=1); convolutions count their output frames."""
    total = 0
    t = frames
    for m in graph:
        if isinstance(m, Residual):
            total += _graph_macs(list(m.body), t)
        elif isinstance(m, nn.Linear):
            total += t * m.in_features * m.out_features
        elif isinstance(m, nn.Conv1d):
            t = (t + 2 * m.padding[0] - m.dilation[0] * (m.kernel_size[0] - 1) - 1) // m.stride[0] + 1
            total += t * m.in_channels * m.out_channels * m.kernel_size[0]
        elif isinstance(m, nn.GRU):
            total += t * 3 * m.hidden_size * (m.input_size + m.hidden_size)
        elif isinstance(m, Flatten):
            t = 1
    return total


def costs(model: NeuralGranular) -> Dict[str, int]:
    """Multiply-adds per grain hop of what the core runs (grain decoder, one sequence-decoder
    GRU step + linear, the post-filter per 512 samples) and, for training, of the encoder."""
    pp = model.pp_taps * HOP if model.post_processing else 0
    return {"grain_decoder": _graph_macs(model.grain_decoder, 1),
            "sequence_decoder_step": _graph_macs(model.sequence_decoder, 1),
            "post_filter_per_hop": pp,
            "grain_encoder": _graph_macs(model.grain_encoder, GRAIN),
            "sequence_encoder_step": _graph_macs(model.sequence_encoder, 1),
            "parameters": sum(p.numel() for p in model.parameters())}
