"""Multi-scale spectral loss (the paper's and DDSP's reconstruction loss).

For each FFT size n in (128, 256, 512, 1024, 2048): periodic Hann window, hop n / 4 (75 %
overlap), magnitudes S of the output and S^ of the target; loss term
mean |S - S^| + mean |log(S + eps) - log(S^ + eps)|, summed over sizes. The linear term
fits the loud partials, the log term the quiet ones and the noise floor.
"""

from __future__ import annotations

from typing import Dict, Sequence

import torch

SIZES = (128, 256, 512, 1024, 2048)
LOG_EPS = 1e-5


def spectral_loss(output: torch.Tensor, target: torch.Tensor, sizes: Sequence[int] = SIZES,
                  eps: float = LOG_EPS) -> Dict[str, torch.Tensor]:
    """output, target [B, L] -> {"loss", "linear", "log"} (scalars)."""
    lin = output.new_zeros(())
    log = output.new_zeros(())
    for n in sizes:
        w = torch.hann_window(n, periodic=True, device=output.device, dtype=output.dtype)
        S = torch.stft(output, n, n // 4, window=w, center=True, return_complex=True).abs()
        T = torch.stft(target, n, n // 4, window=w, center=True, return_complex=True).abs()
        lin = lin + (S - T).abs().mean()
        log = log + (torch.log(S + eps) - torch.log(T + eps)).abs().mean()
    return {"loss": lin + log, "linear": lin, "log": log}
