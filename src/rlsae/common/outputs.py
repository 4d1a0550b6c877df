"""Output folders that know what they hold, so no command writes over another one's work.

Every command claims its ``--out`` folder before doing any work (``rlsae.cli`` does it, from the
command's table entry): the folder must be new, empty or already hold the same kind of output; it
must be writable; and one process at a time may write into it (an ``flock`` on the folder, released
by the kernel even after ``kill -9``). The claim leaves a small marker file, ``.rlsae-output.json``,
naming the kind; folders written before markers existed are recognised by their own files.

Output files named by options such as ``--json`` are checked the same way: not a folder, and their
folder writable, before the work starts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rlsae.common.errors import UserError
from rlsae.common.files import write_json

MARKER = ".rlsae-output.json"
SWEEP_JSON, SWEEP_PNG = "sweep.json", "sweep.png"  # `rlsae sweep`'s result and plot (the browser reads them)
# kind -> the command that writes it
KINDS = {"agent": "rlsae train-agent", "recording": "rlsae record", "sae": "rlsae train-sae",
         "interpret": "rlsae interpret", "steer": "rlsae steer", "browser": "rlsae browse", "demo": "rlsae demo",
         "sweep": "rlsae sweep", "track": "rlsae track", "steer-bench": "rlsae steer-bench"}
# "kind" / "format" values in the manifest.json of each stage that writes one
_MANIFEST_KINDS = {"rlsae-recording": "recording", "rlsae-interpret": "interpret", "rlsae-browser": "browser"}
# files or folders that mark a kind of output written before markers existed
_SIGNS = (("cfg.json", "sae"), ("sae_weights.safetensors", "sae"), ("checkpoint", "sae"), ("steering.json", "steer"),
          ("index.html", "browser"), ("latest", "agent"), ("best", "agent"), ("model.safetensors", "agent"),
          ("summary.json", "demo"), ("sweep.json", "sweep"), ("track.json", "track"),
          ("recording", "demo"))


def _oserror(err: OSError) -> str:
    return err.strerror or str(err)


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def output_kind(folder: Path) -> str | None:
    """The kind of rlsae output ``folder`` holds (a key of :data:`KINDS`), or None."""
    folder = Path(folder)
    marker = _read(folder / MARKER)
    if isinstance(marker, dict) and marker.get("kind") in KINDS:
        return str(marker["kind"])
    manifest = _read(folder / "manifest.json")
    if isinstance(manifest, dict):
        for key in ("format", "kind"):
            if manifest.get(key) in _MANIFEST_KINDS:
                return _MANIFEST_KINDS[manifest[key]]
        if "n_actions" in manifest:
            return "agent"
    for name, kind in _SIGNS:
        if (folder / name).exists():
            return kind
    if any(folder.glob("shard-*-of-*")):  # the shards of a recording (`rlsae record --shard K/N`)
        return "recording"
    return None


def holds_only_marker(folder: Path) -> bool:
    """True when ``folder`` is empty but for the claim's marker (nothing has been written yet)."""
    return all(p.name == MARKER for p in Path(folder).iterdir())


def check_output_folder(folder: Path, kind: str, flag: str = "--out") -> None:
    """Refuse a file, a folder holding another kind of output, or a non-empty folder holding none."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} '{folder}' is a file; give a folder (new or empty) for the {kind} output")
    if not folder.is_dir():
        return
    found = output_kind(folder)
    if found is None and not holds_only_marker(folder):
        raise UserError(f"{flag} '{folder}' is not empty and holds no rlsae output: choose a new or empty "
                        "folder (nothing there was touched)")
    if found is not None and found != kind:
        raise UserError(f"{flag} '{folder}' holds {found} output (written by `{KINDS[found]}`), not {kind} output: "
                        "choose another folder (nothing there was touched)")


def check_output_file(path: Path, flag: str) -> None:
    """An output file's path must not be a folder, and its folder must be writable."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} '{path}' is a folder; give a file name (e.g. '{path / 'results.json'}')")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{path.name}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UserError(f"{flag} '{path}': cannot write in '{parent}' ({_oserror(err)})") from None


def write_results(path: Path, data: Any, flag: str) -> None:
    """Write a JSON result file; if that fails at the end of a long run, print the results instead of
    losing them, then report the failure."""
    try:
        write_json(path, data)
    except OSError as err:
        print(json.dumps(data, indent=2))
        reason = "disk full" if err.errno == errno.ENOSPC else _oserror(err)
        raise UserError(f"could not write {flag} '{path}' ({reason}); the results are printed above") from None


@contextlib.contextmanager
def claim_output(folder: Path, kind: str, flag: str = "--out") -> Iterator[Path]:
    """Hold ``folder`` as a ``kind`` output while the body runs (see the module docstring).

    If the body fails before writing anything but the marker, the marker (and the folder, if the
    claim created it) are removed again: a failed command leaves no trace.
    """
    folder = Path(folder)
    check_output_folder(folder, kind, flag)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
    except OSError as err:
        raise UserError(f"{flag} '{folder}': cannot create or open the folder ({_oserror(err)})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise UserError(f"{flag} '{folder}' is in use by another rlsae process; wait for it to finish or "
                                "choose another folder") from None
            raise
        marked = (folder / MARKER).exists()
        if not marked:
            try:
                write_json(folder / MARKER, {"kind": kind, "written_by": KINDS[kind]})
            except OSError as err:
                raise UserError(f"{flag} '{folder}' is not writable ({_oserror(err)})") from None
        ok = False
        try:
            yield folder
            ok = True
        finally:
            if not ok and not marked and holds_only_marker(folder):
                (folder / MARKER).unlink(missing_ok=True)
                if created:
                    with contextlib.suppress(OSError):
                        folder.rmdir()
    finally:
        os.close(fd)
