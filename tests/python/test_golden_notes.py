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


def test_gmvae_oracle_follows_the_contract_and_regenerates(tmp_path):
    f = read_tmbl(ROOT / "gmvae" / "oracle.tmbl")
    assert f.family == "gmvae"
    meta = f.metadata
    assert (meta["frames"], meta["mel_bins"], meta["latent"]) == (mel.FRAMES, mel.MEL_BINS, 16)
    assert len(meta["pitch_means"]) == len(meta["pitches"]) == 12
    assert meta["instruments"] == gmvae_golden.INSTRUMENTS
    golden.write("gmvae", tmp_path)
    assert (tmp_path / "oracle.tmbl").read_bytes() == (ROOT / "gmvae" / "oracle.tmbl").read_bytes()
    for name in ("decoded.npy", "pitch_encoder.npy", "timbre_encoder.npy"):
        np.testing.assert_allclose(np.load(tmp_path / name), np.load(ROOT / "gmvae" / name), atol=1e-5)
