"""`rlsae steer` plays real (short) games: a null edit changes nothing, a strong one changes the policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rlsae.analysis.results import load_result
from rlsae.analysis.steer import (
    SteerConfig,
    describe_goal,
    goal_change,
    load_steering,
    steer_features,
    top_features,
)
from rlsae.analysis.steer_results import GoalReached, StartsUsed, SteeredFeature, SteeringRun
from rlsae.cli import main
from rlsae.common.errors import UserError


def _cfg(pipeline: dict[str, Path], out: Path, **overrides: object) -> SteerConfig:
    base: dict[str, object] = {"sae": pipeline["sae"], "feature": 0, "episodes": 2, "num_envs": 2,
                               "max_steps": 120, "gif_steps": 12, "out": out, "progress": False}
    return SteerConfig(**{**base, **overrides})  # type: ignore[arg-type]


def test_adding_nothing_replays_the_clean_games_exactly(small_pipeline: dict[str, Path], tmp_path: Path) -> None:
    (result,) = steer_features(small_pipeline["sae"], [3], _cfg(small_pipeline, tmp_path, mode="add", strength=0.0))
    assert result.value == 0.0 and result.tv_distance == 0.0
    assert result.scores_steered == result.scores_clean  # same seeds, same games
    assert result.action_steered == result.action_clean == result.action_clean_own_games
    assert result.truncated_steered == 2 and result.steps_steered == 2 * 120


def test_clamping_hard_moves_the_policy_and_writes_pictures(small_pipeline: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    interpret = load_result(small_pipeline["interpret"])
    feature = int(np.argmax(interpret.max_activation))
    assert main(["steer", "--sae", str(small_pipeline["sae"]), "--feature", str(feature), "--strength", "200",
                 "--interpret", str(small_pipeline["interpret"]), "--episodes", "2", "--num-envs", "2",
                 "--max-steps", "120", "--gif-steps", "12", "--out", str(tmp_path / "s"),
                 "--json", str(tmp_path / "s.json"), "--no-progress"]) == 0
    assert f"feature {feature} clamp x200" in capsys.readouterr().out
    (r,) = SteeringRun.load(tmp_path / "s.json").results
    assert r.value == pytest.approx(200 * interpret.max_activation[feature], rel=1e-5)
    assert r.tv_distance > 0.2
    assert sum(r.action_clean) == pytest.approx(1) and sum(r.action_steered) == pytest.approx(1)
    # the clamped agent's greedy action barely depends on the state any more
    assert max(r.action_steered) > 0.9
    (loaded,) = load_steering(tmp_path / "s")
    heatmap = Image.open(loaded.heatmap)
    assert heatmap.size[0] > heatmap.size[1]  # two panels side by side
    gif = Image.open(loaded.gif)
    assert gif.n_frames == 6  # every 2nd of the 12 steps shown


def test_top_features_are_live_and_ranked_by_label_auroc(small_pipeline: dict[str, Path]) -> None:
    result = load_result(small_pipeline["interpret"])
    top = top_features(small_pipeline["interpret"], 5)
    assert len(top) == 5 and all(result.alive[f] for f in top)
    scores = np.nan_to_num(result.label_scores.auroc[top], nan=0.0)
    assert np.all(np.diff(scores) <= 0)
    assert scores[0] == np.nan_to_num(result.label_scores.auroc[result.alive], nan=0.0).max()


def test_bad_requests_are_user_errors(small_pipeline: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="either --feature"):
        _cfg(small_pipeline, tmp_path, top=3)
    with pytest.raises(UserError, match="--top needs --interpret"):
        _cfg(small_pipeline, tmp_path, feature=None, top=3)
    with pytest.raises(UserError, match="out of range"):
        steer_features(small_pipeline["sae"], [64], _cfg(small_pipeline, tmp_path))


def test_interrupted_steer_keeps_finished_features_and_skips_them_when_rerun(
        small_pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rlsae.analysis.steer as steer_module

    original, played = steer_module.play, []

    def play(*args: object, desc: str = "clean", **kwargs: object) -> object:
        played.append(desc)
        if desc == "feature 5":
            raise KeyboardInterrupt
        return original(*args, desc=desc, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(steer_module, "play", play)
    cfg = _cfg(small_pipeline, tmp_path / "stop", feature=None, top=2, interpret=small_pipeline["interpret"])
    with pytest.raises(KeyboardInterrupt):
        steer_features(small_pipeline["sae"], [3, 5], cfg)
    assert played == ["clean", "feature 3", "feature 5"]
    (kept,) = load_steering(tmp_path / "stop")  # feature 3 survived the interrupt
    assert kept.feature == 3 and kept.heatmap is not None and Path(kept.heatmap).is_file()

    played.clear()
    monkeypatch.setattr(steer_module, "play", lambda *a, desc="clean", **k: played.append(desc) or original(
        *a, desc=desc, **k))
    first, second = steer_features(small_pipeline["sae"], [3, 5], cfg)
    assert played == ["clean", "feature 5"]  # feature 3 was not steered again
    assert first == SteeringRun.load(tmp_path / "stop" / "steering.json").results[0]
    assert second.feature == 5
    played.clear()
    assert [r.feature for r in steer_features(small_pipeline["sae"], [5, 3], cfg)] == [5, 3]
    assert played == []  # all done: nothing is played
    with pytest.raises(UserError, match=r"other settings \(strength\)"):
        steer_features(small_pipeline["sae"], [3], _cfg(small_pipeline, tmp_path / "stop", feature=None, top=2,
                                                       interpret=small_pipeline["interpret"], strength=5.0))


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--top", "-3", "--top must be >= 0, got -3"),
    ("--strength", "nan", "--strength must be a finite number, got nan"),
    ("--episodes", "0", "--episodes must be >= 1, got 0"),
    ("--epsilon", "2", "--epsilon must be in [0, 1], got 2.0"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str,
                                        message: str) -> None:
    args = ["steer", "--sae", str(tmp_path / "sae"), "--out", str(tmp_path / "s"), flag, value]
    if flag != "--top":
        args += ["--feature", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"rlsae steer: error: {message}\n"
    assert not (tmp_path / "s").exists()


def test_goal_share_per_condition(small_pipeline: dict[str, Path], tmp_path: Path) -> None:
    # Every game starts standing still (no previous step to move from) and none eats all four pills in 30 steps.
    results = {}
    for goal in ("pacman_motion=still", "pills_left=0", "not pills_left=0"):
        (results[goal],) = steer_features(small_pipeline["sae"], [3], _cfg(
            small_pipeline, tmp_path / goal, mode="add", strength=0.0, goal=goal, goal_steps=30))
    still, none = results["pacman_motion=still"], results["pills_left=0"]
    assert still.goal_clean.share == still.goal_steered.share == 1.0
    assert still.goal_steered.first_step == [0, 0] and still.goal_clean.games == 2
    assert none.goal_clean.share == none.goal_steered.share == 0.0
    assert none.goal_steered.first_step == [None, None]
    assert len(none.goal_steered.path) == 30 and none.goal_steered.path == none.goal_clean.path
    assert results["not pills_left=0"].goal_clean.first_step == [0, 0]  # the negation holds from the start
    for typo in ("pacman_region=botom_left", "not pacman_region=botom_left", "pills_left=0 & pacman_region=botom_left"):
        with pytest.raises(UserError, match="pacman_region=bottom_left"):
            steer_features(small_pipeline["sae"], [3], _cfg(small_pipeline, tmp_path / "typo", goal=typo))


def test_games_from_recorded_states_begin_where_the_recording_stood(small_pipeline: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    from rlsae.analysis.interpret import sae_recording
    from rlsae.analysis.states import state_facts
    from rlsae.analysis.steer import choose_starts, play
    from rlsae.envs.facts import binary_facts

    rec = sae_recording(small_pipeline["sae"], None)
    cfg = _cfg(small_pipeline, tmp_path, starts=5, start_where="pacman_facing=left", goal_steps=7, num_envs=2)
    starts = choose_starts(rec, cfg.start_where, cfg.starts, cfg.seed)
    left = binary_facts(state_facts(rec, np.arange(len(rec))), "ms_pacman")["pacman_facing=left"]
    assert len(starts.indices) == 5 and left[starts.indices].all() and left.mean() < 0.6  # chance: 0.53 ** 5
    model, _ = rec.load_agent()
    played = play(model, rec.manifest["layer"], rec.manifest["game"], cfg, starts=starts)
    # Five games of 7 steps (none ends that soon), each opening on its recorded state's RAM, in start order.
    assert len(played.scores) == 5 and played.truncated == 0
    first = played.game_steps == 0
    assert np.bincount(played.games)[np.unique(played.games)].tolist() == [7] * 5
    opening = played.rams[first][np.argsort(played.games[first])]
    assert np.array_equal(opening, np.asarray(rec.ram)[starts.indices])

    (result,) = steer_features(small_pipeline["sae"], [3], _cfg(small_pipeline, tmp_path / "s", mode="add",
                               strength=0.0, starts=5, start_where="pacman_facing=left", goal="pacman_facing=left",
                               goal_steps=7))
    assert result.goal_clean is not None and result.goal_clean.games == 5 and result.goal_clean.first_step == [0] * 5
    assert result.scores_steered == result.scores_clean
    assert result.starts == StartsUsed(n=5, where="pacman_facing=left", steps=7)
    assert goal_change(result) == {"clean": 1.0, "steered": 1.0, "games": 5, "gained": 0, "lost": 0, "p": 1.0}
    assert "from 5 recorded states where pacman_facing=left: 100% -> 100% of 5 games" in describe_goal(result)
    with pytest.raises(UserError, match="--starts 100000: the recording has"):
        steer_features(small_pipeline["sae"], [3], _cfg(small_pipeline, tmp_path / "t", starts=100_000))
    with pytest.raises(UserError, match="--start-where needs --starts"):
        _cfg(small_pipeline, tmp_path / "u", start_where="pacman_facing=left")


def test_a_goal_change_is_paired_game_by_game() -> None:
    plain = SteeredFeature(feature=1, mode="clamp", strength=10.0, value=1.0, max_activation=0.1,
                           max_activation_source="test", tv_distance=0.0, score_clean=0.0, score_steered=0.0,
                           action_clean=[], action_steered=[], action_clean_own_games=[], scores_clean=[],
                           scores_steered=[], truncated_clean=0, truncated_steered=0, steps_steered=0, heatmap=None,
                           gif=None)

    def result(clean: list[int | None], steered: list[int | None]) -> SteeredFeature:
        def reached(first: list[int | None]) -> GoalReached:
            return GoalReached(share=0.0, games=len(first), first_step=first, path=[])

        return replace(plain, goal="pill_top_left", goal_steps=9, goal_clean=reached(clean),
                       goal_steered=reached(steered))

    # 6 games gained, none lost: the exact two-sided p is 2 / 2**6.
    gained = goal_change(result([None] * 6 + [3, 4], [1, 2, 3, 4, 5, 6, 3, 4]))
    assert gained == {"clean": 0.25, "steered": 1.0, "games": 8, "gained": 6, "lost": 0, "p": 2 / 64}
    # Same shares, different games: 2 gained and 2 lost is no change.
    swapped = goal_change(result([1, 2, None, None], [None, None, 1, 2]))
    assert (swapped["clean"], swapped["steered"], swapped["gained"], swapped["lost"]) == (0.5, 0.5, 2, 2)
    assert swapped["p"] == 1.0
    assert describe_goal(plain) == ""


def test_starts_that_cannot_be_recreated_are_a_one_line_error(small_pipeline: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rlsae.record.recording import Recording
    from rlsae.record.render import ReplayMismatch

    def mismatch(self: Recording, indices: object) -> None:
        raise ReplayMismatch("replaying episode 0 to step 5 gave a different RAM than recorded")

    monkeypatch.setattr(Recording, "restart_points", mismatch)
    with pytest.raises(UserError, match="--starts: cannot re-create the recording's states here: replaying"):
        steer_features(small_pipeline["sae"], [3], _cfg(small_pipeline, tmp_path, starts=2))
