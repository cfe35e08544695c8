"""The .tmbl reader (timbrel.tmbl) imports and reads model files without torch:
evaluation and tooling need numpy only. Each check runs in a fresh interpreter
whose import of torch is blocked."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Refuses any import of torch in the interpreter it runs in.
BLOCK_TORCH = """
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
        return None
sys.meta_path.insert(0, BlockTorch())
"""


def run_without_torch(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + code, *args],
                          env={"PYTHONPATH": str(REPO / "scripts")}, capture_output=True,
                          text=True, timeout=120)


def test_the_block_works():
    # The exporter needs torch: with the block, importing it must fail.
    result = run_without_torch("import timbrel.export")
    assert result.returncode != 0
    assert "torch is blocked in this test" in result.stderr


def test_reads_shipped_models_without_torch():
    models = [REPO / "models" / "violin" / "violin.tmbl",
              REPO / "models" / "crossmodal" / "violin" / "violin.tmbl",
              REPO / "tests" / "golden" / "vq" / "model.tmbl"]
    result = run_without_torch(
        "from timbrel.tmbl import read_tmbl\n"
        "for path in sys.argv[1:]:\n"
        "    m = read_tmbl(path)\n"
        "    print(m.family, len(m.graphs), len(m.tensors), sum(t.size for t in m.tensors.values()))\n"
        "assert 'torch' not in sys.modules\n",
        *map(str, models))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0].startswith("vq_timbre 6 ")
    assert lines[1].startswith("crossmodal_vae 4 ")
    assert lines[2].startswith("vq_timbre ")
    # The violin's ~0.8 M weights (3.2 MB of float32) were all read.
    assert int(lines[0].split()[3]) > 700_000


def test_refuses_a_damaged_file_without_torch(tmp_path):
    damaged = bytearray((REPO / "tests" / "golden" / "vq" / "model.tmbl").read_bytes())
    damaged[100] ^= 0xFF
    path = tmp_path / "damaged.tmbl"
    path.write_bytes(bytes(damaged))
    result = run_without_torch(
        "from timbrel.tmbl import TmblError, read_tmbl\n"
        "try:\n"
        "    read_tmbl(sys.argv[1])\n"
        "except TmblError as e:\n"
        "    print(e)\n", str(path))
    assert result.returncode == 0, result.stderr
    assert "checksum mismatch" in result.stdout


def test_reads_residual_bodies_without_torch():
    result = run_without_torch(
        "from timbrel.tmbl import read_tmbl, tensor_names_used\n"
        "m = read_tmbl(sys.argv[1])\n"
        "ops = m.graphs['main']\n"
        "print([op['op'] for op in ops])\n"
        "print([op['op'] for op in ops[1]['ops']])\n"
        "print(len(tensor_names_used(m.graphs)) == len(m.tensors))\n"
        "assert 'torch' not in sys.modules\n",
        str(REPO / "tests" / "golden" / "nn" / "residual.tmbl"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "['linear', 'residual', 'residual', 'gru', 'residual']"
    assert lines[1] == "['layer_norm', 'linear', 'softplus', 'linear']"
    assert lines[2] == "True"  # the body ops' tensors are all used


def test_f16_weights_round_trip_repack_and_refusals(tmp_path):
    """write_tmbl(dtype="f16") stores half the bytes, read_tmbl widens them back; repack keeps
    the header; another dtype or a weight beyond float16 is refused in words."""
    import numpy as np
    import pytest
    from timbrel.tmbl import TmblError, main, read_tmbl, repack, write_tmbl
    graphs = {"main": [{"op": "linear", "weight": "w", "bias": "b"}]}
    w = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)
    b = np.array([0.1, 1e-9, -3.5, 0, 0, 0, 0, 65504], np.float32)
    f32 = write_tmbl(tmp_path / "a.tmbl", "test", "t", {}, graphs, {"w": w, "b": b})
    f16 = write_tmbl(tmp_path / "b.tmbl", "test", "t", {}, graphs, {"w": w, "b": b}, dtype="f16")
    assert f16.stat().st_size < f32.stat().st_size
    got = read_tmbl(f16)
    assert [e.get("dtype") for e in got.header["tensors"]] == ["f16", "f16"]
    np.testing.assert_array_equal(got.tensors["w"], w.astype(np.float16).astype(np.float32))
    assert got.tensors["b"][1] == 0.0 and got.tensors["b"][7] == 65504.0  # underflow to 0; largest half
    info = repack(f32, tmp_path / "c.tmbl")
    assert info["bytes_after"] == f16.stat().st_size
    assert info["largest_relative_change"] < 1e-3
    assert read_tmbl(tmp_path / "c.tmbl").header == got.header
    assert main(["repack", str(f32), str(tmp_path / "d.tmbl"), "--dtype", "f32"]) == 0
    assert (tmp_path / "d.tmbl").read_bytes() == f32.read_bytes()
    with pytest.raises(TmblError, match="beyond float16"):
        write_tmbl(tmp_path / "e.tmbl", "test", "t", {}, graphs, {"w": w, "b": b * 10}, dtype="f16")
    # a dtype this reader does not know
    raw = bytearray(f16.read_bytes())
    at = raw.index(b'"f16"')
    raw[at:at + 5] = b'"bf6"'
    import struct
    import zlib
    raw[-4:] = struct.pack("<I", zlib.crc32(bytes(raw[:-4])) & 0xFFFFFFFF)
    with pytest.raises(TmblError, match='has dtype "bf6"; this reader reads "f32" and "f16"'):
        read_tmbl(bytes(raw))


def test_index_sizes_follow_the_files(tmp_path):
    from timbrel.tmbl import refresh_index_sizes
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "a.tmbl").write_bytes(b"x" * 100)
    (tmp_path / "b.tmbl").write_bytes(b"y" * 7)
    index = tmp_path / "index.json"
    index.write_text(json.dumps([{"id": "a", "file": "a/a.tmbl", "size_bytes": 3},
                                 {"id": "b", "file": "b.tmbl", "size_bytes": 7},
                                 {"id": "c", "file": "a/a.tmbl"}]))  # no size: left alone
    assert refresh_index_sizes(index) == ["a"]
    items = json.loads(index.read_text())
    assert [e.get("size_bytes") for e in items] == [100, 7, None]
    assert refresh_index_sizes(index) == []  # a second run changes nothing
    # the shipped catalogs are up to date
    repo = Path(__file__).resolve().parents[2]
    for shipped in ("models/index.json", "models/crossmodal/index.json"):
        for e in json.loads((repo / shipped).read_text()):
            assert e["size_bytes"] == (repo / shipped).parent.joinpath(e["file"]).stat().st_size
