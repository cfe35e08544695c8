"""Pluggable converters: what `timbrel.eval.evaluate` evaluates.

A converter is any callable `convert(audio, target) -> audio` taking and
returning mono float32 at 22050 Hz (target: an instrument name such as
"violin"), with a `name` attribute. Three kinds are built by make_converter:

  "identity"                       returns its input (exercises the pipeline)
  "CMD ... {input} ... {output}"   a command template run without a shell;
                                   placeholders {input} {output} {target} {model}
                                   e.g. "build/core/timbrel transfer {input} --model {model} -o {output}"
  "package.module:function"        a Python function (audio, target) -> audio
"""

from __future__ import annotations

import importlib
import shlex
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050


class Identity:
    name = "identity"

    def __call__(self, audio: np.ndarray, target: str) -> np.ndarray:
        return np.asarray(audio, dtype=np.float32)


class ShellConverter:
    """Runs a command template per conversion through float32 WAV files."""

    def __init__(self, template: str, model: str | None = None, timeout: float = 600.0):
        if "{input}" not in template or "{output}" not in template:
            raise ValueError("a command template needs {input} and {output}")
        self.template = template
        self.model = model
        self.timeout = timeout
        self.name = template

    def __call__(self, audio: np.ndarray, target: str) -> np.ndarray:
        from scipy.io import wavfile
        from timbrel.data.audio import read_wav
        with tempfile.TemporaryDirectory(prefix="timbrel-conv-") as tmp:
            src, dst = Path(tmp) / "input.wav", Path(tmp) / "output.wav"
            wavfile.write(str(src), SAMPLE_RATE, np.asarray(audio, dtype=np.float32))
            args = [a.format(input=str(src), output=str(dst), target=target,
                             model=self.model or "") for a in shlex.split(self.template)]
            proc = subprocess.run(args, capture_output=True, text=True, timeout=self.timeout)
            if proc.returncode != 0 or not dst.exists():
                raise RuntimeError(f"converter failed ({proc.returncode}): {' '.join(args)}\n"
                                   f"{proc.stderr.strip()[-800:]}")
            y, sr = read_wav(dst)
        if sr != SAMPLE_RATE:
            from math import gcd
            from scipy.signal import resample_poly
            g = gcd(sr, SAMPLE_RATE)
            y = resample_poly(y, SAMPLE_RATE // g, sr // g).astype(np.float32)
        return y


class FunctionConverter:
    def __init__(self, fn, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")

    def __call__(self, audio: np.ndarray, target: str) -> np.ndarray:
        return np.asarray(self.fn(audio, target), dtype=np.float32)


def make_converter(spec, model: str | None = None):
    """A converter from a spec string (see module doc) or a callable."""
    if callable(spec):
        return spec if hasattr(spec, "name") else FunctionConverter(spec)
    if spec == "identity":
        return Identity()
    if "{input}" in spec:
        return ShellConverter(spec, model)
    if ":" in spec and " " not in spec:
        module, func = spec.split(":", 1)
        return FunctionConverter(getattr(importlib.import_module(module), func), spec)
    raise ValueError(f"unknown converter {spec!r}: use identity, a command template with "
                     "{input} and {output}, or module:function")
