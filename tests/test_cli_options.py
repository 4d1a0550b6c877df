"""The CLI's options read alike across commands: an option name has one default everywhere unless a short,
documented exception says why, and every help text is one short line that does not repeat its default."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import Field, fields
from typing import Any

import pytest

from rlsae.cli import COMMANDS, main
from rlsae.common.runtime import PLAY_DEVICE_HELP
from rlsae.config import shows_default

MAX_HELP = 120  # characters of an option's help text (before its range and default are appended)

# Options that name a different thing in each command: their defaults are not compared.
OTHER_THING = {
    "out": "each command's own output folder (test_config checks each stage reads the one before)",
    "log_every": "agent steps in train-agent, SAE batches in train-sae",
    "save_every": "agent steps in train-agent, SAE batches in train-sae",
    "workers": "emulator processes in record, frame-rendering processes in browse",
}
# (command, option) whose default differs from the other commands', and why.
SIZED = {
    ("demo", "steps"): "the demo is sized to run in minutes",
    ("demo", "samples"): "the demo is sized to run in minutes",
    ("demo", "episodes"): "the demo is sized to run in minutes",
    ("sweep", "steps"): "per checkpoint of a series",
    ("sweep", "samples"): "per checkpoint and arm of a series",
    ("sweep", "heldout_fraction"): "every sweep metric is measured on held-out states",
}
# (command, option) whose default differs, with the reason its help gives.
REASON_IN_HELP = {
    ("record", "epsilon"): "below the 0.05 of scoring",
    ("steer", "epsilon"): "as in record",
    ("record", "device"): PLAY_DEVICE_HELP,
    ("steer", "device"): PLAY_DEVICE_HELP,
    ("evaluate-agent", "device"): PLAY_DEVICE_HELP,
    ("steer-bench", "epsilon"): "as in record",
    ("steer-bench", "device"): PLAY_DEVICE_HELP,
}


def _options() -> dict[str, dict[str, Field]]:
    """option name -> {command: its field}."""
    found: dict[str, dict[str, Field]] = defaultdict(dict)
    for command in COMMANDS:
        for field in fields(command.config()):
            found[field.name][command.name] = field
    return found


def _compared(per_command: dict[str, Field]) -> dict[str, Any]:
    """command -> default, for the commands whose default is a value (None: found from the inputs, as the
    help says) and not an exception."""
    return {c: f.default for c, f in per_command.items()
            if f.default is not None and (c, f.name) not in SIZED and (c, f.name) not in REASON_IN_HELP}


def test_an_option_has_the_same_default_in_every_command() -> None:
    for name, per_command in _options().items():
        if name in OTHER_THING:
            continue
        defaults = _compared(per_command)
        assert len({repr(v) for v in defaults.values()}) <= 1, f"--{name} defaults differ: {defaults}"


@pytest.mark.parametrize("exception", [*SIZED, *REASON_IN_HELP], ids=lambda e: f"{e[0]}-{e[1]}")
def test_each_exception_is_needed_and_explained(exception: tuple[str, str]) -> None:
    """An exception names a real option whose default does differ; the help gives the reasons it owes."""
    command, name = exception
    per_command = _options()[name]
    assert command in per_command, f"{command} has no --{name}"
    others = set(map(repr, _compared(per_command).values()))
    assert others and repr(per_command[command].default) not in others, f"{exception} is no longer an exception"
    if exception in REASON_IN_HELP:
        assert REASON_IN_HELP[exception] in per_command[command].metadata["help"]


def test_help_texts_are_short_and_state_a_default_once() -> None:
    wrong = [f"{c.name}: {c.help!r}" for c in COMMANDS if len(c.help) > MAX_HELP or "\n" in c.help]
    for command in COMMANDS:
        for field in fields(command.config()):
            text = field.metadata.get("help", "")
            # argparse appends "(default: X)" where shows_default: the help must not say it too
            if not text or "\n" in text or len(text) > MAX_HELP or (shows_default(field) and "default" in text.lower()):
                wrong.append(f"{command.name} --{field.name}: {text!r} ({len(text)} characters)")
    assert not wrong, "\n".join(wrong)


def test_the_rendered_help_states_each_default_once(capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command.name, "--help"])
        text = capsys.readouterr().out.split("options:", 1)[1]
        for block in re.split(r"\n  (?=-)", text):  # one block per option
            # a value may itself be named "default" (the sweep arm of `track --arm`): count the word around values
            words = re.sub(r"\(default: [^)]*\)", "(default)", re.sub(r"\{[^}]*\}", "{choices}", block)).lower()
            assert words.count("default") <= 1, f"{command.name}: {block}"
