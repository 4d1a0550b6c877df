"""`rlsae demo` end to end at a tiny size: every stage runs, the summary has the promised keys, and a
second run reuses the finished stages."""

import json
from pathlib import Path

import torch

from rlsae.common.records import schema
from rlsae.demo import DemoConfig, DemoSummary, _format_goals, best_handles, format_summary, run_demo

EVALUATION_KEYS = ("fvu", "l0", "dead_fraction", "action_agreement", "action_agreement_large_gap",
                   "advantage_rel_error", "regret", "score_clean", "score_spliced")
SUMMARY_KEYS = ("labels.n_labeled", "labels.labeled_fraction", "labels.mean_label_precision", "facts.mean_best_f1")


def test_demo_runs_every_stage_and_resumes(tmp_path: Path, capsys, conforms) -> None:
    torch.set_num_threads(1)
    cfg = DemoConfig(out=tmp_path / "demo", steps=3000, samples=20_000, episodes=1, bench_starts=3, steer_top=1,
                     steer_episodes=2, progress=False)
    summary = run_demo(cfg)
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    interpreted = saved["interpret"]  # interpret's own summary.json, whole
    on_disk = json.loads((tmp_path / "demo" / "interpret" / "summary.json").read_text())
    on_disk = {k: v for k, v in on_disk.items() if k not in ("kind", "version")}
    assert json.dumps(interpreted, sort_keys=True) == json.dumps(on_disk, sort_keys=True)
    for units in ("features", "neurons"):
        for key in SUMMARY_KEYS:
            part, name = key.split(".")
            assert interpreted[units][part][name] is not None, (units, key)
    for key in EVALUATION_KEYS:
        assert saved["evaluation"][key] is not None, key
    assert interpreted["n_features"] == 2048 and interpreted["label_rule"] and 0 <= saved["evaluation"]["fvu"] < 1
    assert conforms(saved, schema(DemoSummary))
    assert DemoSummary.load(tmp_path / "demo" / "summary.json").to_json() == json.loads(json.dumps(summary.to_json()))
    assert set(saved["stage_seconds"]) == {"record", "train-sae", "evaluate", "interpret", "steer-bench", "steer",
                                           "browse"}
    assert Path(saved["browser"]).name == "index.html" and Path(saved["browser"]).exists()
    assert "open the feature browser" in format_summary(summary)
    assert "explained share" in format_summary(summary) and interpreted["explain_rule"] in format_summary(summary)
    steered = json.loads((tmp_path / "demo" / "steer" / "steering.json").read_text())["results"]
    assert [(r["feature"], r["scores_clean"], r["scores_steered"]) for r in saved["steering"]] == [
        (r["feature"], r["scores_clean"], r["scores_steered"]) for r in steered]
    assert len(saved["steering"][0]["scores_steered"]) == 2
    # the score change is quoted with its spread and a verdict on chance
    assert "standard error" in format_summary(summary) and "chance" in format_summary(summary)

    # per benchmarked goal, the handle that reached it most often at the largest edit, as steer-bench scored it
    bench = json.loads((tmp_path / "demo" / "steer-bench" / "steer_bench.json").read_text())["goals"]
    assert [g["goal"] for g in saved["steering_goals"]] == [g["goal"] for g in bench]
    for shown, goal in zip(saved["steering_goals"], bench):
        top = max(h["size_ratio"] for h in goal["handles"])
        at = [h for h in goal["handles"] if h["size_ratio"] == top]
        assert shown["success"] == max(h["success"] for h in at) and shown["clean_success"] == goal["clean_success"]
        assert any((h["handle"], h["unit"], h["p_clean"]) == (shown["handle"], shown["unit"], shown["p_clean"])
                   for h in at)
        assert shown["goal"] in format_summary(summary)

    again = run_demo(cfg)
    # everything else was reused (steer-bench runs again but skips the goals it holds)
    assert set(again.stage_seconds) == {"steer-bench", "browse"}
    assert again.steering_goals == summary.steering_goals
    assert "already done" in capsys.readouterr().out


def test_the_best_handle_per_goal_is_the_most_successful_at_the_largest_edit(steer_bench_record) -> None:
    [goal] = best_handles(steer_bench_record)
    assert (goal.goal, goal.handle, goal.unit, goal.success, goal.clean_success) == (
        "eat_pill_top_left", "best feature", 7, 1.0, 0.0)
    assert goal.feature_beats_all  # p 2/256 against every rival, and it moves the policy less than the controls
    assert "best feature #7 100%" in _format_goals([goal])
