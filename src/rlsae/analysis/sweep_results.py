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


@dataclass(frozen=True)
class SweepResult(Record):
    """``sweep.json``: every agent's row and, per arm, each metric against the agent's score."""

    KIND = "rlsae-sweep"
    WRITER = "rlsae sweep"  # into the same --out: its finished stages are reused, so only sweep.json is rewritten

    rows: list[SweepRow]
    statistics: dict[str, Any]
    config: dict[str, Any]
    provenance: dict[str, Any]
