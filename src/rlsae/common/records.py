"""Result records: each stage's result as a frozen dataclass that names, explains and checks its numbers.

A number is declared once, with its human name, a one-line meaning and how to show it (:func:`number`);
the JSON file, its schema (:func:`schema`), the terminal report and the browser's tables all read that
declaration, so no list of keys is copied by hand. A record's file carries its ``kind`` and ``version``;
:meth:`Record.load` refuses an older, newer or foreign file with one line saying what to do.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rlsae.common.errors import UserError
from rlsae.common.files import read_json, write_json

R = TypeVar("R", bound="Record")


def number(name: str, meaning: str, fmt: str = "{:.4g}", unit: str = "", spread: str | None = None,
           default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field for a number: ``name`` as a reader calls it, ``meaning`` one line that may hold
    ``{}`` for the shown value ("the SAE agent picks the same action in {} of states"), ``fmt`` and
    ``unit`` for showing it, ``spread`` the field holding its standard deviation, if any."""
    return dataclasses.field(default=default, metadata={"name": name, "meaning": meaning, "format": fmt,
                                                        "unit": unit, "spread": spread})


@dataclass(frozen=True)
class Described:
    """One number of a record, ready to show: ``shown`` is the value with its unit, ``meaning`` the
    sentence with that value in it."""

    key: str
    name: str
    value: float | None
    shown: str
    meaning: str


def show(value: Any, fmt: str, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return fmt.format(value) + (f" {unit}" if unit else "")


def described(record: Any, keys: typing.Iterable[str] | None = None) -> list[Described]:
    """The declared numbers of ``record`` (those of ``keys``, in that order, if given) that have a value."""
    declared = {f.name: f.metadata for f in fields(record) if "name" in f.metadata}
    out = []
    for key in declared if keys is None else keys:
        meta, value = declared[key], getattr(record, key)
        if value is None:
            continue
        shown = show(value, meta["format"], meta["unit"])
        spread = getattr(record, meta["spread"]) if meta["spread"] else None
        if spread is not None and shown != "n/a":
            shown = f"{show(value, meta['format'])} \u00b1 {show(spread, meta['format'], meta['unit'])}"
        out.append(Described(key, meta["name"], value, shown, meta["meaning"].format(shown)))
    return out


def declared(cls: type) -> list[dict[str, str]]:
    """The declared numbers of a record class: key, name, meaning, format (a Python format spec such as
    ``{:.1%}``) and unit, in field order: e.g. the columns a page shows."""
    return [{"key": f.name, "name": f.metadata["name"], "meaning": f.metadata["meaning"],
             "format": f.metadata["format"], "unit": f.metadata["unit"]} for f in fields(cls) if "name" in f.metadata]


class Record:
    """Base of the stage results (mix into a ``@dataclass(frozen=True)``).

    ``KIND`` names the record in its file, ``VERSION`` counts changes of its fields, ``WRITER`` is the
    command that writes it (for messages: "rerun `rlsae evaluate`").
    """

    KIND: ClassVar[str]
    VERSION: ClassVar[int] = 1
    WRITER: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.KIND, "version": self.VERSION, **plain(self)}

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def legacy(cls: type[R], data: dict[str, Any], origin: str) -> R | None:
        """A record read from a file written before records had versions; None: cannot (rerun the stage)."""
        return None

    @classmethod
    def from_json(cls: type[R], data: Any, origin: str) -> R:
        """The record ``data`` holds; ``origin`` (the file) names it in the one-line errors."""
        rerun = f"rerun `{cls.WRITER}` to write it again"
        if not isinstance(data, dict):
            raise UserError(f"'{origin}' is not a {cls.KIND} record (a JSON object): {rerun}")
        if "version" not in data:
            old = cls.legacy(data, origin) if data.get("kind", cls.KIND) == cls.KIND else None
            if old is None:
                raise UserError(f"'{origin}' was written by an older rlsae (no {cls.KIND} version): {rerun}")
            return old
        if data.get("kind") != cls.KIND:
            raise UserError(f"'{origin}' holds a {data.get('kind')!r} record, not a {cls.KIND}: pass the "
                            f"output of `{cls.WRITER}`")
        if data["version"] != cls.VERSION:
            newer = isinstance(data["version"], int) and data["version"] > cls.VERSION
            raise UserError(f"'{origin}' is {cls.KIND} version {data['version']}, this rlsae reads version "
                            f"{cls.VERSION}: " + ("upgrade rlsae to read it" if newer else rerun))
        return build(cls, {k: v for k, v in data.items() if k not in ("kind", "version")}, origin, rerun)

    @classmethod
    def load(cls: type[R], path: Path) -> R:
        return cls.from_json(read_json(path, cls.KIND), str(path))

    @classmethod
    def current(cls, path: Path) -> bool:
        """Whether ``path`` holds this record at this rlsae's version (a stage that wrote an older one runs
        again)."""
        try:
            data = read_json(path, cls.KIND)
        except UserError:
            return False
        return isinstance(data, dict) and data.get("kind") == cls.KIND and data.get("version") == cls.VERSION


