"""`rlsae sweep` on tiny inputs, and its statistics on planted data where the answer is known."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlsae.agents.checkpoint import save_checkpoint
from rlsae.agents.qnet import QNetwork
from rlsae.analysis.results import load_result
from rlsae.common.errors import UserError
from rlsae.common.records import plain
from rlsae.stages import TRAIN_SAE
from rlsae.sweep import (
    SWEEP_JSON,
    SWEEP_PNG,
    SweepConfig,
    SweepResult,
    arm_plot,
    format_result,
    run_sweep,
    trend_statistics,
)
from rlsae.track import TrackConfig, run_track


def test_trend_statistics_find_a_monotone_trend_and_a_peak() -> None:
    rng = np.random.default_rng(0)
    x = np.linspace(0, 10, 24)
    rising = trend_statistics(x, 3 * x + rng.normal(0, 0.1, x.size))
    assert rising["spearman"] > 0.99 and rising["spearman_p"] < 1e-6
    peaked = trend_statistics(x, -(x - 4) ** 2 + rng.normal(0, 0.5, x.size))
    assert peaked["quadratic_r2"] > 0.95 and peaked["quadratic_p"] < 1e-6
    assert abs(peaked["quadratic_peak"] - 4) < 0.3
    noise = trend_statistics(x, rng.normal(0, 1, x.size))
    assert noise["spearman_p"] > 0.01 and noise["quadratic_r2"] < 0.5
    assert "spearman" not in trend_statistics(x[:2], x[:2])  # too few points to say anything


def _agents(folder: Path, steps: tuple[int, ...]) -> Path:
    for step in steps:
        torch.manual_seed(step + 1)
        save_checkpoint(folder / f"step{step}", QNetwork(9), {"game": "ms_pacman", "step": step})
    return folder


def test_sweep_over_a_folder_of_checkpoints(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    agents = _agents(tmp_path / "agents", (0, 1000))
    cfg = SweepConfig(checkpoints=(agents,), out=tmp_path / "sweep", steps=1500, samples=8192, d_sae=64, episodes=0,
                      score_episodes=2, progress=False)
    result = run_sweep(cfg)
    rows = result.rows
    assert [r.step for r in rows] == [0, 1000]
    for row in rows:
        for arm in row.arms.values():
            e = arm.evaluation
            assert 0 <= e.dead_fraction <= 1 and arm.live == round(64 * (1 - e.dead_fraction))
            assert e.fvu >= 0 and e.action_agreement is not None and 0 <= e.action_agreement <= 1
            assert row.score_episodes == 2 and e.score_ratio is None  # scored, no spliced games
    assert all(result.statistics[arm]["score_on_live"]["n"] == 2 for arm in ("default", "talk"))
    assert {r.run for r in rows} == {"agents"} and (cfg.out / "step0" / "recording").is_dir()
    # One run cannot tell score from training time, and the verdict says so for each arm, in one sentence.
    assert [a.runs for a in result.analysis.values()] == [1, 1]
    assert result.verdict.startswith("With our recipe (1 run, 2 agents): cannot tell whether live features track "
                                     "score or training time from one run")
    assert "; With the talk's recipe (1 run, 2 agents): cannot tell" in result.verdict
    assert f"verdict: {result.verdict}" in format_result(result)
    assert all((cfg.out / arm_plot(arm)).stat().st_size > 0 for arm in ("default", "talk"))
    assert json.dumps(SweepResult.load(cfg.out / SWEEP_JSON).to_json()) == json.dumps(result.to_json())
    # The talk's arm trains with its own settings, unscaled: its saved input scale is 1.
    talk = json.loads((cfg.out / "step0" / "talk" / "sae" / "cfg.json").read_text())["metadata"]["rlsae"]
    assert talk["config"]["init"] == "random" and talk["config"]["options"]["k"] == 50 and talk["input_scale"] == 1.0
    assert (cfg.out / SWEEP_JSON).is_file() and (cfg.out / SWEEP_PNG).stat().st_size > 0
    # Its SAEs tracked by their codes on shared states (each checkpoint's agent on both recordings), with each
    # checkpoint's explanations from its interpret output.
    lineage = run_track(TrackConfig(series=cfg.out, match="codes", states=200, out=tmp_path / "track",
                                    progress=False))[1]
    assert lineage.measure == "activation correlation" and [c.name for c in lineage.checkpoints] == ["step0",
                                                                                                     "step1000"]
    interpreted = load_result(cfg.out / "step1000" / "default" / "interpret").explanations
    assert lineage.checkpoints[1].explanations == [t if ok else None for t, ok in zip(interpreted.formula,
                                                                                     interpreted.explained)]
    # Finished stages are reused: a second run trains nothing and gives the same rows.
    sae_cfg = cfg.out / "step0" / "default" / "sae" / "cfg.json"
    before = sae_cfg.stat().st_mtime_ns
    again = run_sweep(cfg)
    assert json.dumps(plain(again.rows)) == json.dumps(plain(rows)) and sae_cfg.stat().st_mtime_ns == before


def test_sweep_over_several_runs(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    first = _agents(tmp_path / "seed1" / "series", (0, 1000))
    second = _agents(tmp_path / "seed2", (500,))
    cfg = SweepConfig(checkpoints=(first, second), out=tmp_path / "sweep", steps=1500, samples=8192, d_sae=64,
                      episodes=1, arms=("talk",), progress=False)
    result = run_sweep(cfg)
    assert [(r.run, r.step) for r in result.rows] == [("seed1/series", 0), ("seed1/series", 1000), ("seed2", 500)]
    # Runs keep their checkpoints apart: out/<run>/<checkpoint>.
    assert TRAIN_SAE.done(cfg.out / "seed2" / "step500" / "talk")
    assert TRAIN_SAE.done(cfg.out / "seed1" / "series" / "step0" / "talk")
    a = result.analysis["talk"]
    assert (a.runs, a.agents) == (2, 3) and [t.run for t in a.per_run] == ["seed1/series", "seed2"]
    assert result.verdict.startswith("With the talk's recipe (2 runs, 3 agents): ")
    assert SweepResult.load(cfg.out / SWEEP_JSON).analysis == result.analysis
    with pytest.raises(UserError, match="two runs are both named 'seed2'"):
        run_sweep(SweepConfig(checkpoints=(second, second), out=tmp_path / "again", steps=1500, samples=8192,
                              progress=False))


def test_bad_sweep_settings_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--arms"):
        SweepConfig(out=tmp_path, arms=("nonsense",))
    with pytest.raises(UserError, match="--heldout-fraction"):
        SweepConfig(out=tmp_path, heldout_fraction=1.0)
