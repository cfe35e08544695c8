"""The .tmbl reader (timbrel.tmbl) imports and reads model files without torch:
evaluation and tooling need numpy only. Each check runs in a fresh interpreter
whose import of torch is blocked."""

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
