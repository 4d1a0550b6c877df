"""Result records: written with kind and version, loaded with one-line errors, valid against their schema."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rlsae.common.errors import UserError
from rlsae.common.records import Record, described, number, schema


@dataclass(frozen=True)
class Part:
    name: str
    share: float = number("share", "{} of the time", "{:.0%}")


@dataclass(frozen=True)
class Example(Record):
    KIND = "rlsae-example"
    WRITER = "rlsae example"

    parts: list[Part]
    score: float = number("score", "it scores {} a game", "{:,.0f}", "points", spread="score_std")
    score_std: float | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def test_a_record_round_trips_and_its_file_conforms_to_its_schema(tmp_path: Path, conforms: Any) -> None:
    record = Example([Part("a", 0.25)], 1234.0, 56.0, extra={"k": 1})
    record.save(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["kind"] == "rlsae-example" and data["version"] == 1
    assert Example.load(tmp_path / "r.json") == record
    rules = schema(Example)
    assert conforms(data, rules)
    assert rules["properties"]["score"]["title"] == "score"
    for broken in ({**data, "score": "many"}, {**data, "parts": [{"name": "a", "share": "x"}]},
                   {k: v for k, v in data.items() if k != "parts"}, {**data, "kind": "other"}):
        assert not conforms(broken, rules)  # the checker can fail


def test_numbers_are_shown_with_their_name_unit_spread_and_meaning() -> None:
    (row,) = described(Example([], 1234.0, 56.0))
    assert (row.name, row.shown) == ("score", "1,234 \u00b1 56 points")
    assert row.meaning == "it scores 1,234 \u00b1 56 points a game"


@pytest.mark.parametrize("data,message", [
    ({"parts": [], "score": 1.0}, "older rlsae .*rerun `rlsae example`"),
    ({"kind": "rlsae-other", "version": 1}, "holds a 'rlsae-other' record, not a rlsae-example"),
    ({"kind": "rlsae-example", "version": 2, "parts": [], "score": 1.0}, "version 2.*upgrade rlsae"),
    ({"kind": "rlsae-example", "version": 0, "parts": [], "score": 1.0}, "version 0.*rerun `rlsae example`"),
    ({"kind": "rlsae-example", "version": 1, "parts": []}, "lacks score.*rerun"),
    ({"kind": "rlsae-example", "version": 1, "parts": [], "score": 1.0, "new": 2}, "has unknown new"),
    ({"kind": "rlsae-example", "version": 1, "parts": [{"share": 1.0}], "score": 1.0}, "Part \\(lacks name\\)"),
    ([1, 2], "not a rlsae-example record"),
])
def test_old_newer_and_foreign_files_get_one_line_errors(tmp_path: Path, data: Any, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=message) as err:
        Example.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
