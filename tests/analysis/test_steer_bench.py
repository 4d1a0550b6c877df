"""`rlsae steer-bench` on a planted agent: one known direction decides one action, and the benchmark finds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rlsae.agents.checkpoint import save_checkpoint
from rlsae.agents.qnet import QNetwork
from rlsae.analysis.steer_bench import (
    SteerBenchConfig,
    beats_all,
    format_table,
    goal_table,
    mcnemar,
    steer_bench,
    wilson,
)
from rlsae.analysis.steer_bench_results import CONTROLS, SteerBenchRun
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.envs.games.spec import SteeringGoal

LEFT, RIGHT = 3, 2  # Ms. Pac-Man's minimal action set: NOOP, UP, RIGHT, LEFT, DOWN, ...
PLANTED = 5  # the SAE feature whose decoder direction is the planted one
GOAL = SteeringGoal("face_left", "pacman_facing=left", 12)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An agent that always goes right unless the layer moves along d = (e0 + e2 - e1 - e3) / 2 by more than
    ~0.7 of its mean norm; then it goes left. Neurons 1 and 3 copy 0 and 2, so h . d is 0 on every real
    state: no single neuron (d's entries are 1/2) nor anything fitted on the recording reaches it. A random
    Top-K SAE with d planted as feature 5's decoder row."""
    from rlsae.record import Recording
    from rlsae.record.recorder import RecordConfig, record
    from rlsae.sae import build_sae, save_sae

    root = tmp_path_factory.mktemp("planted")
    torch.manual_seed(0)
    net = QNetwork(9)
    d = torch.zeros(512)
    d[[0, 2]], d[[1, 3]] = 0.5, -0.5
    with torch.no_grad():
        for copy, source in ((1, 0), (3, 2)):
            net.fc.weight[copy] = net.fc.weight[source]
            net.fc.bias[copy] = net.fc.bias[source]
            net.fc_norm.weight[copy] = net.fc_norm.weight[source]
            net.fc_norm.bias[copy] = net.fc_norm.bias[source]
        net.head.weight.zero_()
        net.head.bias.zero_()
        gain, threshold = 10.0, 11.0  # the layer's mean norm is ~16 (ReLU of a LayerNorm over 512 units)
        net.head.weight[LEFT] = gain * d
        net.head.bias[LEFT] = -1 - gain * threshold
        net.head.bias[RIGHT] = 1.0
    save_checkpoint(root / "agent", net, {"game": "ms_pacman", "algorithm": "none", "step": 0})
    recording = record(RecordConfig(out=root / "rec", checkpoint=root / "agent", steps=1600, num_envs=2, epsilon=1.0,
                                    chunk_size=512, snapshot_every=8, progress=False))
    x = torch.from_numpy(np.asarray(Recording.open(recording).activations, np.float32))
    sae = build_sae("topk", 512, 64, k=4)
    with torch.no_grad():
        sae.b_dec.copy_(x.mean(0))
        sae.W_dec[PLANTED] = d
    save_sae(root / "sae", sae, metadata={"recording": str(recording)})
    return {"sae": root / "sae", "root": root}


def _cfg(planted: dict[str, Path], out: Path, **overrides: object) -> SteerBenchConfig:
    base: dict[str, object] = {"sae": planted["sae"], "fit_starts": 4, "held_starts": 8, "screen": 64,
                               "screen_starts": 2, "confirm": 2, "sizes": (1.0,), "imminent": 4, "epsilon": 0.0,
                               "max_states": 1600, "unrelated": 64, "out": out, "progress": False}
    return SteerBenchConfig(**{**base, **overrides})  # type: ignore[arg-type]


