"""`rlsae demo` end to end at a tiny size: every stage runs, the summary has the promised keys, and a
second run reuses the finished stages."""

import json
from pathlib import Path

import torch

from rlsae.common.records import schema
from rlsae.demo import DemoConfig, DemoSummary, format_summary, run_demo

EVALUATION_KEYS = ("fvu", "l0", "dead_fraction", "action_agreement", "action_agreement_large_gap",
                   "advantage_rel_error", "regret", "score_clean", "score_spliced")
SUMMARY_KEYS = ("labels.n_labeled", "labels.labeled_fraction", "labels.mean_label_precision", "facts.mean_best_f1")


def test_demo_runs_every_stage_and_resumes(tmp_path: Path, capsys, conforms) -> None:
    torch.set_num_threads(1)
    cfg = DemoConfig(out=tmp_path / "demo", steps=3000, samples=20_000, episodes=1, steer_top=1,
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
    assert set(saved["stage_seconds"]) == {"record", "train-sae", "evaluate", "interpret", "steer", "browse"}
    assert Path(saved["browser"]).name == "index.html" and Path(saved["browser"]).exists()
    assert "open the feature browser" in format_summary(summary)
    assert "explained share" in format_summary(summary) and interpreted["explain_rule"] in format_summary(summary)
    steered = json.loads((tmp_path / "demo" / "steer" / "steering.json").read_text())["results"]
    assert [(r["feature"], r["scores_clean"], r["scores_steered"]) for r in saved["steering"]] == [
        (r["feature"], r["scores_clean"], r["scores_steered"]) for r in steered]
    assert len(saved["steering"][0]["scores_steered"]) == 2
    # the score change is quoted with its spread and a verdict on chance
    assert "standard error" in format_summary(summary) and "chance" in format_summary(summary)

    again = run_demo(cfg)
    assert set(again.stage_seconds) == {"browse"}  # everything else was reused
    assert "already done" in capsys.readouterr().out
