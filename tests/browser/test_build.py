"""`rlsae browse` on a real interpret output: every frame is the recorded state it claims to be."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rlsae.analysis.explain_summary import EXPLANATION_SCORES
from rlsae.analysis.labels import LABEL_SCORES
from rlsae.analysis.results import load_result
from rlsae.analysis.steer import SteerConfig, steer_features
from rlsae.analysis.steer_results import GoalReached, StartsUsed, SteeredFeature
from rlsae.browser.build import MAX_CURVE_POINTS, BrowseConfig, browse, training_curves
from rlsae.browser.context import CLIP_RADIUS
from rlsae.browser.frames import SHEET_STEPS, render_tiles
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.envs.games.ms_pacman import PACMAN_OFFSET, PACMAN_X, PACMAN_Y
from rlsae.record import Recording
from rlsae.sae.evaluation import Evaluation

CALL = re.compile(r"^RLSAE\.(\w+)\((.*)\);\s*$", re.DOTALL)


def read_js(path: Path) -> object:
    match = CALL.match(path.read_text())
    assert match, f"{path} is not a data call"
    return json.loads(match.group(2))


@pytest.fixture(scope="module")
def site(small_pipeline: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An export with a partial evaluation, a training log and one steered feature."""
    root = tmp_path_factory.mktemp("site")
    result = load_result(small_pipeline["interpret"])
    steered = int(np.argmax(result.max_activation))
    steer_features(small_pipeline["sae"], [steered],
                   SteerConfig(sae=small_pipeline["sae"], feature=steered, episodes=1, num_envs=1, max_steps=40,
                               gif_steps=6, out=root / "steer", progress=False))
    evaluation = root / "eval.json"
    density = root / "density.png"
    Image.new("RGB", (30, 20), "white").save(density)
    Evaluation(sae="s", recording="r", architecture="topk", d_in=512, d_sae=64, k=4, states=100, fvu=0.12, l0=4.0,
               dead_fraction=0.25, dense_fraction=0.0, mse=1.0, score_clean=300.0, score_spliced=250.0,
               density_png=str(density)).save(evaluation)
    log = root / "log.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "fvu": 1 / (s + 1), "l0": 4, "note": "x"}) for s in range(10)))
    assert main(["browse", "--interpret", str(small_pipeline["interpret"]), "--out", str(root / "web"),
                 "--evaluation", str(evaluation), "--training-log", str(log), "--steering", str(root / "steer"),
                 "--top-frames", "3", "--quantile-frames", "1", "--no-progress"]) == 0
    return {"out": root / "web", "result": result, "steered": steered}


def test_summary_holds_metrics_fidelity_curves_and_the_neuron_baseline(site: dict[str, object]) -> None:
    summary = read_js(site["out"] / "data" / "summary.js")  # type: ignore[operator]
    rows = {row["key"]: row for row in summary["fidelity"]}
    assert rows["fvu"]["value"] == 0.12 and rows["score_spliced"]["shown"] == "250 points"
    assert rows["score_clean"]["meaning"].startswith("the agent as trained scores 300 points a game")
    assert rows["dead_fraction"]["name"] == "dead features" and "25.0%" in rows["dead_fraction"]["meaning"]
    assert "regret" not in rows and "score_zero_ablation" not in rows  # absent: left out, not invented
    assert set(summary["metrics"]) == {"live_features", "labeled_fraction", "neuron_labeled_fraction"}
    assert [c["key"] for c in summary["label_scores"]] == list(LABEL_SCORES)  # the page's label columns
    assert [p["step"] for p in summary["training_curves"]] == list(range(10))
    assert "note" not in summary["training_curves"][0]
    assert set(summary["label_comparison"]) == {"neurons", "features"}
    features = site["result"].summary.features  # type: ignore[attr-defined]
    compared = summary["label_comparison"]
    assert [r["key"] for r in compared["features"]] == [r["key"] for r in compared["neurons"]]  # one row per number
    shown = {r["key"]: r for r in compared["features"]}
    assert shown["mean_best_f1"]["value"] == pytest.approx(features.facts.mean_best_f1, rel=1e-4)  # export rounds
    assert shown["coverage_0.5"]["value"] == pytest.approx(features.facts.covered(0.5), rel=1e-4)
    assert shown["probe_1"]["value"] == pytest.approx(features.facts.probe(1), rel=1e-4)
    assert shown["n_units"]["value"] == features.labels.n_units
    assert shown["probe_1"]["name"] == "1-sparse probe accuracy"
    assert "balanced held-out states" in shown["probe_1"]["meaning"]
    assert summary["n_features"] == 64 and summary["agent"]["score"] == 300.0
    assert "density_png" not in summary  # one histogram, drawn in the page from the interpret sample
    result = site["result"]
    assert summary["density_sample"].startswith(f"the {result.summary.n_states:,} states")  # type: ignore[attr-defined]
    assert sum(v is None for v in summary["density_log10"]) == int((result.density == 0).sum())  # type: ignore[attr-defined]


