"""Files written whole, and resume state stored without pickle.

Every output goes to a temporary name beside its target and is renamed over it, so a kill mid-write
never leaves a torn file. Resume state (optimizer moments, counters, RNG states) is split into a
safetensors file for its tensors and a JSON file for everything else: nothing a user can hand rlsae
in an output folder is ever unpickled.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rlsae.common.errors import UserError


def current_umask() -> int:
    """The process umask. Linux shows it in /proc; elsewhere reading it means setting it for a moment,
    which a thread creating a file at that instant could see."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed.

    The file gets the mode a plain open() would give it (0666 less the umask): some writers
    (safetensors) create theirs 0600, which would leave owner-only files beside readable ones.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except SafetensorError as err:
        # safetensors reports a full disk as its own error type; make it the OSError it is, so the
        # CLI says "disk full" like for every other write.
        if "os error 28" in str(err):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from err
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path, what: str = "file") -> Any:
    """Parse a JSON file, or raise a one-line UserError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{what} '{path}' is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{what} '{path}' is not valid JSON ({err})") from None
    except OSError as err:  # a folder, no permission: the user's path, so a message, not a traceback
        raise UserError(f"cannot read {what} '{path}' ({err.strerror or err})") from None


# ---- resume state: nested dicts/lists of tensors and JSON scalars ----

_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"


def _split(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace each tensor in ``value`` by a reference into ``tensors``; JSON cannot hold int keys or
    tuples, so dicts and tuples are tagged and rebuilt exactly by :func:`_join`."""
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(value, dict):
        return {_ITEMS: [[k, _split(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_split(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_split(v, tensors) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in resume state")


def _join(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_join(v, tensors) for v in value]
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _TUPLE in value:
            return tuple(_join(v, tensors) for v in value[_TUPLE])
        return {k: _join(v, tensors) for k, v in value[_ITEMS]}
    return value


def save_state(stem: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as ``stem.safetensors`` + ``stem.json`` (the JSON last: it marks a whole pair)."""
    stem = Path(stem)
    tensors: dict[str, torch.Tensor] = {}
    tree = _split(state, tensors)
    with atomic_path(stem.with_suffix(".safetensors")) as tmp:
        save_file(tensors, str(tmp))
    write_json(stem.with_suffix(".json"), tree)


def load_state(stem: Path) -> dict[str, Any] | None:
    """Read what :func:`save_state` wrote; None when there is none; a UserError when it is damaged."""
    stem = Path(stem)
    tree_path, tensor_path = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    if not tree_path.exists():
        return None
    tree = read_json(tree_path, "resume state")
    try:
        tensors = load_file(str(tensor_path))
        return _join(tree, tensors)
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as err:
        raise UserError(f"the resume state '{tensor_path}' is damaged or incomplete ({err}); "
                        "delete it to start over") from None
