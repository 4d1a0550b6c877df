"""What ``rlsae sweep`` writes: ``sweep.json``, one row per agent with each arm's SAE (read by the browser)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rlsae.common.records import Record, number
from rlsae.sae.evaluation import Evaluation


@dataclass(frozen=True)
class SweepArm:
    """One arm's SAE on one agent: its evaluation and what interpret found."""

    evaluation: Evaluation
    live: int = number("live features", "{} features fire on the held-out states", "{:,}")
    labeled_fraction: float | None = number("labeled share of live features", "{} of the live features carry a "
                                            "label", "{:.1%}", default=None)

    def value(self, key: str) -> float | None:
        """A number of this arm by its name, its own or its evaluation's."""
        return getattr(self, key) if key in ("live", "labeled_fraction") else getattr(self.evaluation, key)


def metric_name(key: str) -> str:
    """The human name of a SweepArm number (its own or its evaluation's), as their records declare it."""
    for record in (SweepArm, Evaluation):
        found = {f.name: f.metadata.get("name") for f in fields(record)}
        if found.get(key):
            return str(found[key])
    return key


@dataclass(frozen=True)
class SweepRow:
    """One agent of the sweep: its clean score and each arm's SAE."""

    checkpoint: str
    path: str
    step: int | None
    score: float
    score_std: float
    score_episodes: int
    arms: dict[str, SweepArm]
    run: str
    """The training run the checkpoint belongs to (its series folder's name)."""


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap 95% interval (None: too few runs or checkpoints to resample)."""

    value: float | None
    low: float | None
    high: float | None

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        spread = "no interval" if self.low is None or self.high is None else f"{self.low:+.2f} to {self.high:+.2f}"
        return f"{self.value:+.2f} [{spread}]"


@dataclass(frozen=True)
class RunTrend:
    """One run's checkpoints: Spearman's rho of the live-feature share with score and with steps."""

    run: str
    agents: int
    live_vs_score: float | None = number("rho (live share, score)", "within the run, live share and score "
                                         "rank together at {}", "{:+.2f}")
    live_vs_steps: float | None = number("rho (live share, steps)", "within the run, live share and training "
                                         "steps rank together at {}", "{:+.2f}")


@dataclass(frozen=True)
class ArmAnalysis:
    """One arm over every run: whether its SAEs' live-feature share follows score or training time.

    All correlations are on ranks; intervals resample runs, then checkpoints (rlsae.analysis.dead_vs_skill)."""

    runs: int
    agents: int
    score_vs_steps: float | None = number("rho (score, steps)", "score and training steps rank together at {} "
                                          "(near 1: one run cannot tell them apart)", "{:+.2f}")
    partial_score: Interval
    """Partial correlation of live share with score, steps held fixed."""
    partial_steps: Interval
    """Partial correlation of live share with steps, score held fixed."""
    model_score: Interval
    """Slope on score of live share ~ run intercept + score + steps (standardised ranks)."""
    model_steps: Interval
    """Slope on steps of the same model."""
    per_run: list[RunTrend]
    verdict: str
    """One sentence: what live features follow, with the partial correlations and their intervals."""


@dataclass(frozen=True)
class SweepResult(Record):
    """``sweep.json``: every agent's row and, per arm, each metric against the agent's score, and whether the
    live-feature share follows score or training time over the runs."""

    KIND = "rlsae-sweep"
    VERSION = 2  # 2: rows carry their run; the per-arm analysis over runs and the verdict
    WRITER = "rlsae sweep"  # into the same --out: its finished stages are reused, so only sweep.json is rewritten

    rows: list[SweepRow]
    statistics: dict[str, Any]
    analysis: dict[str, ArmAnalysis]
    verdict: str
    """The sentence BENCHMARKS.md and the README quote: each arm's verdict."""
    config: dict[str, Any]
    provenance: dict[str, Any]