def test_headlines_and_list_rows_come_from_the_interpret_summary(site: dict[str, object]) -> None:
    result = site["result"]
    summary = read_js(site["out"] / "data" / "summary.js")  # type: ignore[operator]
    named = [h for h in result.summary.headlines if h.feature is not None]  # type: ignore[attr-defined]
    assert named, "the tiny run should find a best unit for some headline fact"
    assert [h["title"] for h in summary["headlines"]] == [h.title for h in named]
    for shown, h in zip(summary["headlines"], named):
        assert (shown["feature"], shown["fact"], shown["firings"]) == (h.feature.unit, h.feature.fact,
                                                                       h.feature.scores.firings)
    table = read_js(site["out"] / "data" / "features.js")  # type: ignore[operator]
    rows = [dict(zip(table["columns"], row)) for row in table["rows"]]
    effect = result.action_effect  # type: ignore[attr-defined]
    for row in rows[:20]:
        centred = effect[row["id"]] - effect[row["id"]].mean()
        if row["top_action"] is not None:
            assert row["top_action"] == int(np.argmax(centred)) and row["bottom_action"] == int(np.argmin(centred))
    assert any(row["facts"] for row in rows)
    assert all(len(row["map_xy"]) == 2 and max(map(abs, row["map_xy"])) <= 1 for row in rows)


def test_frames_are_the_recorded_states_and_steering_is_attached(site: dict[str, object],
                                                                small_pipeline: dict[str, Path]) -> None:
    out, result = site["out"], site["result"]
    rec = Recording.open(small_pipeline["recording"])
    table = read_js(out / "data" / "features.js")  # type: ignore[operator]
    assert len(table["rows"]) == 64
    table = read_js(out / "data" / "frames.js")  # type: ignore[operator]
    ids, steps = np.asarray(rec.episode_ids), np.asarray(rec.episode_steps)
    checked = 0
    for feature in np.flatnonzero(result.alive)[:3]:  # type: ignore[attr-defined]
        detail = read_js(out / "data" / "f" / f"{feature}.js")  # type: ignore[operator]
        groups = detail["frames"]
        assert groups[0]["title"] == "top activations" and len(groups[0]["items"]) <= 3
        assert all(len(g["items"]) <= 1 for g in groups[1:])
        item = groups[0]["items"][0]
        assert item["activation"] == pytest.approx(result.max_activation[feature], rel=1e-5)
        np.testing.assert_array_equal(shown_frame(out, table, item["frame"]), rec.render_frames([item["step"]])[0])
        # the clip: consecutive steps of the example's episode around it, each the recorded screen, with the
        # feature's activation (encoded again here: it must agree with interpret's) and the player's place
        clip, g = item["clip"], item["step"]
        assert clip["frames"][clip["centre"]] == item["frame"] and len(clip["frames"]) <= 2 * CLIP_RADIUS + 1
        assert clip["activations"][clip["centre"]] == pytest.approx(item["activation"], rel=1e-4)
        around = np.flatnonzero((ids == ids[g]) & (np.abs(steps - steps[g]) <= CLIP_RADIUS))
        around = around[np.argsort(steps[around])]
        assert len(around) == len(clip["frames"])
        rendered = rec.render_frames(around)
        ram = np.asarray(rec.ram[around]).astype(float)  # the player's place from its RAM bytes, as documented
        positions = np.c_[ram[:, PACMAN_X] + PACMAN_OFFSET[0], ram[:, PACMAN_Y] + PACMAN_OFFSET[1]]
        for k, frame in enumerate(clip["frames"]):
            np.testing.assert_array_equal(shown_frame(out, table, frame), rendered[k])
            assert table["frames"][frame][3:] == pytest.approx(list(positions[k]))
        checked += 1
    assert checked == 3
    listed = read_js(out / "data" / "features.js")  # type: ignore[operator]
    for feature in range(64):  # each label carries its held-out scores, named as in LabelScores; unlabeled none
        detail = read_js(out / "data" / "f" / f"{feature}.js")  # type: ignore[operator]
        scores = detail["label_scores"]
        assert (scores is None) == (detail["label"] is None)
        assert scores is None or list(scores) == list(LABEL_SCORES)  # exactly the record's fields, no copies
        row = dict(zip(listed["columns"], listed["rows"][feature]))
        for name in LABEL_SCORES:
            kept = getattr(result.label_scores, name)[feature]  # type: ignore[attr-defined]
            shown = None if scores is None or not np.isfinite(kept) else pytest.approx(kept, rel=1e-4)
            assert (scores or {}).get(name) == shown and row[name] == shown, (feature, name)
    steering = read_js(out / "data" / "f" / f"{site['steered']}.js")["steering"]  # type: ignore[operator]
    assert steering["mode"] == "clamp" and 0 <= steering["tv_distance"] <= 1
    assert (out / steering["heatmap"]).is_file() and (out / steering["gif"]).read_bytes()[:4] == b"GIF8"


