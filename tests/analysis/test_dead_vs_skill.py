"""Dead features vs skill over runs, on planted runs where the answer is known: the live share follows only
training steps, or only score, while score and steps rise together within every run."""

from __future__ import annotations

import numpy as np
import pytest

from rlsae.analysis.dead_vs_skill import Point, analyse_arm, partial_correlation, planted_runs, run_model


@pytest.mark.parametrize("follows", ["steps", "score"])
def test_the_partial_correlation_finds_what_the_live_share_follows(follows: str) -> None:
    points = planted_runs(follows)
    a = analyse_arm(points, "planted", seed=1, replicates=400)
    other = "score" if follows == "steps" else "steps"
    held = {"steps": a.partial_steps, "score": a.partial_score}  # each: live share vs that, the other fixed
    # What the live share does not follow: ~0 given the other, and its interval includes 0.
    assert abs(held[other].value) < 0.3 and held[other].low < 0 < held[other].high
    # What it follows: strongly, and its interval excludes 0.
    assert held[follows].value > 0.7 and held[follows].low > 0.3
    # The run-intercept model says the same with its two slopes.
    slopes = {"score": a.model_score, "steps": a.model_steps}
    assert slopes[follows].low > 0 and slopes[other].low < 0 < slopes[other].high
    expected = {"steps": "live features track training time, not score",
                "score": "live features track score, not training time"}[follows]
    assert a.verdict.startswith(f"planted (6 runs, {len(points)} agents): {expected} (partial r with score given ")
    # Within each run the two are tied, so the per-run correlations cannot tell: both high everywhere.
    assert all(t.live_vs_score > 0.6 and t.live_vs_steps > 0.6 for t in a.per_run) and a.score_vs_steps > 0.5


def test_one_run_or_pure_noise_cannot_tell() -> None:
    one = [p for p in planted_runs("score") if p.run == "seed0"]
    a = analyse_arm(one, "one run", replicates=100)
    assert a.runs == 1 and a.partial_score.low is None and "cannot tell" in a.verdict and "from one run" in a.verdict
    b = analyse_arm(planted_runs("neither", seed=3), "noise", seed=2, replicates=400)
    assert b.verdict.startswith("noise (6 runs, 42 agents): cannot tell whether")


def test_partial_correlation_and_run_model_on_exact_data() -> None:
    # Live share a monotone function of steps exactly: given steps, nothing is left (undefined, not 0).
    points = planted_runs("steps")
    exact = [Point(p.run, p.steps, p.score, float(np.log(p.steps))) for p in points]
    assert np.isnan(partial_correlation(exact, "score", "steps"))
    assert partial_correlation(exact, "steps", "score") > 0.9
    score_slope, steps_slope = run_model(exact)
    assert abs(score_slope) < 0.1 < steps_slope
    # One checkpoint per run: the run intercepts take everything, the slopes are undefined.
    assert np.isnan(run_model([p for p in points if p.steps == points[0].steps])[0])
