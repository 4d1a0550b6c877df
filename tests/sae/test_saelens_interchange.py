"""Against a real SAELens, where one is installed (its own venv, .venv-saelens/, as the benchmarks make
it; or importable here): every rlsae architecture loads there and every SAELens architecture rlsae reads
loads here with equal encodings, and the rest are refused (benchmarks/sae_saelens_roundtrip.py)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-saelens" / "bin" / "python"


def _saelens_python() -> Path | None:
    if importlib.util.find_spec("sae_lens") is not None:
        return Path(sys.executable)
    if VENV_PYTHON.exists() and subprocess.run([VENV_PYTHON, "-c", "import sae_lens"], capture_output=True,
                                               check=False).returncode == 0:
        return VENV_PYTHON
    return None


def test_round_trips_through_a_real_saelens(tmp_path: Path) -> None:
    python = _saelens_python()
    if python is None:
        pytest.skip("SAELens is not installed (python -m venv .venv-saelens && .venv-saelens/bin/pip install "
                    "torch sae-lens)")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sae_saelens_roundtrip.py"), "--python",
                          str(python), "--json", str(tmp_path / "r.json"), "--no-report"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    ours = {r["case"] for r in rows if r["direction"] == "rlsae -> SAELens"}
    assert ours == {"topk", "batchtopk", "jumprelu", "matryoshka", "relu"}
    loaded = [r for r in rows if r["direction"] == "SAELens -> rlsae" and "refused" not in r]
    assert {r["saelens_architecture"] for r in loaded} == {"topk", "jumprelu", "standard"}
    assert all(r["encode_max_diff"] <= 1e-5 and r["active_sets_equal"] for r in loaded)
    assert {r["case"] for r in rows if "refused" in r} >= {"gated (rlsae refuses)", "layer_norm input (rlsae refuses)"}
