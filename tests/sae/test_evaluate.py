"""`rlsae evaluate` on a real tiny recording: offline metrics, the density plot and spliced games."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from rlsae.common.errors import UserError
from rlsae.common.files import current_umask
from rlsae.common.records import schema
from rlsae.sae.evaluate import EvaluateSAEConfig, Evaluation, evaluate_sae, format_report
from rlsae.sae.fidelity import recovered
from rlsae.sae.io import WEIGHTS
from rlsae.sae.train import TrainSAEConfig, train_sae


@pytest.fixture(scope="module")
def tiny_sae(tiny_recording: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sae") / "sae"
    train_sae(TrainSAEConfig(recording=tiny_recording, out=out, d_sae=64, options={"k": 8}, samples=40 * 256,
                             batch_size=256, heldout_fraction=0.25, lr=2e-3, progress=False))
    return out


def test_evaluate_writes_metrics_plot_and_game_fidelity(tiny_sae: Path, tmp_path: Path, conforms: Any) -> None:
    result = evaluate_sae(EvaluateSAEConfig(sae=tiny_sae, episodes=2, num_envs=2, json=tmp_path / "e.json",
                                            png=tmp_path / "d.png", progress=False))
    saved = json.loads((tmp_path / "e.json").read_text())
    for key in ("fvu", "l0", "dead_fraction", "dense_fraction", "q_rel_error", "advantage_rel_error",
                "action_agreement", "action_agreement_large_gap", "regret", "score_clean", "score_spliced",
                "score_zero_ablation", "score_mean_ablation", "recovered_vs_mean_ablation"):
        assert key in saved and saved[key] == getattr(result, key), key
    assert 0 <= saved["fvu"] < 1 and saved["l0"] <= 8
    # The recovered fraction is the one its own scores give (ablations at another value would not).
    assert saved["recovered_vs_mean_ablation"] == pytest.approx(
        recovered(saved["score_spliced"], saved["score_clean"], saved["score_mean_ablation"]), nan_ok=True)
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    assert Evaluation.load(tmp_path / "e.json") == result
    assert conforms(saved, schema(Evaluation))
    report = format_report(result, tmp_path / "e.json")
    assert "greedy agreement" in report and "score, SAE spliced in" in report and "fvu" not in report


def test_evaluate_cli_errors_are_one_line(tiny_sae: Path, tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "rlsae.cli", "evaluate", "--sae", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no SAE at" in missing.stderr and "Traceback" not in missing.stderr
    wrong = subprocess.run([sys.executable, "-m", "rlsae.cli", "evaluate", "--sae", str(tiny_sae),
                            "--recording", str(tmp_path / "nothing-here"), "--episodes", "0"],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "nothing-here" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("flag,value,message", [("num_envs", 0, "--num-envs must be >= 1"),
                                                ("epsilon", float("nan"), "--epsilon must be a finite"),
                                                ("max_states", 0, "--max-states must be >= 1")])
def test_out_of_range_settings_are_refused(flag: str, value: object, message: str) -> None:
    with pytest.raises(UserError, match=message):
        EvaluateSAEConfig(**{flag: value})


def test_a_rerun_without_games_keeps_the_earlier_scores_or_refuses(tiny_sae: Path, tmp_path: Path) -> None:
    sae = tmp_path / "sae"
    shutil.copytree(tiny_sae, sae)
    out = tmp_path / "e.json"
    evaluate_sae(EvaluateSAEConfig(sae=sae, episodes=0, json=out, png=tmp_path / "d.png", progress=False))
    # Stand-in for hours of games: what game_fidelity would have added to this very evaluation.
    games = {"score_clean": 512.5, "score_spliced": 498.0, "score_zero_ablation": 70.0,
             "score_mean_ablation": 150.0, "recovered_vs_mean_ablation": 0.96, "episodes": 30}
    out.write_text(json.dumps({**json.loads(out.read_text()), **games}))

    rerun = evaluate_sae(EvaluateSAEConfig(sae=sae, episodes=0, json=out, png=tmp_path / "d.png", progress=False))
    saved = json.loads(out.read_text())
    assert {k: saved[k] for k in games} == games and "games_from" in saved and "fvu" in saved
    assert "kept from" in format_report(rerun, out)

    # Other weights: the scores no longer describe this SAE, but dropping them silently is not allowed.
    weights = load_file(str(sae / WEIGHTS))
    weights["b_dec"] = weights["b_dec"] + 1.0
    save_file(weights, str(sae / WEIGHTS))
    before = out.read_bytes()
    with pytest.raises(UserError, match="--episodes 0 would drop them"):
        evaluate_sae(EvaluateSAEConfig(sae=sae, episodes=0, json=out, png=tmp_path / "d.png", progress=False))
    assert out.read_bytes() == before

    # A file this rlsae cannot read (here: a key from the future) may hold games too: refused, left as it is.
    out.write_text(json.dumps({**json.loads(before), "score_from_the_future": 1.0}))
    unreadable = out.read_bytes()
    with pytest.raises(UserError, match="without its game scores"):
        evaluate_sae(EvaluateSAEConfig(sae=sae, episodes=0, json=out, png=tmp_path / "d.png", progress=False))
    assert out.read_bytes() == unreadable


def test_evaluate_outputs_get_the_umask_mode(tiny_sae: Path, tmp_path: Path) -> None:
    evaluate_sae(EvaluateSAEConfig(sae=tiny_sae, episodes=0, json=tmp_path / "e.json", png=tmp_path / "d.png",
                                   progress=False))
    for name in ("e.json", "d.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~current_umask(), name


def test_an_evaluation_from_before_versions_is_read_and_a_foreign_file_refused(tiny_sae: Path,
                                                                                tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    result = evaluate_sae(EvaluateSAEConfig(sae=tiny_sae, episodes=0, json=out, png=tmp_path / "d.png",
                                            progress=False))
    old = {k: v for k, v in json.loads(out.read_text()).items() if k not in ("kind", "version")}
    out.write_text(json.dumps(old))  # as rlsae wrote it before records: the same flat keys
    assert Evaluation.load(out) == result
    out.write_text(json.dumps({"kind": "rlsae-steering", "version": 1}))
    with pytest.raises(UserError, match="not a rlsae-evaluation: pass the output of `rlsae evaluate`"):
        Evaluation.load(out)
