"""Typed dataclass configs turned into command-line options.

Every subcommand's options come from one dataclass: each field's ``help`` metadata is both the
documentation and the ``--help`` text, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import signal
import threading
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A mistake the user can fix (bad path, bad value); the CLI prints it as one line, no traceback."""


def option(default: Any, help: str, *, low: float | None = None, high: float | None = None,
           gt: float | None = None, lt: float | None = None, **kwargs: Any) -> Any:
    """A dataclass field with its help text and allowed range, checked by :func:`check_options`.

    ``low``/``high`` are inclusive bounds, ``gt``/``lt`` exclusive ones; ``choices=[...]`` lists the
    allowed values. Float fields must also be finite (NaN and inf are never a meaningful setting).
    """
    bounds = {k: v for k, v in (("low", low), ("high", high), ("gt", gt), ("lt", lt)) if v is not None}
    return dataclasses.field(default=default, metadata={"help": help, **bounds, **kwargs})


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _range_text(meta: Mapping[str, Any]) -> str:
    """'>= 1', 'in [0, 1]', '> 0', ... for a field's bounds ('' when it has none)."""
    low = f"[{meta['low']:g}" if "low" in meta else f"({meta['gt']:g}" if "gt" in meta else None
    high = f"{meta['high']:g}]" if "high" in meta else f"{meta['lt']:g})" if "lt" in meta else None
    if low and high:
        return f"in {low}, {high}"
    if low:
        return (">= " if "low" in meta else "> ") + low[1:]
    if high:
        return ("<= " if "high" in meta else "< ") + high[:-1]
    return ""


def _in_range(value: float, meta: Mapping[str, Any]) -> bool:
    return (("low" not in meta or value >= meta["low"]) and ("high" not in meta or value <= meta["high"])
            and ("gt" not in meta or value > meta["gt"]) and ("lt" not in meta or value < meta["lt"]))


def check_options(cfg: Any) -> None:
    """Check every field of the dataclass ``cfg`` against its ``option(...)`` range and choices.

    One rule for every command: a value out of range, a NaN or an infinite float is a UserError naming
    the flag and the allowed range. Configs call it first thing in ``__post_init__``.
    """
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        values = value if isinstance(value, (list, tuple)) else (value,)
        meta, flag = field.metadata, flag_name(field.name)
        for v in values:
            if v is None or isinstance(v, bool):
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise UserError(f"{flag} must be a finite number, got {v}")
            if meta.get("choices") is not None and v not in meta["choices"]:
                raise UserError(f"{flag} must be one of {', '.join(map(str, meta['choices']))}, got {v!r}")
            if isinstance(v, (int, float)) and not _in_range(v, meta):
                raise UserError(f"{flag} must be {_range_text(meta)}, got {v}")


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(type, optional) for `int`, `Path | None` and the like."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def shows_default(field: dataclasses.Field) -> bool:
    """Whether ``--help`` appends the field's default: not for None or "", which stand for a default the
    help text describes ("default: the agent's own"), nor for a repeatable value (its help lists them)."""
    return not isinstance(field.default, (list, tuple)) and field.default not in (None, "")


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per field of the dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind, _ = _base_type(hints[field.name])
        flag = flag_name(field.name)
        help_text = field.metadata.get("help", "")
        if _range_text(field.metadata):
            help_text = f"{help_text}; {_range_text(field.metadata)}"
        default = field.default
        if shows_default(field):
            help_text = f"{help_text} (default: {default})"
        if kind is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
            continue
        if typing.get_origin(kind) in (list, tuple):  # a repeatable value: --flag A B C
            parser.add_argument(flag, dest=field.name, nargs="*", type=typing.get_args(kind)[0],
                                default=default, metavar=field.name.upper(), help=help_text)
            continue
        choices = field.metadata.get("choices")
        parser.add_argument(flag, dest=field.name, type=kind, default=default, choices=choices,
                            metavar=None if choices else field.name.upper(), help=help_text)


def from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Build the dataclass from parsed arguments (extra namespace entries are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    cfg = cls(**{k: v for k, v in vars(args).items() if k in names})
    check_options(cfg)  # for configs whose __post_init__ does not already
    return cfg


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
