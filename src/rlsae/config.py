"""Typed dataclass configs turned into command-line options.

Every subcommand's options come from one dataclass: each field's ``help`` metadata is both the
documentation and the ``--help`` text, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import threading
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A mistake the user can fix (bad path, bad value); the CLI prints it as one line, no traceback."""


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with its help text."""
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(type, optional) for `int`, `Path | None` and the like."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per field of the dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind, optional = _base_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        help_text = field.metadata.get("help", "")
        default = field.default
        if kind is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                                default=default, help=f"{help_text} (default: {default})")
            continue
        if typing.get_origin(kind) in (list, tuple):  # a repeatable value: --flag A B C
            parser.add_argument(flag, dest=field.name, nargs="*", type=typing.get_args(kind)[0],
                                default=default, metavar=field.name.upper(), help=help_text)
            continue
        choices = field.metadata.get("choices")
        parser.add_argument(flag, dest=field.name, type=kind, default=default, choices=choices,
                            metavar=None if choices else field.name.upper(),
                            help=f"{help_text} (default: {default})" if default is not None or not optional
                            else help_text)


def from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Build the dataclass from parsed arguments (extra namespace entries are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(args).items() if k in names})


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (paths as strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()}


def require(condition: bool, message: str) -> None:
    """Raise a UserError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)


class StopFlag:
    """Set by SIGINT/SIGTERM inside :func:`stop_requested`, instead of raising mid-computation."""

    def __init__(self) -> None:
        self.set = False


@contextlib.contextmanager
def stop_requested() -> Iterator[StopFlag]:
    """Turn Ctrl-C and `kill` into a flag the loop checks between steps, so the state it saves is whole.

    Outside the main thread (where handlers cannot be installed) it yields a flag that is never set.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(_signum: int, _frame: object) -> None:
        flag.set = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
