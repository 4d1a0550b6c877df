"""The stages' table: where each stage writes in a run folder and when it counts as done."""

import json
from pathlib import Path

from rlsae.analysis.results import MANIFEST, SUMMARY
from rlsae.analysis.summary import InterpretSummary
from rlsae.sae.evaluation import EVALUATION
from rlsae.stages import EVALUATE, INTERPRET, RECORD, STEER, TRAIN_SAE, recorded


def test_a_stage_is_done_once_its_marker_file_is_written(tmp_path: Path) -> None:
    assert not any(stage.done(tmp_path) for stage in (RECORD, TRAIN_SAE, EVALUATE, INTERPRET, STEER))
    (tmp_path / "interpret").mkdir()
    (tmp_path / "interpret" / "features.npz").write_bytes(b"")  # an interrupted interpret: no manifest yet
    assert not INTERPRET.done(tmp_path)
    (tmp_path / "interpret" / MANIFEST).write_text("{}")
    assert INTERPRET.output(tmp_path) == tmp_path / "interpret" / MANIFEST
    # interpret's summary from an older rlsae (no version) cannot be read: the stage runs again
    (tmp_path / "interpret" / SUMMARY).write_text(json.dumps({"n_states": 300, "features": {}}))
    assert not INTERPRET.done(tmp_path)
    # nor from before explanations (version 1): the demo and the sweep interpret again by themselves
    (tmp_path / "interpret" / SUMMARY).write_text(json.dumps({"kind": InterpretSummary.KIND, "version": 1}))
    assert InterpretSummary.VERSION > 1 and not INTERPRET.done(tmp_path)
    (tmp_path / "interpret" / SUMMARY).write_text(json.dumps({"kind": InterpretSummary.KIND,
                                                              "version": InterpretSummary.VERSION}))
    assert INTERPRET.done(tmp_path)
    assert EVALUATE.output(tmp_path) == tmp_path / "sae" / EVALUATION
    assert EVALUATE.path(tmp_path) == TRAIN_SAE.path(tmp_path)  # the evaluation lives beside its SAE


def test_a_recording_is_done_when_it_holds_the_steps_asked_for(tmp_path: Path) -> None:
    assert not recorded(tmp_path, 1000)
    RECORD.path(tmp_path).mkdir()
    RECORD.output(tmp_path).write_text(json.dumps({"n_steps": 999}))
    assert not recorded(tmp_path, 1000) and recorded(tmp_path, 999)
    RECORD.output(tmp_path).write_text("{")  # unreadable: not done (record then says why)
    assert not recorded(tmp_path, 1)
