"""Dead features vs skill over several runs: does an SAE's live-feature share follow the agent's score or its
training time?

Within one run, score and training steps rise together, so a correlation of live features with either says
nothing of which one they follow. Several runs (seeds, lengths) break the tie: at equal steps their scores
differ. The numbers here work on ranks (so a monotone curve in steps or score counts as "follows"):

- partial correlations: live share vs score with steps held fixed, and vs steps with score held fixed;
- a random-intercept model fit by least squares: live share ~ run intercept + score + steps (standardised
  ranks), whose two slopes say the same within runs;
- per-run Spearman correlations, the raw material the pooled numbers summarise;
- bootstrap 95% intervals that resample runs, then checkpoints within each drawn run (checkpoints of one run
  are not independent, so runs are the unit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from rlsae.analysis.sweep_results import ArmAnalysis, Interval, RunTrend

BOOTSTRAP = 2000
"""Bootstrap replicates per interval (percentile intervals; 2,000 keep the 2.5% tails to about +-0.01)."""


@dataclass(frozen=True)
class Point:
    """One agent (a checkpoint of a run) and its SAE's share of live features."""

    run: str
    steps: float
    score: float
    live_share: float


def _standard(x: np.ndarray) -> np.ndarray:
    spread = x.std()
    return (x - x.mean()) / spread if spread > 0 else np.zeros_like(x)


@dataclass(frozen=True)
class _Sample:
    """Points as arrays: each run's index and the standardised ranks of live share, score and steps."""

    run: np.ndarray
    live: np.ndarray
    score: np.ndarray
    steps: np.ndarray

    @classmethod
    def of(cls, run: np.ndarray, live: np.ndarray, score: np.ndarray, steps: np.ndarray) -> _Sample:
        return cls(np.unique(run, return_inverse=True)[1], *(_standard(rankdata(x)) for x in (live, score, steps)))


def _arrays(points: Sequence[Point]) -> tuple[np.ndarray, ...]:
    runs = {name: i for i, name in enumerate(dict.fromkeys(p.run for p in points))}
    return (np.array([runs[p.run] for p in points]), *(np.array([getattr(p, key) for p in points], float)
                                                        for key in ("live_share", "score", "steps")))


def _residual(y: np.ndarray, control: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(y)), control])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b / norm) if norm > 1e-12 else float("nan")


def _partial(s: _Sample, of: str, given: str) -> float:
    control = getattr(s, given)
    return _correlation(_residual(s.live, control), _residual(getattr(s, of), control))


def _model(s: _Sample) -> tuple[float, float]:
    design = np.column_stack([np.eye(s.run.max() + 1)[s.run], s.score, s.steps])
    if len(s.run) <= design.shape[1] or np.linalg.matrix_rank(design) < design.shape[1]:
        return float("nan"), float("nan")
    coef, *_ = np.linalg.lstsq(design, s.live, rcond=None)
    return float(coef[-2]), float(coef[-1])


def _statistics(s: _Sample) -> np.ndarray:
    """What the intervals are for: the two partial correlations and the model's two slopes."""
    return np.array([_partial(s, "score", "steps"), _partial(s, "steps", "score"), *_model(s)])


def partial_correlation(points: Sequence[Point], of: str, given: str) -> float:
    """Spearman partial correlation of live share with ``of`` ("score" or "steps") holding ``given`` fixed:
    the correlation of the two ranks' residuals after a linear fit on the ``given`` rank (nan when undefined)."""
    return _partial(_Sample.of(*_arrays(points)), of, given)


def run_model(points: Sequence[Point]) -> tuple[float, float]:
    """The slopes (score, steps) of live share ~ run intercept + score + steps, on standardised ranks, fit by
    least squares with one intercept per run; nan where the design cannot separate them (rank deficient)."""
    return _model(_Sample.of(*_arrays(points)))


def spearman(points: Sequence[Point], of: str) -> float | None:
    """Spearman's rho of live share with ``of``; None with fewer than 3 points or nothing varying."""
    if len(points) < 3:
        return None
    s = _Sample.of(*_arrays(points))
    value = _correlation(s.live, getattr(s, of))
    return None if np.isnan(value) else value