def test_each_feature_carries_its_explanation_and_the_summary_compares_explained_shares(
        site: dict[str, object]) -> None:
    """The page's explanation of every feature is interpret's: its formula, its held-out scores under the
    record's field names, its verdict; the list rows carry the same; the comparison adds the explained share."""
    out, result = site["out"], site["result"]
    stored = result.explanations  # type: ignore[attr-defined]
    listed = read_js(out / "data" / "features.js")  # type: ignore[operator]
    summary = read_js(out / "data" / "summary.js")  # type: ignore[operator]
    assert [c["key"] for c in summary["explanation_scores"]] == list(EXPLANATION_SCORES)
    assert summary["explain_rule"] == result.summary.explain_rule  # type: ignore[attr-defined]
    assert any(x is not None for x in stored.formula)
    for feature in range(64):
        detail = read_js(out / "data" / "f" / f"{feature}.js")  # type: ignore[operator]
        row = dict(zip(listed["columns"], listed["rows"][feature]))
        assert detail["explanation"] == row["explanation"] == stored.formula[feature]
        assert detail["explained"] == row["explained"] == bool(stored.explained[feature])
        scores = detail["explanation_scores"]
        assert (scores is None) == (stored.formula[feature] is None)
        if scores is not None:
            assert list(scores) == list(EXPLANATION_SCORES)
            for name in EXPLANATION_SCORES:
                kept = stored.scores[name][feature]
                assert scores[name] == (pytest.approx(float(kept), rel=1e-4) if np.isfinite(kept) else None)
            assert row["explanation_f1"] == pytest.approx(scores["f1"], rel=1e-4)  # the list rounds to 5 digits
        # the place field is interpret's per-tile mean, rows top to bottom; dead features have none
        field = detail["place_field"]
        assert (field is None) == (not result.alive[feature])  # type: ignore[attr-defined]
        if field is not None:
            kept = result.place_mean[feature]  # type: ignore[attr-defined]
            assert [[None if v is None else pytest.approx(v, abs=1e-4) for v in r] for r in field["values"]] == [
                [None if np.isnan(v) else float(v) for v in r] for r in kept]
    for kind, stats in (("features", result.summary.features), ("neurons", result.summary.neurons)):  # type: ignore[attr-defined]
        shown = {r["key"]: r for r in summary["label_comparison"][kind]}
        assert shown["explained_fraction"]["value"] == pytest.approx(stats.explanations.explained_fraction, rel=1e-4)
        assert shown["mean_f1"]["name"] == "mean explanation F1"


def shown_frame(out: Path, table: dict, frame: int) -> np.ndarray:
    """The RGB frame the page shows for frame number ``frame``: its tile cut out of its sheet."""
    sheet, index, count = table["frames"][frame][:3]
    image = np.asarray(Image.open(io.BytesIO((out / table["sheets"][sheet]).read_bytes())).convert("RGB"))
    height = image.shape[0] // count
    return image[index * height:(index + 1) * height]


