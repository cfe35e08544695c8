"""VQ timbre model (one per instrument) and its offline synthesiser: the PyTorch side of the
``vq_timbre`` synthesis contract in models/README.md.

The contract is implemented here literally, step by step, so that the core's streaming
engine (core/include/timbrel/models/vq_timbre.h) can be held to it by the golden files
in tests/golden/vq/ (written by ``timbrel.golden.vq``). Everything is vectorised over
batch and time (training runs the same code); the only sequential piece is the xorshift32
noise, used for parity renders only (training draws ``torch.rand`` noise).

Graphs (names and order fixed by the contract):

- ``encoder``: 513 log-magnitude features -> Linear ``encoder_hidden`` -> LeakyReLU(0.2)
  -> Linear ``encoder_hidden`` -> LeakyReLU(0.2) -> Linear ``latent`` (pointwise in time)
- ``quantizer``: one ``vq`` op over a ``codes`` x ``latent`` codebook (EMA 0.99,
  dead-code restarts, commitment 0.25); absent when ``quantized=False`` (the paper's
  baseline auto-encoder)
- ``decoder``: [code; c] (latent + 3) -> Linear ``hidden`` -> LeakyReLU(0.2) -> GRU ``hidden``
- ``harmonic`` / ``noise``: Linear ``hidden`` -> 257 -> Sigmoid (filter magnitudes)
- ``gain``: Linear ``hidden`` -> 1 -> Softplus
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import SequenceGraph, VectorQuantizer

SAMPLE_RATE = 22050
WINDOW = 1024           # analysis frame: features, YIN, loudness
HOP = 256
SYNTH_WINDOW = 512      # synthesis FFT size
BINS = WINDOW // 2 + 1  # 513 encoder features
FILTER_BINS = SYNTH_WINDOW // 2 + 1  # 257 filter magnitudes
MAX_HARMONICS = 200
NOISE_SEED = 0x9E3779B9
COND = 3                # conditioning: [log2(f / 440) or 0, voiced, loudness]
TWO_PI = 2.0 * math.pi


# --- framing, features, conditioning (contract steps 1 and 3) -------------------------------

def hop_count(length: int) -> int:
    """Hops T of an offline render of ``length`` samples: ceil(L / 256) + 1.

    Sample n is complete after hop floor(n / 256) + 1 (step 7), so the last sample
    L - 1 needs hop floor((L - 1) / 256) + 1 = ceil(L / 256) for L >= 1.
    """
    return (int(length) + HOP - 1) // HOP + 1


def analysis_frames(x: torch.Tensor, hops: int, context: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``x`` [B, L] -> frames [B, T, 1024], frame t = x[e - 1024 : e], e = (t + 1) * 256.

    Samples outside [0, L) are zero, unless ``context`` [B, 768] gives the 768 samples
    before x (training excerpts carry their real past).
    """
    need = hops * HOP
    if context is None:
        context = x.new_zeros(x.shape[0], WINDOW - HOP)
    padded = torch.cat([context, x[:, :need], x.new_zeros(x.shape[0], max(0, need - x.shape[1]))], 1)
    return padded.unfold(1, WINDOW, HOP)