def plain(value: Any) -> Any:
    """The JSON form of a record or any value inside one."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _generic_dataclass(tp: Any) -> Any:
    """A generic dataclass's class for its parametrised form (``LabelScores[float]`` -> ``LabelScores``)."""
    origin = typing.get_origin(tp)
    return origin if isinstance(origin, type) and is_dataclass(origin) else tp


def build(tp: Any, value: Any, origin: str, rerun: str) -> Any:
    """``value`` (parsed JSON) as the type ``tp``: dataclasses rebuilt, their keys checked."""
    if _is_union(tp):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if value is None or len(options) != 1:
            return value
        tp = options[0]
    tp = _generic_dataclass(tp)
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"'{origin}': expected an object for {tp.__name__}, found {value!r:.40}: {rerun}")
        known = {f.name: f for f in fields(tp)}
        required = [n for n, f in known.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [n for n in required if n not in value]
        extra = [k for k in value if k not in known]
        if missing or extra:
            what = "; ".join(part for part in (f"lacks {', '.join(missing)}" if missing else "",
                                               f"has unknown {', '.join(extra)}" if extra else "") if part)
            raise UserError(f"'{origin}' does not match this rlsae's {tp.__name__} ({what}): {rerun}")
        hints = _hints(tp)
        return tp(**{k: build(hints[k], v, origin, rerun) for k, v in value.items()})
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (list, tuple) and isinstance(value, list):
        item = args[0] if args else Any
        built = [build(item, v, origin, rerun) for v in value]
        return tuple(built) if typing.get_origin(tp) is tuple else built
    if typing.get_origin(tp) is dict and isinstance(value, dict) and len(args) == 2:
        return {k: build(args[1], v, origin, rerun) for k, v in value.items()}
    return value


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}


def _type_schema(tp: Any) -> dict[str, Any]:
    tp = _generic_dataclass(tp)
    if tp in _JSON_TYPES:
        return {"type": _JSON_TYPES[tp]}
    if _is_union(tp):
        return {"anyOf": [_type_schema(t) for t in typing.get_args(tp)]}
    if isinstance(tp, type) and is_dataclass(tp):
        return schema(tp, nested=True)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, tuple):
        return {"type": "array", **({"items": _type_schema(args[0])} if args else {})}
    if origin is dict:
        return {"type": "object", **({"additionalProperties": _type_schema(args[1])} if len(args) == 2 else {})}
    if tp is Path:
        return {"type": "string"}
    return {}  # Any


def schema(cls: type, nested: bool = False) -> dict[str, Any]:
    """The JSON schema of a record (or any dataclass in one): each field's type, and its human name and
    meaning as ``title`` and ``description``; a record's file requires its ``kind`` and ``version`` (a record
    ``nested`` in another is written without them)."""
    hints = _hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for f in fields(cls):
        prop = _type_schema(hints[f.name])
        if "name" in f.metadata:
            prop.update(title=f.metadata["name"], description=f.metadata["meaning"].replace("{}", "the value"))
        properties[f.name] = prop
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "title": cls.__name__, "properties": properties,
                           "additionalProperties": False, "required": required}
    if issubclass(cls, Record) and not nested:
        properties.update(kind={"const": cls.KIND}, version={"const": cls.VERSION})
        out["required"] = ["kind", "version", *required]
    return out