def bootstrap(points: Sequence[Point], replicates: int = BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """95% percentile intervals of the :func:`_statistics` ([4, 2]: low, high; nan where under half the
    replicates give a number) over resamples that draw runs with replacement, then each drawn run's
    checkpoints with replacement."""
    run, live, score, steps = _arrays(points)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(run == r) for r in range(run.max() + 1)]
    values = np.empty((replicates, 4))
    for b in range(replicates):
        drawn = [members[r] for r in rng.integers(len(members), size=len(members))]
        picked = np.concatenate([m[rng.integers(len(m), size=len(m))] for m in drawn])
        # A run drawn twice enters as two runs: each copy keeps its own intercept in the run model.
        copy = np.repeat(np.arange(len(drawn)), [len(m) for m in drawn])
        values[b] = _statistics(_Sample.of(copy, live[picked], score[picked], steps[picked]))
    enough = np.isfinite(values).sum(0) >= replicates / 2
    bounds = np.full((4, 2), np.nan)
    for i in np.flatnonzero(enough):
        bounds[i] = np.percentile(values[np.isfinite(values[:, i]), i], [2.5, 97.5])
    return bounds


def planted_runs(follows: str, runs: int = 6, steps: Sequence[float] = (2.5e5, 5e5, 1e6, 2e6, 4e6, 6e6, 8e6),
                 noise: float = 0.002, seed: int = 0) -> list[Point]:
    """Runs where the answer is known: each run's score curve rises with steps, scaled by its own skill (0.3x
    to 2x), so at equal steps score differs across runs; the live share is a noisy monotone curve of
    ``follows`` alone ("steps", "score") or of neither ("neither": noise only)."""
    rng = np.random.default_rng(seed)
    points = []
    for r in range(runs):
        skill = 0.3 + 1.7 * r / max(runs - 1, 1)
        for step in steps:
            score = skill * 1000 * np.log1p(step / 2e5) + rng.normal(0, 60)
            driver = {"steps": np.log(step), "score": score / 1000, "neither": 0.0}[follows]
            points.append(Point(f"seed{r}", float(step), float(score),
                                float(0.05 + 0.02 * driver + rng.normal(0, noise))))
    return points


def _interval(value: float, bounds: np.ndarray) -> Interval:
    if not np.isfinite(value):
        return Interval(None, None, None)
    if not np.isfinite(bounds).all():
        return Interval(value, None, None)
    return Interval(value, float(bounds[0]), float(bounds[1]))


def verdict(recipe: str, runs: int, agents: int, given_steps: Interval, given_score: Interval) -> str:
    """The sentence for one arm, chosen by which partial correlation's interval excludes 0."""
    numbers = (f"partial r with score given steps = {given_steps.shown()}, with steps given score = "
               f"{given_score.shown()}")
    where = f"{recipe} ({runs} run{'s' if runs != 1 else ''}, {agents} agents)"
    if runs < 2:
        return f"{where}: cannot tell whether live features track score or training time from one run ({numbers})"
    score, steps = given_steps.excludes_zero(), given_score.excludes_zero()
    what = {(True, False): "live features track score, not training time",
            (False, True): "live features track training time, not score",
            (True, True): "live features track both score and training time",
            (False, False): "cannot tell whether live features track score or training time"}[(score, steps)]
    return f"{where}: {what} ({numbers})"


def analyse_arm(points: Sequence[Point], recipe: str, seed: int = 0, replicates: int = BOOTSTRAP) -> ArmAnalysis:
    """Every number of :class:`ArmAnalysis` for one arm's points; ``recipe`` names the arm in the verdict."""
    runs = sorted({p.run for p in points})
    sample = _Sample.of(*_arrays(points))
    values = _statistics(sample)
    bounds = bootstrap(points, replicates, seed) if len(runs) >= 2 else np.full((4, 2), np.nan)
    given_steps, given_score, model_score, model_steps = (_interval(v, b) for v, b in zip(values, bounds))
    both = _correlation(sample.score, sample.steps) if len(points) >= 3 else float("nan")
    per_run = []
    for run in runs:
        own = [p for p in points if p.run == run]
        per_run.append(RunTrend(run, len(own), spearman(own, "score"), spearman(own, "steps")))
    return ArmAnalysis(len(runs), len(points), None if np.isnan(both) else both, given_steps, given_score,
                       model_score, model_steps, per_run,
                       verdict(recipe, len(runs), len(points), given_steps, given_score))
