"""How far a model stored with float16 weights plays from the float32 file it came from
(``python -m timbrel.tmbl repack``), through the native engine, for every model family.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.precision F32.tmbl F16.tmbl \\
        [--binary build/core/timbrel] [--seed 5] [--json]
    # the shipped files against their float32 versions in git history, as a table:
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.precision --git-ref REV models/*/*.tmbl ...

What is rendered from both files (the same command, the same seed):

- ``grains``: every class's hit (``timbrel grains hit``; a pitched model at the class's
  typical pitch);
- ``vq_timbre``: the shipped voice example and a 3 s harmonic glide through
  ``timbrel transfer`` (pitch mode, octaves auto);
- ``crossmodal_vae``: a scale of 8 notes per instrument of the model at pp, mf and ff
  through ``timbrel render-midi`` (RTPGHI phase: deterministic);
- ``gmvae``: each instrument's note at the middle of its range (``timbrel notes sample``,
  RTPGHI).

Prints the error energy under the signal's in dB (higher is closer) per render and the
range.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from timbrel.data.audio import read_wav, write_wav
from timbrel.tmbl import read_tmbl

REPO = Path(__file__).resolve().parents[3]


def run(binary: str, args: List[str]) -> None:
    subprocess.run([binary, *args], check=True, capture_output=True, text=True)


def error_db(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    return round(float(10 * np.log10(np.sum(a * a) / max(np.sum((a - b) ** 2), 1e-30))), 1)


def lsd_db(a: np.ndarray, b: np.ndarray) -> float:
    """Log-spectral distance (dB) of b from a: STFT 1024 / 256 (Hann), power floored 80 dB
    under the reference's peak bin, RMS over bins, mean over the frames where the reference
    is above -60 dBFS. Phase-blind: for the families whose phase is reconstructed (RTPGHI
    integrates it over time, so a tiny magnitude change drifts the waveform), this is the
    figure that says whether they sound the same."""
    n = min(len(a), len(b))
    w = np.hanning(1024)
    frames = range(0, max(0, n - 1024) + 1, 256)
    A = np.array([np.abs(np.fft.rfft(w * a[i:i + 1024])) ** 2 for i in frames])
    B = np.array([np.abs(np.fft.rfft(w * b[i:i + 1024])) ** 2 for i in frames])
    if not len(A):
        return 0.0
    floor = A.max() * 1e-8
    loud = np.array([np.sqrt(np.mean(a[i:i + 1024] ** 2)) > 1e-3 for i in frames])
    if not loud.any():
        return 0.0
    d = 10 * np.log10(np.maximum(A[loud], floor)) - 10 * np.log10(np.maximum(B[loud], floor))
    return round(float(np.mean(np.sqrt(np.mean(d * d, axis=1)))), 3)


def glide(path: Path, seconds: float = 3.0) -> None:
    """A sung-like harmonic glide 196 -> 392 Hz with vibrato (22050 Hz)."""
    t = np.arange(int(seconds * 22050)) / 22050
    f = 196.0 * 2.0 ** (t / seconds + 0.03 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f) / 22050
    x = 0.3 * sum(np.sin(h * phase) / h for h in range(1, 8)) * np.minimum(1, t / 0.05)
    write_wav(path, x.astype(np.float32), 22050)


def scale_midi(path: Path, ranges: List[List[int]]) -> None:
    """For each instrument (channel i, program 0): 8 notes rising through its range at
    velocities 40, 80, 120, one after another."""
    import mido
    mid = mido.MidiFile(ticks_per_beat=480)
    for channel, (low, high) in enumerate(ranges):
        track = mido.MidiTrack()
        mid.tracks.append(track)
        gap = 0
        for i in range(8):
            note = int(round(low + (high - low) * (i + 0.5) / 8))
            velocity = (40, 80, 120)[i % 3]
            track.append(mido.Message("note_on", channel=channel, note=note, velocity=velocity,
                                      time=gap))
            track.append(mido.Message("note_off", channel=channel, note=note, velocity=0,
                                      time=360))
            gap = 120
    mid.save(str(path))


def renders(family: str, metadata: dict, binary: str, model: str, seed: int, tmp: Path
            ) -> Dict[str, np.ndarray]:
    """Name -> render of `model` (the list of renders per family in the module doc)."""
    out: Dict[str, np.ndarray] = {}

    def take(name: str, args: List[str]) -> None:
        wav = tmp / "out.wav"
        run(binary, [*args, "-o", str(wav)])
        out[name] = read_wav(wav)[0].astype(np.float64)

    if family == "grains":
        info = json.loads(subprocess.run([binary, "grains", "info", "--model", model], check=True,
                                         capture_output=True, text=True).stdout)
        for name in info["classes"]:
            take(name, ["grains", "hit", "--model", model, "--class", name, "--seed", str(seed)])
    elif family == "vq_timbre":
        glide(tmp / "glide.wav")
        voice = REPO / "models" / "examples" / "syllables_01_da_rise_fall.wav"
        for name, clip in (("voice example", voice), ("glide", tmp / "glide.wav")):
            take(name, ["transfer", str(clip), "--model", model, "--seed", str(seed)])
    elif family == "crossmodal_vae":
        scale_midi(tmp / "scale.mid", metadata["pitch_ranges"])
        take("scale", ["render-midi", str(tmp / "scale.mid"), "--model", model, "--phase", "rtpghi",
                       "--seed", str(seed)])
    elif family == "gmvae":
        info = json.loads(subprocess.run([binary, "notes", "info", "--model", model], check=True,
                                         capture_output=True, text=True).stdout)
        for name, (low, high) in zip(info["instruments"], info["instrumentRanges"]):
            take(name, ["notes", "sample", "--model", model, "--instrument", name, "--pitch",
                        str((low + high) // 2), "--seed", str(seed), "--phase", "rtpghi"])
    else:
        raise ValueError(f"no renders for family {family!r}")
    return out


def compare(reference: str, other: str, binary: str, seed: int = 5) -> Dict[str, Dict[str, float]]:
    """Render name -> {"error_db": waveform error under the signal, "lsd_db": log-spectral
    distance}."""
    head = read_tmbl(reference)
    with tempfile.TemporaryDirectory() as tmp:
        a = renders(head.family, head.metadata, binary, reference, seed, Path(tmp))
        b = renders(head.family, head.metadata, binary, other, seed, Path(tmp))
    return {name: {"error_db": error_db(a[name], b[name]), "lsd_db": lsd_db(a[name], b[name])}
            for name in a}


def git_table(ref: str, paths: List[str], binary: str, seed: int) -> str:
    """A markdown table: each path's file at git revision `ref` (the float32 original)
    against the file in the working tree."""
    rows = ["| model | renders | waveform error under the signal (dB) | LSD (dB) |",
            "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            original = Path(tmp) / "original.tmbl"
            original.write_bytes(subprocess.run(["git", "show", f"{ref}:{path}"], cwd=REPO,
                                                check=True, capture_output=True).stdout)
            r = compare(str(original), str(REPO / path), binary, seed)
            errors = [v["error_db"] for v in r.values()]
            lsds = [v["lsd_db"] for v in r.values()]
            rows.append(f"| `{path}` | {len(r)} | {min(errors)} to {max(errors)} | "
                        f"{min(lsds)} to {max(lsds)} |")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("reference", nargs="?", help="the float32 file")
    p.add_argument("other", nargs="?", help="the float16 file")
    p.add_argument("--git-ref", help="compare each FILE at this git revision with the working tree")
    p.add_argument("files", nargs="*", default=[], help="with --git-ref: repository paths")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--binary", default=str(REPO / "build" / "core" / "timbrel"))
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    if args.git_ref:
        paths = [a for a in (args.reference, args.other) if a] + args.files
        print(git_table(args.git_ref, paths, args.binary, args.seed))
        return 0
    if not (args.reference and args.other) or args.files:
        p.error("give REFERENCE and OTHER, or --git-ref REV FILE...")
    try:
        per_class = compare(args.reference, args.other, args.binary, args.seed)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    errors = [r["error_db"] for r in per_class.values()]
    lsds = [r["lsd_db"] for r in per_class.values()]
    summary = {"renders": per_class, "error_db": [min(errors), max(errors)],
               "lsd_db": [min(lsds), max(lsds)]}
    if args.json:
        print(json.dumps(summary))
        return 0
    for name, r in per_class.items():
        print(f"{name}: error {r['error_db']} dB under the signal, LSD {r['lsd_db']} dB")
    print(f"range: error {min(errors)} to {max(errors)} dB under the signal, LSD {min(lsds)} to "
          f"{max(lsds)} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
