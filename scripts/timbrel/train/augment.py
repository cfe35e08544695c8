"""Room and microphone augmentation of waveforms, for every trainer (torch, batched; numpy wrapper).

A soundfont render is dry, close and clean; a visitor's instrument or voice reaches the
model through a room and a microphone. Each item of a batch gets, in this order:

0. optionally (off by default: the player, not the room) a performance variation: a
   pitch shift of up to +-`shift_cents` (a slightly larger or smaller instrument: its
   resonances move with the pitch), a vibrato (`vibrato_hz`, up to `vibrato_cents`) and
   a tremolo (`tremolo_hz`, up to `tremolo_db` peak to peak), by a time warp read with
   4-point cubic interpolation, anchored at the item's end;

1. a synthetic room response (probability `p_room`): a direct path (1 at lag 0) plus an
   exponentially decaying Gaussian-noise tail after a 1-5 ms pre-delay, decaying by
   60 dB over RT60 (0.1-0.6 s, uniform), scaled so the direct-to-reverberant energy
   ratio is 0-15 dB (uniform); the response is cut where it has decayed by 60 dB;
2. an EQ tilt (probability `p_tilt`): gain 10^(s log10(f / 1 kHz) / 20) with a slope s of
   -6..+6 dB per decade (uniform), flat below 50 Hz (a microphone's and a room's
   colouration: a brighter or duller capture, as a first-order approximation);
3. a noise floor (probability `p_noise`): white Gaussian noise at -60..-35 dB relative to
   the item's rms (uniform in dB), i.e. an SNR of 35-60 dB, as a quiet room and preamp;
4. a gain of -12..+6 dB (uniform), then, if the peak exceeds 0.99, scaled down to 0.99
   (a recording is never clipped on purpose).

All draws come from a torch.Generator (or numpy Generator for `augment_np`), so a seed
gives the same batch on every run. `augment(x, gen)` takes [B, N] (or [N]) float audio at
22050 Hz and returns the same shape; the room tail of an item is cut at its length (give
the item enough leading context if the tail of earlier sound matters: `context_for`,
and `keep` to get only the part after it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

SAMPLE_RATE = 22050


@dataclass(frozen=True)
class AugmentConfig:
    p_shift: float = 0.0
    shift_cents: float = 100.0
    p_vibrato: float = 0.0
    vibrato_hz: tuple = (4.0, 7.5)
    vibrato_cents: tuple = (5.0, 35.0)
    p_tremolo: float = 0.0
    tremolo_hz: tuple = (3.0, 9.0)
    tremolo_db: tuple = (1.0, 6.0)
    p_room: float = 0.7
    rt60: tuple = (0.1, 0.6)            # seconds
    drr_db: tuple = (0.0, 15.0)         # direct-to-reverberant energy ratio
    predelay_s: tuple = (0.001, 0.005)
    p_tilt: float = 0.7
    tilt_db_per_decade: tuple = (-6.0, 6.0)
    tilt_ref_hz: float = 1000.0
    tilt_flat_below_hz: float = 50.0
    p_noise: float = 0.5
    noise_db: tuple = (-60.0, -35.0)    # relative to the item's rms
    gain_db: tuple = (-12.0, 6.0)
    peak: float = 0.99

    def describe(self) -> str:
        perf = ""
        if self.p_shift or self.p_vibrato or self.p_tremolo:
            perf = (f"pitch shift (p {self.p_shift}: up to +-{self.shift_cents:.0f} cents), vibrato "
                    f"(p {self.p_vibrato}: {self.vibrato_hz[0]}-{self.vibrato_hz[1]} Hz, "
                    f"{self.vibrato_cents[0]:.0f}-{self.vibrato_cents[1]:.0f} cents), tremolo "
                    f"(p {self.p_tremolo}: {self.tremolo_hz[0]}-{self.tremolo_hz[1]} Hz, "
                    f"{self.tremolo_db[0]:.0f}-{self.tremolo_db[1]:.0f} dB), then ")
        return perf + (f"room response (p {self.p_room}: noise RIR, RT60 {self.rt60[0]}-{self.rt60[1]} s, "
                f"DRR {self.drr_db[0]:.0f}-{self.drr_db[1]:.0f} dB), EQ tilt (p {self.p_tilt}: "
                f"{self.tilt_db_per_decade[0]:+.0f}..{self.tilt_db_per_decade[1]:+.0f} dB/decade), "
                f"noise floor (p {self.p_noise}: {self.noise_db[0]:.0f}..{self.noise_db[1]:.0f} dB "
                f"re rms), gain {self.gain_db[0]:+.0f}..{self.gain_db[1]:+.0f} dB")

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT = AugmentConfig()
# the room and microphone plus the player's variations (what the reference classifier uses)
PERFORMANCE = AugmentConfig(p_shift=0.3, p_vibrato=0.3, p_tremolo=0.3)


def context_for(cfg: AugmentConfig = DEFAULT, sample_rate: int = SAMPLE_RATE) -> int:
    """Samples of past audio an excerpt needs for the longest room tail to be complete."""
    return int(math.ceil(cfg.rt60[1] * sample_rate))


def _cubic_read(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """x[b, pos[b, n]] by 4-point (Catmull-Rom) interpolation; zero outside x."""
    B, N = x.shape
    xp = torch.nn.functional.pad(x, (2, 3))
    i = torch.floor(pos)
    t = (pos - i).to(x.dtype)
    i = i.long() + 2
    ok = (pos >= 0) & (pos <= N - 1)
    i = i.clamp(1, N + 2)
    p0, p1 = torch.gather(xp, 1, i - 1), torch.gather(xp, 1, i)
    p2, p3 = torch.gather(xp, 1, i + 1), torch.gather(xp, 1, i + 2)
    y = p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)))
    return torch.where(ok, y, torch.zeros_like(y))


def performance_variation(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig,
                          sample_rate: int = SAMPLE_RATE):
    """Pitch shift, vibrato and tremolo of [B, N] audio; returns (audio, parameters)."""
    B, N = x.shape
    f64 = torch.float64
    use_shift = torch.rand((B, 1), generator=gen, dtype=f64) < cfg.p_shift
    shift = _uniform(gen, (B, 1), -cfg.shift_cents, cfg.shift_cents) * use_shift
    use_vib = torch.rand((B, 1), generator=gen, dtype=f64) < cfg.p_vibrato
    vib_hz = _uniform(gen, (B, 1), *cfg.vibrato_hz)
    vib_c = _uniform(gen, (B, 1), *cfg.vibrato_cents) * use_vib
    use_trem = torch.rand((B, 1), generator=gen, dtype=f64) < cfg.p_tremolo
    trem_hz = _uniform(gen, (B, 1), *cfg.tremolo_hz)
    trem_db = _uniform(gen, (B, 1), *cfg.tremolo_db) * use_trem
    phase = _uniform(gen, (B, 2), 0.0, 2 * math.pi)
    params = dict(shift_cents=shift[:, 0], vibrato_cents=vib_c[:, 0], tremolo_db=trem_db[:, 0])
    y = x
    t = torch.arange(N, dtype=torch.float32)[None, :] / sample_rate
    warp = torch.nonzero((use_shift | use_vib)[:, 0]).flatten()          # only the rows that use it
    if len(warp):
        cents = (shift[warp] + vib_c[warp] * torch.sin(2 * math.pi * vib_hz[warp] * t.double()
                                                        + phase[warp, :1])).float()
        rate = torch.exp2(cents / 1200.0).double()         # input samples read per output sample
        # read positions anchored at the end: pos[N-1] = N-1, steps of `rate` backwards
        steps = torch.flip(torch.cumsum(torch.flip(rate[:, 1:], [1]), 1), [1])
        pos = torch.cat([(N - 1) - steps, torch.full((len(warp), 1), float(N - 1), dtype=f64)], 1)
        y = y.clone()
        y[warp] = _cubic_read(x[warp], pos)
    trem = torch.nonzero(use_trem[:, 0]).flatten()
    if len(trem):
        g = 10.0 ** (0.5 * trem_db[trem].float() * torch.sin(2 * math.pi * trem_hz[trem].float() * t
                                                            + phase[trem, 1:].float()) / 20.0)
        y = y.clone() if y is x else y
        y[trem] = y[trem] * g.to(y.dtype)
    return y, params


def _uniform(gen, shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64)


def room_responses(gen: torch.Generator, batch: int, cfg: AugmentConfig = DEFAULT,
                   sample_rate: int = SAMPLE_RATE, rt60=None, drr_db=None) -> torch.Tensor:
    """[batch, L] impulse responses, L = longest RT60 in samples (shorter ones are zero-padded)."""
    rt60 = _uniform(gen, (batch, 1), *cfg.rt60) if rt60 is None else torch.as_tensor(rt60, dtype=torch.float64).reshape(-1, 1)
    drr = _uniform(gen, (batch, 1), *cfg.drr_db) if drr_db is None else torch.as_tensor(drr_db, dtype=torch.float64).reshape(-1, 1)
    pre = _uniform(gen, (batch, 1), *cfg.predelay_s)
    length = int(math.ceil(float(rt60.max()) * sample_rate)) + 1
    n = torch.arange(length, dtype=torch.float64)[None, :]
    t = n / sample_rate - pre                                        # time after the pre-delay
    env = torch.where(t >= 0, torch.exp(-3.0 * math.log(10.0) * t / rt60), torch.zeros_like(t))
    env = torch.where(t <= rt60, env, torch.zeros_like(env))         # cut at -60 dB
    tail = torch.randn((batch, length), generator=gen, dtype=torch.float64) * env
    energy = (tail ** 2).sum(dim=1, keepdim=True).clamp_min(1e-12)
    tail = tail * torch.sqrt(10.0 ** (-drr / 10.0) / energy)         # direct path energy is 1
    tail[:, 0] = 1.0
    return tail


def fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast FFT sizes; a prime size is ~10x slower)."""
    best = 1 << (n - 1).bit_length()
    f5 = 1
    while f5 < 2 * n:
        f35 = f5
        while f35 < 2 * n:
            m = f35
            while m < n:
                m *= 2
            best = min(best, m)
            f35 *= 3
        f5 *= 5
    return best