def test_the_planted_direction_ranks_first_and_the_controls_last(planted: dict[str, Path], tmp_path: Path) -> None:
    run = steer_bench(_cfg(planted, tmp_path / "b"), [GOAL])
    (goal,) = run.goals
    # from a start in a vertical corridor, left may stay closed for all 12 steps: most starts, not all, turn
    assert goal.features[0].unit == PLANTED and goal.features[0].confirm_successes >= 3
    at = {s.handle: s for s in goal.handles}
    best = at["best feature"]
    # the clean agent faces left now and then only where the game turns it (a new life, the side tunnel)
    assert best.unit == PLANTED and best.success >= 0.75 and goal.clean_success <= 0.25
    assert best.lost == 0 and best.gained >= 6 and best.p_clean < 0.05
    assert best.size == pytest.approx(run.activation_norm)
    ranking = sorted(at, key=lambda name: -at[name].success)
    assert ranking[0] == "best feature" and all(at[name].success < best.success for name in ranking[1:])
    for rival in ("best neuron", "probe", "difference of means", *CONTROLS):
        assert at[rival].success <= goal.clean_success
        assert 0 < goal.best_vs[rival] < 0.05
    # the planted edit turns the agent left everywhere: it moves the policy most, so the test fails
    assert best.policy_tv == 1.0 and not beats_all(goal)
    assert at["noise"].policy_tv == 0.0
    table = format_table(run)
    assert f"| face_left | 1 | {goal.clean_success:.0%} | {best.success:.0%}* #5 (tv 1.00) |" in table
    assert (tmp_path / "b" / "steer_bench.png").stat().st_size > 1000
    assert SteerBenchRun.load(tmp_path / "b" / "steer_bench.json") == run


def test_an_interrupted_benchmark_continues_where_it_stopped(planted: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import rlsae.analysis.steer_bench as bench

    other = SteeringGoal("face_up", "pacman_facing=up", 6)
    original, benched = bench.bench_goal, []

    def bench_goal(*args: object) -> object:
        benched.append(args[5].name)  # type: ignore[attr-defined]
        if args[5] is other:
            raise KeyboardInterrupt
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bench, "bench_goal", bench_goal)
    cfg = _cfg(planted, tmp_path / "b", screen=2, confirm=1, held_starts=4)
    with pytest.raises(KeyboardInterrupt):
        steer_bench(cfg, [GOAL, other])
    assert [g.goal for g in SteerBenchRun.load(tmp_path / "b" / "steer_bench.json").goals] == ["face_left"]
    benched.clear()
    monkeypatch.setattr(bench, "bench_goal", original)
    run = steer_bench(cfg, [GOAL])
    assert benched == [] and [g.goal for g in run.goals] == ["face_left"]
    with pytest.raises(UserError, match=r"other settings \(held_starts\)"):
        steer_bench(_cfg(planted, tmp_path / "b", screen=2, confirm=1, held_starts=5), [GOAL])


def test_wilson_and_mcnemar() -> None:
    low, high = wilson(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)  # the textbook Wilson interval for 8 / 10
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0], bool)
    b = np.array([0, 0, 0, 0, 0, 0, 0, 1], bool)
    assert mcnemar(a, b) == (6, 1, pytest.approx(16 / 128))
    assert mcnemar(a, a) == (0, 0, 1.0)


def test_bad_requests_are_one_line_errors(planted: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="'eat_pil_top_left' is not a steering goal of ms_pacman; close names: "
                       "eat_pill_top_left"):
        goal_table(("eat_pil_top_left",), "ms_pacman")
    with pytest.raises(UserError, match="--confirm 3 must be at most --screen 2"):
        _cfg(planted, tmp_path, screen=2, confirm=3)
    with pytest.raises(UserError, match="--held-starts 100000: only"):
        steer_bench(_cfg(planted, tmp_path / "x", held_starts=100_000), [GOAL])
    assert main(["steer-bench", "--sae", str(planted["sae"]), "--sizes", "0", "--out", str(tmp_path / "y")]) == 2
    assert capsys.readouterr().err == "rlsae steer-bench: error: --sizes must be > 0, got 0.0\n"


def test_a_benchmark_record_round_trips_and_refuses_other_kinds(tmp_path: Path,
                                                                steer_bench_record: SteerBenchRun) -> None:
    run = steer_bench_record
    run.save(tmp_path / "b.json")
    assert SteerBenchRun.load(tmp_path / "b.json") == run
    (goal,) = run.goals
    assert beats_all(goal)  # every rival at 0%, the best feature at 100%, and the controls move the policy more
    assert "| eat_pill_top_left | 0.5 | 0% | 100%* #7 (tv 0.10) | 0% #3 (tv 0.10) |" in format_table(run)
    (tmp_path / "c.json").write_text('{"kind": "rlsae-steering", "version": 1}')
    with pytest.raises(UserError, match="holds a 'rlsae-steering' record, not a rlsae-steer-bench"):
        SteerBenchRun.load(tmp_path / "c.json")
