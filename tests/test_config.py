"""Config parsing: every value comes back from the command line as given, and check_options accepts
exactly the values inside each field's declared range."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlsae.cli import COMMANDS
from rlsae.common.errors import UserError
from rlsae.config import add_options, check_options, from_args, option


@dataclass
class Example:
    count: int = option(3, "a count", low=1, high=100)
    rate: float = option(0.5, "a rate", gt=0, lt=1)
    weight: float = option(1.0, "a weight", low=0)
    name: str = option("a", "a name", choices=["a", "b"])
    path: Path | None = option(None, "a path")
    offset: int | None = option(None, "an optional offset", low=-5)
    flag: bool = option(False, "a flag")


def _parse(argv: list[str]) -> Example:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_options(parser, Example)
    return from_args(Example, parser.parse_args(argv))


@given(count=st.integers(-10**6, 10**6), rate=st.floats(allow_nan=True, allow_infinity=True),
       weight=st.floats(allow_nan=True, allow_infinity=True), offset=st.none() | st.integers(-100, 100),
       name=st.sampled_from(["a", "b", "c"]), flag=st.booleans())
def test_a_value_passes_exactly_when_it_is_in_range(count: int, rate: float, weight: float, offset: int | None,
                                                    name: str, flag: bool) -> None:
    valid = (1 <= count <= 100 and 0 < rate < 1 and math.isfinite(weight) and weight >= 0
             and (offset is None or offset >= -5) and name != "c")
    argv = [f"--count={count}", f"--rate={rate!r}", f"--weight={weight!r}", f"--name={name}",
            "--flag" if flag else "--no-flag"] + ([] if offset is None else [f"--offset={offset}"])
    try:
        cfg = _parse(argv)
    except (UserError, argparse.ArgumentError) as err:
        assert not valid, err
        assert "\n" not in str(err)
        return
    assert valid
    assert (cfg.count, cfg.name, cfg.offset, cfg.flag) == (count, name, offset, flag)
    assert (cfg.rate, cfg.weight) == (rate, weight)  # repr round-trips a float exactly


def test_messages_name_the_flag_and_the_range() -> None:
    for argv, message in [(["--count=0"], "--count must be in [1, 100], got 0"),
                          (["--rate=1"], "--rate must be in (0, 1), got 1.0"),
                          (["--weight=-1e-9"], "--weight must be >= 0, got -1e-09"),
                          (["--weight=inf"], "--weight must be a finite number, got inf"),
                          (["--offset=-6"], "--offset must be >= -5, got -6")]:
        with pytest.raises(UserError) as err:
            _parse(argv)
        assert str(err.value) == message


def test_the_help_shows_each_range() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, Example)
    text = " ".join(parser.format_help().split())
    assert "a count; in [1, 100]" in text and "a rate; in (0, 1)" in text and "a weight; >= 0" in text


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_commands_defaults_are_in_range(command: object) -> None:
    cls = command.config()  # type: ignore[attr-defined]
    defaults = {f.name: f.default for f in fields(cls)}
    # check_options reads fields by getattr: a namespace of the defaults stands in for an instance
    check_options(type("Defaults", (), {"__dataclass_fields__": cls.__dataclass_fields__, **defaults})())


def test_each_stage_reads_by_default_what_the_stage_before_writes_by_default() -> None:
    """`rlsae record && rlsae train-sae && rlsae interpret && rlsae browse` needs no path option."""
    defaults = {c.name: {f.name: f.default for f in fields(c.config())} for c in COMMANDS}
    assert defaults["train-sae"]["recording"] == defaults["record"]["out"]
    for reader in ("evaluate", "interpret", "steer"):
        assert defaults[reader]["sae"] == defaults["train-sae"]["out"], reader
    assert defaults["browse"]["interpret"] == defaults["interpret"]["out"]