def test_each_live_feature_says_whether_the_other_seed_finds_it_again(other_seed_pipeline: dict[str, Any],
                                                                      site: dict[str, object], tmp_path: Path) -> None:
    """The page data of an interpret run with --other-sae (a shuffled copy, every third row reversed): each live
    feature's match is interpret's, the list sorts by its cosine, the summary holds the share; without one,
    nothing of it is exported."""
    out = tmp_path / "web"
    assert main(["browse", "--interpret", str(other_seed_pipeline["interpret"]), "--out", str(out),
                 "--top-frames", "1", "--quantile-frames", "0", "--no-progress"]) == 0
    result = load_result(other_seed_pipeline["interpret"])
    found, at = other_seed_pipeline["found"], other_seed_pipeline["at"]
    summary = read_js(out / "data" / "summary.js")
    table = read_js(out / "data" / "features.js")
    shown = {r["key"]: r for r in summary["found_again"]}  # type: ignore[index]
    assert summary["found_threshold"] == pytest.approx(0.9)  # type: ignore[index]
    assert shown["found_fraction"]["value"] == pytest.approx(result.summary.found_again.found_fraction)
    assert shown["n_found"]["value"] == int((result.alive & found).sum()) > 0
    assert summary["provenance"]["other seed's SAE"] == str(other_seed_pipeline["other"])  # type: ignore[index]
    for feature in range(result.d_sae):
        match = read_js(out / "data" / "f" / f"{feature}.js")["other_seed"]  # type: ignore[index]
        row = dict(zip(table["columns"], table["rows"][feature]))  # type: ignore[index]
        if not result.alive[feature]:
            assert match is None and row["found_cosine"] is None
            continue
        assert match["found"] == bool(found[feature])
        assert row["found_cosine"] == pytest.approx(match["cosine"], abs=1e-4)
        if found[feature]:
            assert match["nearest"] == at[feature] and match["cosine"] == pytest.approx(1.0, abs=1e-4)
        else:
            assert match["cosine"] < 0.9
    plain = read_js(site["out"] / "data" / "summary.js")  # type: ignore[operator]
    assert plain["found_again"] == [] and plain["found_threshold"] is None  # type: ignore[index]
    assert read_js(site["out"] / "data" / "f" / "0.js")["other_seed"] is None  # type: ignore[operator,index]