def hann(n: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Periodic Hann 0.5 - 0.5 cos(2 pi i / n) (the contract's w1024 and w512)."""
    i = torch.arange(n, device=device, dtype=torch.float64)
    return (0.5 - 0.5 * torch.cos(TWO_PI * i / n)).to(dtype)


def features(frames: torch.Tensor) -> torch.Tensor:
    """log1p(|rfft(w1024 * a)|): [..., 1024] -> [..., 513]."""
    w = hann(WINDOW, frames.device, frames.dtype)
    return torch.log1p(torch.fft.rfft(frames * w, dim=-1).abs())


def loudness(frames: torch.Tensor) -> torch.Tensor:
    """20 log10(max(rms, 1e-5)) / 50 + 1: -100 dBFS -> -1, -50 -> 0, 0 dBFS -> 1."""
    rms = torch.sqrt(torch.mean(frames * frames, dim=-1))
    return 20.0 * torch.log10(rms.clamp_min(1e-5)) / 50.0 + 1.0


def pitch_track(x: np.ndarray, hops: Optional[int] = None) -> np.ndarray:
    """The contract's pitch tracker (timbrel.dsp_reference, held equal to the core's
    dsp::PitchTracker): YIN at the end of every analysis frame, leaps held one hop,
    voicing kept through dips of YIN's periodicity inside a run (dsp::PitchHold).
    float64 [T, 2] = (f0 Hz, voiced 0/1). Unvoiced hops keep YIN's f0 estimate (the
    contract ignores it)."""
    from timbrel import dsp_reference as ref
    x = np.asarray(x, dtype=np.float64)
    T = hop_count(len(x)) if hops is None else int(hops)
    padded = np.concatenate([np.zeros(WINDOW - HOP), x[:T * HOP], np.zeros(max(0, T * HOP - len(x)))])
    out = np.zeros((T, 2))
    hold = ref.PitchHold()
    for t in range(T):
        f0, confidence, voiced = ref.yin(padded[t * HOP:t * HOP + WINDOW], at_end=True)
        f0, voiced = hold.next(f0, voiced, confidence)
        out[t] = (f0, 1.0 if voiced else 0.0)
    return out


def _mode_mask(noise_mode, like: torch.Tensor) -> torch.Tensor:
    """noise_mode (bool or [B] bool tensor) -> [B, 1] bool."""
    if isinstance(noise_mode, torch.Tensor):
        return noise_mode.to(device=like.device, dtype=torch.bool).reshape(-1, 1)
    return torch.full((like.shape[0], 1), bool(noise_mode), device=like.device)


def conditioning(f0: torch.Tensor, voiced: torch.Tensor, loud: torch.Tensor, octaves=0,
                 noise_mode=False) -> torch.Tensor:
    """Step 3: c [B, T, 3]. Pitch-following: [voiced ? log2(f / 440) : 0, voiced, loud];
    noise mode (per batch item): [0, 0, loud]. f = f0 * 2^octaves."""
    v = (voiced > 0.5) & ~_mode_mask(noise_mode, f0)
    f = f0.double() * (2.0 ** octaves)
    pitch = torch.where(v, torch.log2(f.clamp_min(1e-9) / 440.0), torch.zeros_like(f))
    return torch.stack([pitch.to(loud.dtype), v.to(loud.dtype), loud], -1)


# --- excitation (step 5) -------------------------------------------------------------------
#
# Each synthesis frame gets its own harmonic excitation at its hop's newest pitch. Frame t
# covers [(t - 1) 256, (t + 1) 256); its phase at sample 128 of the frame (the centre of
# its overlap with frame t - 1) equals frame t - 1's phase there, so neighbouring frames
# cross-fade in phase. Before 2026-12-03 one continuous excitation ramped from F_{t-1} to
# F_t over [e - 256, e), and the half of it that hop t emits had been built a hop earlier
# from the previous pitch: the output's pitch trailed its input by 1.25 hops.

def _hold_last(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """values[last t' <= t with mask], 0 before the first one ([B, T])."""
    T = values.shape[1]
    idx = torch.arange(T, device=values.device).expand_as(values)
    last = torch.where(mask, idx, torch.full_like(idx, -1)).cummax(1).values
    held = torch.gather(values, 1, last.clamp_min(0))
    return torch.where(last >= 0, held, torch.zeros_like(held))


def hop_controls(f0: torch.Tensor, voiced: torch.Tensor, octaves=0, noise_mode=False
                 ) -> Dict[str, torch.Tensor]:
    """Per-frame excitation controls of step 5, float64 [B, T] each: F (frequency, last
    voiced f held, 0 before the first), A (1 on voiced frames in pitch mode, else 0),
    N (harmonic count), theta (phase at the frame's sample 128, in [0, 2 pi))."""
    f0 = f0.double()
    v = voiced > 0.5
    f = f0 * (2.0 ** octaves)
    Ft = _hold_last(f, v)
    A = v.double() * (~_mode_mask(noise_mode, f0)).double()
    N = torch.floor(SAMPLE_RATE / 2 / Ft.clamp_min(1e-300)).clamp(1, MAX_HARMONICS)
    N = torch.where(Ft > 0, N, torch.ones_like(N))
    advance = torch.remainder(TWO_PI * Ft * HOP / SAMPLE_RATE, TWO_PI)  # over one hop
    theta = torch.remainder(torch.cumsum(advance, 1) - advance, TWO_PI)  # exclusive: theta_0 = 0
    return {"F": Ft, "A": A, "N": N, "theta": theta}


def dirichlet(phi: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """sum_{k=1..N} cos(k phi) = sin((N + 1/2) phi) / (2 sin(phi / 2)) - 1/2; N where
    |sin(phi / 2)| < 1e-9 (phi in [0, 2 pi))."""
    s = torch.sin(0.5 * phi)
    small = s.abs() < 1e-9
    value = torch.sin((N + 0.5) * phi) / (2.0 * torch.where(small, torch.ones_like(s), s)) - 0.5
    return torch.where(small, N.to(value.dtype), value)


def harmonic_excitation(f0: torch.Tensor, voiced: torch.Tensor, octaves=0, noise_mode=False
                        ) -> torch.Tensor:
    """Step 5's harmonic excitation of the synthesis frames 0..T-1: float32 [B, T, 512].

    Frame t: A_t * D(phi_j, N_t), phi_j = theta_t + 2 pi F_t (j - 128) / 22050 wrapped to
    [0, 2 pi), j = 0..511 (float64).
    """
    c = hop_controls(f0, voiced, octaves, noise_mode)
    dev = c["F"].device
    j = torch.arange(SYNTH_WINDOW, device=dev, dtype=torch.float64) - (SYNTH_WINDOW - HOP) // 2
    phi = torch.remainder(c["theta"].unsqueeze(-1)
                          + (TWO_PI / SAMPLE_RATE) * c["F"].unsqueeze(-1) * j, TWO_PI)
    h = c["A"].unsqueeze(-1) * dirichlet(phi, c["N"].unsqueeze(-1))
    return h.float()


def xorshift32(count: int, seed: int = NOISE_SEED) -> np.ndarray:
    """The contract's noise: ``s ^= s << 13; s ^= s >> 17; s ^= s << 5`` (uint32), one step
    per sample, value (s >> 8) * 2^-23 - 1 in [-1, 1). float32 [count] (exact)."""
    s = int(seed) & 0xFFFFFFFF
    if s == 0:
        raise ValueError("xorshift32 needs a non-zero seed")
    out = np.empty(int(count), dtype=np.uint32)
    for n in range(int(count)):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        out[n] = s
    return ((out >> 8).astype(np.float64) * 2.0 ** -23 - 1.0).astype(np.float32)


# --- filtering and overlap-add (steps 6 and 7) ---------------------------------------------

def synthesis_frames(excitation: torch.Tensor) -> torch.Tensor:
    """[B, T * 256] -> [B, T, 512]: frame t = excitation[(t - 1) * 256 : (t + 1) * 256]
    (zero before n = 0)."""
    padded = F.pad(excitation, (SYNTH_WINDOW - HOP, 0))
    return padded.unfold(1, SYNTH_WINDOW, HOP)


def filter_frames(frames: torch.Tensor, magnitudes: torch.Tensor) -> torch.Tensor:
    """rfft(w512 * frame) * magnitudes (real, zero phase): frames [B, T, 512] -> [B, T, 257]
    complex."""
    w = hann(SYNTH_WINDOW, frames.device, frames.dtype)
    return torch.fft.rfft(frames * w, dim=-1) * magnitudes.to(frames.dtype)


def overlap_add(y: torch.Tensor) -> torch.Tensor:
    """Frames [B, T, 512] (frame t over [(t - 1) 256, (t + 1) 256)) -> out [B, T * 256]:
    block b = y[b, :256] + y[b - 1, 256:]... shifted so that out[n] is sample n."""
    B, T, _ = y.shape
    head, tail = y[..., :HOP], y[..., HOP:]
    # frame t's head covers [(t-1)256, t 256), its tail [t 256, (t+1) 256)
    blocks = F.pad(head[:, 1:], (0, 0, 0, 1)) + tail                  # block t = [t 256, (t+1) 256)
    return blocks.reshape(B, T * HOP)


def synthesize(harmonic: torch.Tensor, noise: torch.Tensor, Hh: torch.Tensor, Hn: torch.Tensor,
               gain: torch.Tensor) -> torch.Tensor:
    """Steps 6-7: Y = g (Hh Eh + Hn En), y = irfft(Y) (numpy normalisation), overlap-add.

    harmonic: the frames' excitation [B, T, 512] (``harmonic_excitation``); noise: one
    stream [B, T * 256], framed like the input; Hh, Hn: [B, T, 257]; gain [B, T, 1]
    -> [B, T * 256]. Computed in the noise's dtype (float64 for parity renders, float32 in
    training).
    """
    Y = filter_frames(harmonic.to(noise.dtype), Hh) + filter_frames(synthesis_frames(noise), Hn)
    Y = Y * gain.to(Y.real.dtype)
    return overlap_add(torch.fft.irfft(Y, n=SYNTH_WINDOW, dim=-1))


# --- the model -----------------------------------------------------------------------------

class VQTimbre(nn.Module):
    """The contract's graphs plus the offline renderer (``forward``)."""

    family = "vq_timbre"

    def __init__(self, bins: int = BINS, encoder_hidden: int = 256, latent: int = 64,
                 codes: int = 512, hidden: int = 256, filter_bins: int = FILTER_BINS,
                 quantized: bool = True, slope: float = 0.2, ema_decay: Optional[float] = 0.99,
                 commitment: float = 0.25, restart_after: Optional[int] = 100,
                 initial_gain: float = 0.1):
        super().__init__()
        self.bins, self.encoder_hidden, self.latent = bins, encoder_hidden, latent
        self.codes, self.hidden, self.filter_bins = codes, hidden, filter_bins
        self.quantized = bool(quantized)
        self.encoder = SequenceGraph(
            nn.Linear(bins, encoder_hidden), nn.LeakyReLU(slope),
            nn.Linear(encoder_hidden, encoder_hidden), nn.LeakyReLU(slope),
            nn.Linear(encoder_hidden, latent))
        if self.quantized:
            self.quantizer = SequenceGraph(VectorQuantizer(codes, latent, ema_decay=ema_decay,
                                                           commitment=commitment,
                                                           restart_after=restart_after))
        self.decoder = SequenceGraph(
            nn.Linear(latent + COND, hidden), nn.LeakyReLU(slope),
            nn.GRU(hidden, hidden, batch_first=True))
        self.harmonic = SequenceGraph(nn.Linear(hidden, filter_bins), nn.Sigmoid())
        self.noise = SequenceGraph(nn.Linear(hidden, filter_bins), nn.Sigmoid())
        self.gain = SequenceGraph(nn.Linear(hidden, 1), nn.Softplus())
        with torch.no_grad():  # start near a plausible output level (softplus^-1(g0))
            self.gain[0].bias.fill_(math.log(math.expm1(initial_gain)))

    @property
    def graph_names(self) -> Tuple[str, ...]:
        return (("encoder", "quantizer") if self.quantized else ("encoder",)) + \
            ("decoder", "harmonic", "noise", "gain")

    def graphs(self) -> Dict[str, SequenceGraph]:
        return {name: getattr(self, name) for name in self.graph_names}

    def config(self) -> Dict:
        return {"bins": self.bins, "encoder_hidden": self.encoder_hidden, "latent": self.latent,
                "codes": self.codes, "hidden": self.hidden, "filter_bins": self.filter_bins,
                "quantized": self.quantized}

    def metadata(self, instrument: str, f0_range_hz, training: Optional[Dict] = None) -> Dict:
        """The contract's metadata table (``codes`` is 0 for the unquantised baseline)."""
        return {"sample_rate": SAMPLE_RATE, "window": WINDOW, "hop": HOP,
                "synthesis_window": SYNTH_WINDOW, "codes": self.codes if self.quantized else 0,
                "latent": self.latent, "hidden": self.hidden, "instrument": instrument,
                "f0_range_hz": [float(f0_range_hz[0]), float(f0_range_hz[1])],
                "quantized": self.quantized, "training": dict(training or {})}

    @property
    def vq(self) -> Optional[VectorQuantizer]:
        return self.quantizer[0] if self.quantized else None

    # -- the network part (steps 2 and 4) --

    def encode(self, feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, 513] -> (z, q)."""
        z = self.encoder(feats)
        return z, (self.quantizer(z) if self.quantized else z)

    def decode(self, q: torch.Tensor, cond: torch.Tensor, state: Optional[torch.Tensor] = None):
        """[q; c] -> (Hh, Hn, g, GRU state)."""
        h, state = self.decoder(torch.cat([q, cond.to(q.dtype)], -1), state
                                if state is not None else q.new_zeros(1, q.shape[0], self.hidden))
        return self.harmonic(h), self.noise(h), self.gain(h), state

    # -- the whole contract, offline --

    def forward(self, x: torch.Tensor, f0: torch.Tensor, voiced: torch.Tensor, octaves: int = 0,
                noise_mode=False, noise: Optional[torch.Tensor] = None,
                context: Optional[torch.Tensor] = None, dsp_dtype=torch.float32
                ) -> Dict[str, torch.Tensor]:
        """Offline render of the contract, hops t = 0 .. T-1 with T = f0.shape[1].

        x [B, L] input (mono, 22050 Hz); f0, voiced [B, T] per hop (YIN on the input);
        noise [B, T * 256] excitation noise (None: torch.rand in [-1, 1)); context [B, 768]
        samples before x (None: zeros). ``out`` [B, T * 256]: sample n of the output at
        index n (the caller keeps [:L]). Also returns the intermediates and the VQ's
        commitment loss, indices, perplexity and usage.
        """
        T = f0.shape[1]
        frames = analysis_frames(x.to(dsp_dtype), T, None if context is None else context.to(dsp_dtype))
        feats = features(frames).float()
        loud = loudness(frames).float()
        z, q = self.encode(feats)
        cond = conditioning(f0, voiced, loud, octaves, noise_mode)
        Hh, Hn, g, _ = self.decode(q, cond)
        harm = harmonic_excitation(f0, voiced, octaves, noise_mode).to(dsp_dtype)
        if noise is None:
            noise = torch.rand(x.shape[0], T * HOP, device=x.device, dtype=dsp_dtype) * 2 - 1
        out = synthesize(harm, noise.to(dsp_dtype), Hh, Hn, g)
        vq = self.vq
        zero = feats.new_zeros(())
        return {"out": out, "features": feats, "loudness": loud, "cond": cond, "z": z, "q": q,
                "harmonic": Hh, "noise": Hn, "gain": g, "excitation": harm,
                "vq_loss": vq.loss if (vq is not None and self.training) else zero,
                "indices": vq.indices if vq is not None else None}

    @torch.no_grad()
    def render(self, x: np.ndarray, pitch: Optional[np.ndarray] = None, octaves: int = 0,
               noise_mode: bool = False, seed: int = NOISE_SEED) -> np.ndarray:
        """Parity render of one mono file: float32 [L], xorshift32 noise from ``seed``,
        synthesis in float64. ``pitch`` [T, 2] (f0, voiced) defaults to the reference YIN."""
        was = self.training
        self.eval()
        try:
            x = np.asarray(x, dtype=np.float32)
            T = hop_count(len(x))
            if pitch is None:
                pitch = pitch_track(x, T)
            pitch = np.asarray(pitch, dtype=np.float32)
            if pitch.shape != (T, 2):
                raise ValueError(f"pitch must be [{T}, 2] for {len(x)} samples, got {pitch.shape}")
            dev = next(self.parameters()).device
            xt = torch.from_numpy(x)[None].to(dev)
            f0 = torch.from_numpy(pitch[:, 0])[None].to(dev)
            v = torch.from_numpy(pitch[:, 1])[None].to(dev)
            noise = torch.from_numpy(xorshift32(T * HOP, seed))[None].to(dev)
            r = self(xt, f0, v, octaves=octaves, noise_mode=noise_mode, noise=noise,
                     dsp_dtype=torch.float64)
            return r["out"][0, :len(x)].float().cpu().numpy()
        finally:
            self.train(was)

    # -- back from a .tmbl file --

    @classmethod
    def from_tmbl(cls, source: Union[str, Path, bytes]) -> "VQTimbre":
        """Loads an exported .tmbl back into PyTorch (eval mode): sizes from the tensors,
        weights from the core layout (identical to PyTorch's for every op used here)."""
        from timbrel.tmbl import read_tmbl
        f = read_tmbl(source)
        if f.family != cls.family:
            raise ValueError(f"not a vq_timbre model (family {f.family!r})")
        t = f.tensors
        quantized = "quantizer" in f.graphs
        model = cls(bins=t["encoder.0.weight"].shape[1], encoder_hidden=t["encoder.0.weight"].shape[0],
                    latent=t["encoder.4.weight"].shape[0],
                    codes=t["quantizer.0.codebook"].shape[0] if quantized else 1,
                    hidden=t["decoder.2.weight_hh_l0"].shape[1],
                    filter_bins=t["harmonic.0.weight"].shape[0], quantized=quantized)
        state = model.state_dict()
        for name, a in t.items():
            if name not in state or tuple(state[name].shape) != a.shape:
                raise ValueError(f"tensor {name} {a.shape} does not fit the model")
            state[name] = torch.from_numpy(np.array(a))
        model.load_state_dict(state)
        model.eval()
        model.tmbl_metadata = f.metadata
        return model
