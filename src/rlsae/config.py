"""Typed dataclass configs turned into command-line options.

Every subcommand's options come from one dataclass: each field's ``help`` metadata is both the
documentation and the ``--help`` text, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from rlsae.common.errors import UserError

T = TypeVar("T")


def option(default: Any, help: str, *, low: float | None = None, high: float | None = None,
           gt: float | None = None, lt: float | None = None, **kwargs: Any) -> Any:
    """A dataclass field with its help text and allowed range, checked by :func:`check_options`.

    ``low``/``high`` are inclusive bounds, ``gt``/``lt`` exclusive ones; ``choices=[...]`` lists the
    allowed values. Float fields must also be finite (NaN and inf are never a meaningful setting).

    A field holding a block of options (a nested dataclass) names the blocks it may hold,
    ``blocks=lambda: {value: BlockClass}``, the field whose value picks one, ``chosen_by="name"``, and its
    flag, ``flag="block-option"``: a repeatable ``--block-option KEY=VALUE`` that the chosen block parses.
    A block field with ``shared=True`` (one several blocks have, like train-sae's ``k``) is also a flag of its
    own name.
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


def check_options(cfg: Any, block_flag: str | None = None) -> None:
    """Check every field of the dataclass ``cfg`` against its ``option(...)`` range and choices.

    One rule for every command: a value out of range, a NaN or an infinite float is a UserError naming
    the flag and the allowed range. Configs call it first thing in ``__post_init__``. ``block_flag``: the
    flag that sets ``cfg``'s fields when it is a block of options (``--arch-option``).
    """
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if dataclasses.is_dataclass(value):
            check_options(value, field.metadata.get("flag"))
        else:
            _check_value(field, value, block_flag)


def _flag_of(field: dataclasses.Field, block_flag: str | None = None) -> str:
    """How a user sets ``field``: ``--name``, or ``--arch-option name`` for a block's own option."""
    if block_flag is None or field.metadata.get("shared"):
        return flag_name(field.name)
    return f"--{block_flag} {field.name}"


def _check_value(field: dataclasses.Field, value: Any, block_flag: str | None = None) -> None:
    """A UserError naming the flag unless ``value`` is in ``field``'s range and choices (and finite)."""
    values = value if isinstance(value, (list, tuple)) else (value,)
    meta, flag = field.metadata, _flag_of(field, block_flag)
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


def flag_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """(field, type hint) of every flag of the dataclass ``cls``: its fields (a block field is its
    ``--block-option KEY=VALUE`` flag), and the shared fields of the blocks it may hold (once each)."""
    out: dict[str, tuple[dataclasses.Field, Any]] = {}
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        out.setdefault(field.name, (field, hints[field.name]))
        for block in field.metadata["blocks"]().values() if "blocks" in field.metadata else ():
            block_hints = typing.get_type_hints(block)
            for inner in dataclasses.fields(block):
                if inner.metadata.get("shared"):
                    out.setdefault(inner.name, (inner, block_hints[inner.name]))
    return list(out.values())


def _block_fields(field: dataclasses.Field) -> dict[str, dataclasses.Field]:
    """Every option of every block a block field may hold, by name (the Python API sets them by name)."""
    return {inner.name: inner for block in field.metadata["blocks"]().values() for inner in dataclasses.fields(block)}


def parse_block_options(block: type, assignments: list[str], owner: str, flag: str) -> dict[str, Any]:
    """The options ``KEY=VALUE`` strings give a block (``owner``'s, e.g. "jumprelu"), each converted to its
    field's type (a tuple as comma-separated values); a one-line UserError for anything else."""
    fields = {f.name: f for f in dataclasses.fields(block)}
    hints = typing.get_type_hints(block)
    values: dict[str, Any] = {}
    for text in assignments:
        key, sep, raw = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UserError(f"--{flag} takes KEY=VALUE, got {text!r}")
        if key not in fields:
            raise UserError(f"--{flag} {text}: {owner} has no option {key!r}; its options: {', '.join(fields)}")
        values[key] = _convert(hints[key], raw.strip(), f"--{flag} {text}")
    return values


def _convert(hint: Any, raw: str, where: str) -> Any:
    kind, optional = _base_type(hint)
    if optional and raw.lower() in ("", "none"):
        return None
    if typing.get_origin(kind) in (list, tuple):
        item = typing.get_args(kind)[0]
        return tuple(_convert(item, part.strip(), where) for part in raw.split(",") if part.strip())
    if kind is bool:
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise UserError(f"{where}: expected true or false")
        return raw.lower() in ("true", "1", "yes")
    try:
        return kind(raw)
    except ValueError:
        expected = {int: "an integer", float: "a number"}.get(kind, getattr(kind, "__name__", str(kind)))
        raise UserError(f"{where}: expected {expected}") from None


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per field of the dataclass ``cls`` (per field of its blocks, for a block field)."""
    for field, hint in flag_fields(cls):
        _add_flag(parser, field, hint)


def describe(field: dataclasses.Field) -> str:
    """A field's help text with its range and default, as ``--help`` shows it."""
    help_text = field.metadata.get("help", "")
    if _range_text(field.metadata):
        help_text = f"{help_text}; {_range_text(field.metadata)}"
    if shows_default(field):
        help_text = f"{help_text} (default: {field.default})"
    return help_text


def block_options(cls: type) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """For each block field of the dataclass ``cls``: (its flag, the choice, [(option, description)]) per
    block it may hold, for the reference page."""
    out = []
    for field in dataclasses.fields(cls):
        for choice, block in field.metadata["blocks"]().items() if "blocks" in field.metadata else ():
            out.append((field.metadata["flag"], choice, [(inner.name, describe(inner))
                                                         for inner in dataclasses.fields(block)]))
    return out


def _add_flag(parser: argparse.ArgumentParser, field: dataclasses.Field, hint: Any) -> None:
    """Add the ``--flag`` of one field."""
    kind, _ = _base_type(hint)
    flag = flag_name(field.name)
    if "blocks" in field.metadata:  # --arch-option KEY=VALUE, repeated
        parser.add_argument("--" + field.metadata["flag"], dest=field.name, action="append", default=None,
                            metavar="KEY=VALUE", help=field.metadata.get("help", ""))
        return
    help_text = describe(field)
    default = field.default
    if kind is bool:
        parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                            default=default, help=help_text)
        return
    if typing.get_origin(kind) in (list, tuple):  # a repeatable value: --flag A B C
        parser.add_argument(flag, dest=field.name, nargs="*", type=typing.get_args(kind)[0],
                            default=default, metavar=field.name.upper(), help=help_text)
        return
    choices = field.metadata.get("choices")
    parser.add_argument(flag, dest=field.name, type=kind, default=default, choices=choices,
                        metavar=None if choices else field.name.upper(), help=help_text)