def test_tiles_hold_whole_blocks_and_parallel_rendering_matches_serial(small_pipeline: dict[str, Path]) -> None:
    rec = Recording.open(small_pipeline["recording"])
    indices = np.random.default_rng(0).choice(len(rec), 40, replace=False)
    serial, answer = render_tiles(rec, np.r_[indices, indices[:5]], workers=1, progress=False, meanwhile=lambda: 42)
    assert answer == 42
    ids, steps = np.asarray(rec.episode_ids), np.asarray(rec.episode_steps)
    blocks = {(ids[g], steps[g] // SHEET_STEPS) for g in indices}
    assert set(serial) == set(np.flatnonzero([(i, s // SHEET_STEPS) in blocks for i, s in zip(ids, steps)]))
    for g in indices[:5]:
        tile = serial[int(g)]
        image = np.asarray(Image.open(io.BytesIO(tile.sheet)).convert("RGB"))
        height = image.shape[0] // tile.count
        np.testing.assert_array_equal(image[tile.index * height:(tile.index + 1) * height], rec.render_frames([g])[0])
    parallel, answer = render_tiles(rec, indices, workers=2, progress=False, meanwhile=lambda: len(rec))
    assert answer == len(rec)
    assert {g: (t.sheet, t.index, t.count) for g, t in parallel.items()} == \
        {g: (t.sheet, t.index, t.count) for g, t in serial.items()}


def test_training_curves_are_thinned_keeping_the_last_point(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "fvu": 0.5}) for s in range(1001)) + "\n\n")
    points = training_curves(log)
    assert len(points) <= MAX_CURVE_POINTS + 1 and points[0]["step"] == 0 and points[-1]["step"] == 1000


def test_missing_inputs_are_one_line_errors(small_pipeline: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["browse", "--interpret", str(tmp_path), "--out", str(tmp_path / "w")]) == 2
    assert "no interpret output" in capsys.readouterr().err
    with pytest.raises(UserError, match="not valid JSON"):
        bad = tmp_path / "bad.json"
        bad.write_text("{")
        browse(BrowseConfig(interpret=small_pipeline["interpret"], out=tmp_path / "w", evaluation=bad,
                            progress=False))


def test_a_score_change_comes_with_its_standard_error_and_a_verdict() -> None:
    from rlsae.browser.build import score_change

    noisy = score_change([300.0, 900.0, 500.0, 700.0, 600.0], [400.0, 1000.0, 600.0, 800.0, 700.0])
    assert "600 \u00b1 100 -> 700 \u00b1 100" in noisy and "change +100 \u00b1 141" in noisy
    assert "not distinguishable from chance" in noisy and "rough" not in noisy
    clear = score_change([500.0, 510.0, 490.0, 505.0, 495.0], [900.0, 910.0, 890.0, 905.0, 895.0])
    assert "unlikely to be chance" in clear
    assert "not established" in score_change([545.0], [1165.0])


def test_a_sweep_result_is_read_with_its_numbers_and_plot(tmp_path: Path) -> None:
    from rlsae.browser.build import read_sweep
    from rlsae.sweep import SWEEP_JSON, SWEEP_PNG, SweepArm, SweepResult, SweepRow, analyse, analyse_runs

    # live counts that peak in the middle, as the paper's quadratic claims: the fit must find the peak
    live = [100, 300, 500, 700, 900]
    rows = [SweepRow(f"step{n}", "agents", n, 1000 - (n - 500) ** 2 / 400, 10.0, 30, {"default": SweepArm(
        Evaluation(sae="s", recording="r", architecture="topk", d_in=512, d_sae=2048, k=32, states=100, fvu=0.1,
                   l0=32.0, dead_fraction=1 - n / 2048, dense_fraction=0.0, mse=1.0), live=n)}, "run1") for n in live]
    analysis = analyse_runs(rows, ("default",), 2048, 0)
    SweepResult(rows, analyse(rows, ("default",)), analysis, analysis["default"].verdict, {}, {}).save(
        tmp_path / SWEEP_JSON)
    Image.new("RGB", (40, 20), "white").save(tmp_path / SWEEP_PNG)
    sweep = read_sweep(tmp_path)
    assert sweep.plot == tmp_path / SWEEP_PNG and "5 agents" in sweep.note
    assert sweep.note.startswith("With our recipe (1 run, 5 agents): cannot tell")  # the verdict comes first
    assert sweep.numbers["default SAE: quadratic fit R\u00b2"] == pytest.approx(1.0)
    assert sweep.numbers["default SAE: fit's peak (live features)"] == pytest.approx(500.0)
    assert sweep.numbers["default SAE: Spearman rho (score, live features)"] == pytest.approx(0.0)
    # a sweep.json from before versions: rerunning the sweep (its stages are reused) writes it again
    (tmp_path / SWEEP_JSON).write_text(json.dumps({"rows": [], "statistics": {}}))
    with pytest.raises(UserError, match="older rlsae.*rerun `rlsae sweep`"):
        read_sweep(tmp_path)


def test_a_steering_note_says_where_the_games_began_and_how_the_goal_went() -> None:
    from rlsae.browser.build import _steering

    def reached(first: list[int | None]) -> GoalReached:
        return GoalReached(share=0.0, games=len(first), first_step=first, path=[])

    result = SteeredFeature(
        feature=7, mode="clamp", strength=3.0, value=3.0, max_activation=1.0, max_activation_source="test",
        tv_distance=0.1, score_clean=10.0, score_steered=20.0, scores_clean=[0.0, 20.0], scores_steered=[10.0, 30.0],
        action_clean=[1.0], action_steered=[1.0], action_clean_own_games=[1.0], truncated_clean=0,
        truncated_steered=0, steps_steered=100, heatmap=None, gif=None,
        starts=StartsUsed(n=2, where="pill_top_left", steps=50), goal="not pill_top_left", goal_steps=50,
        goal_clean=reached([None, 4]), goal_steered=reached([9, 4]))
    note = _steering([result])[7].note
    assert note.startswith("Games from 2 recorded states, 50 steps each")
    assert note.endswith("Goal: not pill_top_left within 50 steps from 2 recorded states where pill_top_left: "
                         "50% -> 100% of 2 games (1 gained, 0 lost; paired p = 1).")
    result = replace(result, starts=None, goal=None)
    assert "recorded" not in _steering([result])[7].note and "Goal" not in _steering([result])[7].note
