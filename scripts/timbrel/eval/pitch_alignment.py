"""How far a timbre model's output pitch trails its input, per pitch tracker.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.pitch_alignment [--model models/violin/violin.tmbl]

The input is a harmonic tone whose pitch swings half an octave up and down at
1.5 Hz (a fast, wide vibrato: any delay of the pitch shows as an error). It is
rendered offline by the reference model (timbrel.models.vq_timbre, the contract
the core implements) with the pitch track of

  start       YIN on each analysis frame as it is (the estimate describes the
              frame's oldest W + tau samples; the contract before 2026-12-02)
  end + hold  the contract's tracker: YIN on the frame reversed, leaps held a hop

and both signals are analysed the same way (YIN, 1024-sample frames every 32
samples). Reported: the shift of the output's f0 curve against the input's
that minimises the median |cents| (samples at 22050 Hz and hops of 256), and
the median |cents| with no shift.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from timbrel import dsp_reference as ref
from timbrel.models.vq_timbre import HOP, SAMPLE_RATE, WINDOW, VQTimbre, hop_count, pitch_track

STEP = 32


def vibrato(seconds: float = 3.0, centre_hz: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f = centre_hz * 2.0 ** (0.5 * np.sin(2 * np.pi * 1.5 * t))
    phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
    return 0.2 * sum(np.sin(h * phase) / h for h in range(1, 6))


def start_track(x: np.ndarray, hops: int) -> np.ndarray:
    padded = np.concatenate([np.zeros(WINDOW - HOP), x[:hops * HOP],
                             np.zeros(max(0, hops * HOP - len(x)))])
    out = np.zeros((hops, 2))
    for t in range(hops):
        f0, _, voiced = ref.yin(padded[t * HOP:t * HOP + WINDOW])
        out[t] = (f0, 1.0 if voiced else 0.0)
    return out


def f0_curve(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = range(0, len(x) - WINDOW + 1, STEP)
    est = [ref.yin(x[s:s + WINDOW]) for s in frames]
    return np.array([e[0] for e in est]), np.array([e[2] for e in est])


def lag(x: np.ndarray, y: np.ndarray, max_samples: int = 1280) -> dict:
    fa, va = f0_curve(x)
    fb, vb = f0_curve(y)
    n = min(len(fa), len(fb))
    la, lb = np.log2(np.maximum(fa[:n], 1e-9)), np.log2(np.maximum(fb[:n], 1e-9))
    va, vb = va[:n], vb[:n]

    def err(k: int) -> float:
        a, b = (slice(0, n - k), slice(k, n)) if k >= 0 else (slice(-k, n), slice(0, n + k))
        both = va[a] & vb[b]
        return float(np.median(np.abs(lb[b] - la[a])[both]) * 1200) if both.any() else np.inf

    shifts = range(-max_samples // STEP, max_samples // STEP + 1)
    best = min(shifts, key=err)
    return {"lag_samples": best * STEP, "lag_hops": best * STEP / HOP,
            "cents_at_best": err(best), "cents_unshifted": err(0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=Path("models/violin/violin.tmbl"))
    args = ap.parse_args(argv)
    model = VQTimbre.from_tmbl(args.model).eval()
    x = vibrato()
    hops = hop_count(len(x))
    print(f"{args.model}: vibrato 330 Hz +-6 semitones at 1.5 Hz, offline reference render")
    print("| pitch tracker | output f0 lag (samples) | (hops) | median error unshifted (cents) |")
    print("|---|---:|---:|---:|")
    for name, track in (("start", start_track(x, hops)), ("end + hold", pitch_track(x, hops))):
        y = model.render(x, track, octaves=0)
        r = lag(x, y)
        print(f"| {name} | {r['lag_samples']} | {r['lag_hops']:.2f} | {r['cents_unshifted']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