def from_flags(cls: type[T], flags: Mapping[str, Any], *, strict: bool = True) -> T:
    """Build the dataclass ``cls`` from values named as its flags (``k=8`` for ``--k 8``): a block field's
    block is built from its ``KEY=VALUE`` strings (a list under the field's name, as ``--arch-option``
    gives them) and, in the Python API, its options named directly (``l1_coef=0.3``; an option of another
    block is checked against its range, and otherwise unused); what is not given keeps its default.
    ``strict``: a name that is no flag nor block option is a TypeError."""
    known = {field.name: (field, None) for field, _ in flag_fields(cls)}
    for field in dataclasses.fields(cls):
        if "blocks" in field.metadata:
            known = {**{name: (inner, field.metadata["flag"]) for name, inner in _block_fields(field).items()},
                     **known}
    unknown = sorted(set(flags) - set(known))
    if strict and unknown:
        raise TypeError(f"{cls.__name__} has no option {', '.join(unknown)}")
    for name, value in flags.items():
        field, block_flag = known.get(name, (None, None))
        if field is not None and "blocks" not in field.metadata:
            _check_value(field, value, block_flag)
    values = {}
    for field in dataclasses.fields(cls):
        if "blocks" in field.metadata:
            values[field.name] = _block_from_flags(cls, field, flags)
        elif field.name in flags:
            values[field.name] = flags[field.name]
    cfg = cls(**values)
    check_options(cfg)  # for configs whose __post_init__ does not already
    return cfg


def _block_from_flags(cls: type, field: dataclasses.Field, flags: Mapping[str, Any]) -> Any:
    """The block ``flags`` choose for ``field`` (None for an unknown choice: ``cls`` names the choices)."""
    by = field.metadata["chosen_by"]
    chosen = flags.get(by, next(f.default for f in dataclasses.fields(cls) if f.name == by))
    block = field.metadata["blocks"]().get(chosen)
    given = flags.get(field.name)
    if block is None or (given is not None and not isinstance(given, (list, tuple))):
        return given  # a block, or a dict of its options as a saved config holds them
    named = {f.name: flags[f.name] for f in dataclasses.fields(block) if f.name in flags}
    return block(**{**named, **parse_block_options(block, list(given or ()), chosen, field.metadata["flag"])})


def from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Build the dataclass from parsed arguments (extra namespace entries are ignored)."""
    return from_flags(cls, vars(args), strict=False)


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (paths as strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()}


def require(condition: bool, message: str) -> None:
    """Raise a UserError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)
