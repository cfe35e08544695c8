"""The Notes panel's golden files (tests/golden/mel, tests/golden/gmvae): they follow the
contract (timbrel.mel, docs/gmvae.md) and regenerate from their generators."""

from pathlib import Path

import numpy as np

from timbrel import golden, mel
from timbrel.golden import gmvae as gmvae_golden
from timbrel.golden import mel as mel_golden
from timbrel.tmbl import read_tmbl

ROOT = Path(__file__).resolve().parents[1] / "golden"


def test_mel_golden_files_match_the_contract():
    note = np.load(ROOT / "mel" / "note.npy")
    db = mel.mel_db(note.astype(np.float64))
    np.testing.assert_allclose(np.load(ROOT / "mel" / "note_db.npy"), db, atol=1e-4)
    scaled = mel.scale(db, mel_golden.DB_MIN, mel_golden.DB_MAX)
    np.testing.assert_allclose(np.load(ROOT / "mel" / "note_scaled.npy"), scaled, atol=1e-6)
    patch = np.load(ROOT / "mel" / "patch.npy").astype(np.float64)
    np.testing.assert_allclose(np.load(ROOT / "mel" / "patch_magnitudes.npy"),
                               mel.magnitudes(patch, mel_golden.DB_MIN, mel_golden.DB_MAX), rtol=1e-6)


def test_mel_golden_files_reproduce(tmp_path):
    golden.write("mel", tmp_path)  # floats within timbrel.golden.LAST_BITS (CPU-dependent sums)
    assert golden.differences(ROOT / "mel", tmp_path) == []


def assert_close_json(got, want, where="metadata"):
    """The same JSON tree, numbers within 1e-9 relative (or 1e-12 absolute)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for k in want:
            assert_close_json(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close_json(g, w, f"{where}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert abs(got - want) <= 1e-9 * abs(want) + 1e-12, (where, got, want)
    else:
        assert got == want, where


def test_gmvae_oracle_follows_the_contract_and_regenerates(tmp_path):
    f = read_tmbl(ROOT / "gmvae" / "oracle.tmbl")
    assert f.family == "gmvae"
    meta = f.metadata
    assert (meta["frames"], meta["mel_bins"], meta["latent"]) == (mel.FRAMES, mel.MEL_BINS, 16)
    assert len(meta["pitch_means"]) == len(meta["pitches"]) == 12
    assert meta["instruments"] == gmvae_golden.INSTRUMENTS
    golden.write("gmvae", tmp_path)
    # Equal up to the last bits: numpy's vectorised exp and sums differ by an ulp between
    # CPUs (AVX2 and AVX-512 machines wrote 0.1353352832366127 and 0.13533528323661267 for
    # e^-2), so the regenerated file is compared value by value, not byte by byte.
    again = read_tmbl(tmp_path / "oracle.tmbl")
    assert again.graphs == f.graphs and set(again.tensors) == set(f.tensors)
    for name, want in f.tensors.items():
        np.testing.assert_allclose(again.tensors[name], want, rtol=1e-6, atol=1e-7, err_msg=name)
    assert_close_json(again.metadata, meta)
    for name in ("decoded.npy", "pitch_encoder.npy", "timbre_encoder.npy"):
        np.testing.assert_allclose(np.load(tmp_path / name), np.load(ROOT / "gmvae" / name), atol=1e-5)
