"""The pipeline's stages in one place: where each writes inside a run folder, and when it is done.

`rlsae demo` and `rlsae sweep` lay their stages out the same way and skip a stage whose output is
complete; they ask here rather than spelling out folder and file names themselves::

    run/recording/  run/sae/ (cfg.json, evaluation.json)  run/interpret/  run/steer/  run/steer-bench/  run/browser/
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rlsae.analysis.results import MANIFEST as INTERPRET_MANIFEST
from rlsae.analysis.results import SUMMARY as INTERPRET_SUMMARY
from rlsae.analysis.steer import RESULTS as STEERING
from rlsae.analysis.steer_bench import RESULTS as STEER_BENCHMARK
from rlsae.analysis.summary import InterpretSummary
from rlsae.common.records import Record
from rlsae.record.store import MANIFEST as RECORDING_MANIFEST
from rlsae.sae.evaluation import EVALUATION
from rlsae.sae.io import CFG


@dataclass(frozen=True)
class Stage:
    """A stage's output inside a run folder: ``folder`` holds it and ``marker``, written last, completes it."""

    name: str
    folder: str
    marker: str
    record: tuple[str, type[Record]] | None = None
    """A record file in ``folder`` that must be of this rlsae's version, else the stage runs again."""

    def path(self, run: Path) -> Path:
        return Path(run) / self.folder

    def output(self, run: Path) -> Path:
        """The file that marks the stage complete (for the evaluation and steering: its result)."""
        return self.path(run) / self.marker

    def done(self, run: Path) -> bool:
        return self.output(run).is_file() and (self.record is None
                                               or self.record[1].current(self.path(run) / self.record[0]))


RECORD = Stage("record", "recording", RECORDING_MANIFEST)
TRAIN_SAE = Stage("train-sae", "sae", CFG)
EVALUATE = Stage("evaluate", "sae", EVALUATION)
INTERPRET = Stage("interpret", "interpret", INTERPRET_MANIFEST, (INTERPRET_SUMMARY, InterpretSummary))
STEER = Stage("steer", "steer", STEERING)
# Saved after each goal, so its file does not mark it complete: steer-bench skips the goals it already holds.
STEER_BENCH = Stage("steer-bench", "steer-bench", STEER_BENCHMARK)
BROWSE = Stage("browse", "browser", "index.html")


def recorded(run: Path, steps: int) -> bool:
    """Whether the run's recording is complete and holds at least ``steps`` steps (`record` resumes otherwise)."""
    if not RECORD.done(run):
        return False
    try:
        return int(json.loads(RECORD.output(run).read_text())["n_steps"]) >= steps
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: `record` says why
