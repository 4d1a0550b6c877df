"""interpret's summary.json as a record: written and read back unchanged, described by its schema, every
number declared with its name and meaning, and an older file refused with what to do."""

from __future__ import annotations

import dataclasses
import json
import shutil
import types
import typing
from pathlib import Path

import pytest

from rlsae.analysis.results import SUMMARY, load_result
from rlsae.analysis.summary import InterpretSummary
from rlsae.common.errors import UserError
from rlsae.common.records import described, schema

# Integers that name something (a unit, a k, a threshold) rather than measure it.
_IDS = {"unit", "best_unit", "k", "min_f1"}


def _numbers_undeclared(cls: type, seen: set[type]) -> list[str]:
    """Fields of ``cls`` and the dataclasses inside it that hold a number (or an optional one) but no name
    and meaning. Containers of numbers (a fact's probe accuracies, the base rate per fact) are documented
    by their docstrings."""
    if cls in seen:
        return []
    seen.add(cls)
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        direct = {tp, *typing.get_args(tp)} if typing.get_origin(tp) in (typing.Union, types.UnionType) else {tp}
        nested = [typing.get_origin(t) or t for t in [*direct, *(a for t in direct for a in typing.get_args(t))]]
        for inner in nested:
            if isinstance(inner, type) and dataclasses.is_dataclass(inner):
                out += _numbers_undeclared(inner, seen)
        if direct & {int, float} and f.name not in _IDS and "name" not in f.metadata:
            out.append(f"{cls.__name__}.{f.name}")
    return out


def test_every_number_of_the_summary_has_a_name_and_a_meaning() -> None:
    assert _numbers_undeclared(InterpretSummary, set()) == []


def test_the_summary_round_trips_and_fits_its_schema(small_pipeline: dict[str, Path], conforms) -> None:
    path = small_pipeline["interpret"] / SUMMARY
    saved = json.loads(path.read_text())
    assert saved["kind"] == "rlsae-interpret-summary" and saved["version"] == InterpretSummary.VERSION
    assert conforms(saved, schema(InterpretSummary))
    loaded = InterpretSummary.load(path)
    assert json.dumps(loaded.to_json(), sort_keys=True) == json.dumps(saved, sort_keys=True)
    again = load_result(small_pipeline["interpret"]).summary
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(saved, sort_keys=True)  # NaN == NaN as text
    # the typed parts come back typed: coverage per threshold, probes per k, the per-fact rows, headlines
    facts = loaded.features.facts
    assert [c.min_f1 for c in facts.coverage] == [0.5, 0.8] and facts.covered(0.5) is not None
    assert [(p.select, p.k) for p in facts.probes] == [("raw", 1), ("raw", 2), ("raw", 5), ("raw", 20),
                                                         ("standardised", 1)]
    assert len(facts.per_fact) == facts.n_facts and all(len(row.probe) == 4 for row in facts.per_fact)
    assert [h.key for h in loaded.headlines] == ["best_dying", "best_power_pill"]
    assert {t.key for t in loaded.talk_features} == {"dead", "heading_to_pill"}
    assert loaded.features.explanations is not None and loaded.neurons.explanations is not None
    assert loaded.features.explanations.n_units == loaded.features.labels.n_units  # the same live units
    rows = {row.key: row for row in described(loaded.features.labels)}
    assert rows["labeled_fraction"].name == "labeled share" and "%" in rows["labeled_fraction"].shown
    assert not conforms({**saved, "features": {**saved["features"], "extra": 1}}, schema(InterpretSummary))


@pytest.mark.parametrize("change,message", [
    (lambda s: {k: v for k, v in s.items() if k not in ("kind", "version")}, "older rlsae .* rerun `rlsae interpret`"),
    (lambda s: {**s, "version": 99}, "upgrade rlsae"),
    (lambda s: {**s, "version": 1}, "version 1, .* rerun `rlsae interpret`"),  # before explanations
    (lambda s: {**s, "kind": "rlsae-sweep"}, "not a rlsae-interpret-summary"),
])
def test_an_older_or_foreign_summary_says_to_rerun_interpret(small_pipeline: dict[str, Path], tmp_path: Path,
                                                             change, message: str) -> None:
    folder = tmp_path / "interpret"
    shutil.copytree(small_pipeline["interpret"], folder)
    saved = json.loads((folder / SUMMARY).read_text())
    (folder / SUMMARY).write_text(json.dumps(change(saved)))
    with pytest.raises(UserError, match=message) as err:
        load_result(folder)  # what steer, browse and the demo read
    assert "\n" not in str(err.value)