def tilt_response(slope_db_per_decade: torch.Tensor, n: int, cfg: AugmentConfig = DEFAULT,
                  sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """[B, n//2 + 1] linear gains of the EQ tilt on an n-point rfft grid."""
    f = torch.fft.rfftfreq(n, 1.0 / sample_rate).to(torch.float64).clamp_min(cfg.tilt_flat_below_hz)
    decades = torch.log10(f / cfg.tilt_ref_hz)[None, :]
    return 10.0 ** (slope_db_per_decade.reshape(-1, 1).to(torch.float64) * decades / 20.0)


def augment(x, gen: torch.Generator, cfg: AugmentConfig = DEFAULT,
            sample_rate: int = SAMPLE_RATE, keep: int | None = None, return_params: bool = False):
    """Room, EQ tilt, noise floor and gain on a batch of waveforms (see the module docstring).

    x: [B, N] or [N] float. keep: return only the last `keep` samples of each item (a
    trainer that needs a 4096-sample frame passes its frame plus the room's context as x
    and keep=4096): the room and the tilt then share one circular FFT just long enough
    that its wrap-around stays out of the kept samples. Computes in x's float precision
    (float32 audio stays float32: twice as fast)."""
    x = torch.as_tensor(x)
    squeeze = x.ndim == 1
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    xb = (x[None] if squeeze else x).to(dtype)
    B, N = xb.shape
    keep = N if keep is None else int(keep)
    xb, perf = performance_variation(xb, gen, cfg, sample_rate)
    use_room = torch.rand((B, 1), generator=gen, dtype=torch.float64) < cfg.p_room
    rt60 = _uniform(gen, (B, 1), *cfg.rt60)
    h = room_responses(gen, B, cfg, sample_rate, rt60=rt60)
    h = torch.where(use_room, h, torch.nn.functional.pad(torch.ones((B, 1), dtype=torch.float64),
                                                          (0, h.shape[1] - 1)))
    use_tilt = torch.rand((B, 1), generator=gen, dtype=torch.float64) < cfg.p_tilt
    slope = _uniform(gen, (B, 1), *cfg.tilt_db_per_decade)
    slope = torch.where(use_tilt, slope, torch.zeros_like(slope))
    # linear convolution of x (N) with h (L) wraps around a circular FFT of size n onto
    # outputs [0, N + L - 1 - n): those must lie before the kept samples [N - keep, N)
    L = h.shape[1]
    n = fft_size(max(N, N + L - 1 - (N - keep)))
    spec = torch.fft.rfft(xb, n) * torch.fft.rfft(h.to(dtype), n)
    spec = spec * tilt_response(slope, n, cfg, sample_rate).to(dtype)
    y = torch.fft.irfft(spec, n)[:, N - keep:N]
    use_noise = torch.rand((B, 1), generator=gen, dtype=torch.float64) < cfg.p_noise
    noise_db = _uniform(gen, (B, 1), *cfg.noise_db)
    rms = torch.sqrt((y.to(torch.float64) ** 2).mean(dim=1, keepdim=True)).clamp_min(1e-6)
    noise = torch.randn((B, keep), generator=gen, dtype=dtype) * (rms * 10.0 ** (noise_db / 20.0)).to(dtype)
    y = y + torch.where(use_noise, noise, torch.zeros_like(noise))
    gain_db = _uniform(gen, (B, 1), *cfg.gain_db)
    y = y * (10.0 ** (gain_db / 20.0)).to(dtype)
    peak = y.abs().amax(dim=1, keepdim=True).to(torch.float64)
    y = y * torch.where(peak > cfg.peak, cfg.peak / peak.clamp_min(1e-12), torch.ones_like(peak)).to(dtype)
    y = y[0] if squeeze else y
    if return_params:
        return y, dict(perf, room=use_room[:, 0], rt60=rt60[:, 0], tilt_db_per_decade=slope[:, 0],
                       noise=use_noise[:, 0], noise_db=noise_db[:, 0], gain_db=gain_db[:, 0])
    return y


def augment_np(x: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = DEFAULT,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """numpy front end: a torch.Generator seeded from `rng`, so numpy pipelines stay seeded."""
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2 ** 62)))
    y = augment(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), gen, cfg, sample_rate)
    return y.numpy()


def measured_rt60(h: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """RT60 from a response's Schroeder backward integral (-5..-25 dB fit, x3), in seconds."""
    e = np.cumsum((np.asarray(h, dtype=np.float64)[1:] ** 2)[::-1])[::-1]   # tail only
    db = 10 * np.log10(e / e[0] + 1e-30)
    idx = np.flatnonzero((db <= -5) & (db >= -25))
    slope = np.polyfit(idx / sample_rate, db[idx], 1)[0]                      # dB per second
    return float(-60.0 / slope)
