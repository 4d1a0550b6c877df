"""The on-disk recording: a folder of chunks, each a set of memory-mappable .npy arrays.

    DIR/
      manifest.json           what produced it: agent, layer, game, settings, runs, versions, n_steps
      agent/                  copy of the agent checkpoint (model.safetensors + manifest.json), if any
      chunks/000000/          one committed chunk (at most chunk_size steps)
        activations.npy       [n, d]   float32 (or float16) output of the recorded layer, flattened
        q_values.npy          [n, A]   float32
        actions.npy           [n]      uint8   action taken at this step (after epsilon)
        rewards.npy           [n]      float32 unclipped reward of that action
        dones.npy             [n]      bool    the game ended after that action
        episode_ids.npy       [n]      int64   global episode number
        episode_steps.npy     [n]      int64   agent step within the episode (0 = after reset)
        lives.npy             [n]      uint8
        ram.npy               [n, 128] uint8   RAM when the agent saw this step
        snapshot_keys.npy     [m, 2]   int64   (episode id, episode step) each emulator snapshot re-creates
        snapshot_offsets.npy  [m + 1]  int64   byte offsets into snapshots.bin
        snapshots.bin                  zlib-compressed ALE states
        episodes.parquet               episodes starting in this chunk: id, env, noops, start_step, run
        resume.npz                     emulator + RNG state after the chunk (to continue the same games)
      chunks/000001.partial/  a chunk being written; ignored by readers, deleted on resume

A chunk is written under ``.partial`` and renamed when complete, so a kill -9 loses at most the chunk
in progress and never leaves a torn one. Step ``i`` of the recording is step ``i - start`` of the
chunk holding it; the steps of the N envs are interleaved (env order within each batch).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rlsae.common.errors import UserError
from rlsae.common.files import read_json, write_json

T = TypeVar("T")
MANIFEST = "manifest.json"
CHUNKS = "chunks"
AGENT = "agent"
PARTIAL = ".partial"
FORMAT = "rlsae-recording"
FORMAT_VERSION = 1
EPISODES = "episodes.parquet"
RESUME = "resume.npz"
SNAPSHOTS = "snapshots.bin"
STEP_ARRAYS = ("activations", "q_values", "actions", "rewards", "dones", "episode_ids", "episode_steps",
               "lives", "ram")
CHUNK_FILES = (*(f"{name}.npy" for name in STEP_ARRAYS), "snapshot_keys.npy", "snapshot_offsets.npy", SNAPSHOTS,
               EPISODES, RESUME)
_CHUNK_NAME = re.compile(r"^\d{6}$")
_MANIFEST_TYPES = {"game": str, "layer": str, "d_act": int, "n_actions": int, "activation_dtype": str,
                   "snapshot_every": int, "runs": list, "n_steps": int, "agent": dict}


def shard_folder(k: int, n: int) -> str:
    return f"shard-{k}-of-{n}"


def step_array_specs(d_act: int, n_actions: int, act_dtype: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, per-step shape) of every per-step array."""
    return {"activations": (act_dtype, (d_act,)), "q_values": ("float32", (n_actions,)),
            "actions": ("uint8", ()), "rewards": ("float32", ()), "dones": ("bool", ()),
            "episode_ids": ("int64", ()), "episode_steps": ("int64", ()), "lives": ("uint8", ()),
            "ram": ("uint8", (128,))}


def read_store_manifest(path: Path) -> dict[str, Any]:
    path = Path(path)
    file = path / MANIFEST
    if not path.is_dir() or not file.exists():
        raise UserError(f"no recording at '{path}': expected a folder with {MANIFEST} made by "
                        f"`rlsae record --out {path}`")
    manifest = read_json(file, "recording manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"'{file}' is not an rlsae recording manifest (no \"format\": \"{FORMAT}\")")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(f"'{file}' has format_version {version!r}; this rlsae reads version {FORMAT_VERSION}"
                        + (": upgrade rlsae" if isinstance(version, int) and version > FORMAT_VERSION else ""))
    for key, kind in _MANIFEST_TYPES.items():
        value = manifest.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise UserError(f"'{file}' is damaged: \"{key}\" should be a {kind.__name__} (>= 0 for numbers), "
                            f"it is {value!r}")
    if manifest["activation_dtype"] not in ("float32", "float16"):
        raise UserError(f"'{file}' is damaged: unknown activation_dtype {manifest['activation_dtype']!r}")
    return manifest


def read_chunk_file(file: Path, read: Callable[[Path], T]) -> T:
    """``read(file)``, or a UserError saying how to repair the damaged chunk holding ``file``."""
    try:
        return read(file)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise UserError(f"cannot read '{file}' ({err}); the chunk is damaged: delete it and every later chunk "
                        "folder, then run `rlsae record` on the store again to re-record them") from None


def check_chunk(chunk: Path) -> None:
    """A UserError unless ``chunk`` holds every chunk file and a readable episode table. The arrays are checked
    as they are mapped; the table is read only by the stages that render frames, so without this a damaged one
    passes `train-sae` and surfaces stages later."""
    missing = [name for name in CHUNK_FILES if not (chunk / name).is_file()]
    if missing:
        raise UserError(f"chunk '{chunk}' is incomplete ({', '.join(missing)} missing): delete it and every "
                        "later chunk folder, then run `rlsae record` on the store again to re-record them")
    read_chunk_file(chunk / EPISODES, pq.read_metadata)


def committed_chunks(path: Path) -> list[Path]:
    """Complete chunk folders in order (``.partial`` ones excluded)."""
    folder = Path(path) / CHUNKS
    if not folder.is_dir():
        return []
    chunks = sorted(p for p in folder.iterdir() if p.is_dir() and _CHUNK_NAME.match(p.name))
    for i, chunk in enumerate(chunks):
        if chunk.name != f"{i:06d}":
            raise UserError(f"chunk folders in '{folder}' are not numbered 000000, 000001, ...: "
                            f"'{chunk.name}' is number {i}; the store was edited by hand")
    return chunks


def remove_partial_chunks(path: Path) -> None:
    folder = Path(path) / CHUNKS
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.endswith(PARTIAL):
                shutil.rmtree(p)


class ChunkedArray:
    """The concatenation of per-chunk memmaps, indexable like one array without loading it.

    ``x[i]``, ``x[a:b]``, ``x[int_array]`` and ``x[bool_mask]`` read only what they touch;
    ``np.asarray(x)`` loads everything; ``x.parts`` are the memmaps themselves (for streaming).
    """

    def __init__(self, parts: list[np.ndarray], dtype: np.dtype, tail: tuple[int, ...]):
        self.parts = parts
        self.dtype = np.dtype(dtype)
        self._tail = tail
        self.offsets = np.cumsum([0] + [len(p) for p in parts])

    @property
    def shape(self) -> tuple[int, ...]:
        return (int(self.offsets[-1]), *self._tail)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __repr__(self) -> str:
        return f"ChunkedArray(shape={self.shape}, dtype={self.dtype}, chunks={len(self.parts)})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out.astype(dtype) if dtype is not None else out

    def __getitem__(self, key: Any) -> Any:
        rest: tuple[Any, ...] = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"index {key} out of range for {len(self)} steps")
            c = int(np.searchsorted(self.offsets, i, side="right") - 1)
            return self.parts[c][(i - self.offsets[c], *rest)]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self[np.arange(start, stop, step), *rest]
            pieces = [p[max(start - o, 0): stop - o] for p, o in zip(self.parts, self.offsets[:-1])
                      if stop > o and start < o + len(p)]
            out = np.concatenate(pieces) if pieces else np.empty((0, *self._tail), self.dtype)
            return out[(slice(None), *rest)] if rest else out
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = np.where(idx < 0, idx + len(self), idx).astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"index out of range for {len(self)} steps")
        out = np.empty((*idx.shape, *self._tail), self.dtype)
        flat, out_flat = idx.reshape(-1), out.reshape(-1, *self._tail)
        chunk = np.searchsorted(self.offsets, flat, side="right") - 1
        for c in np.unique(chunk):
            sel = np.flatnonzero(chunk == c)
            local = flat[sel] - self.offsets[c]
            order = np.argsort(local, kind="stable")  # memmap reads in file order
            out_flat[sel[order]] = self.parts[c][local[order]]
        return out[(..., *rest)] if rest else out


def _reserved_memmap(path: Path, dtype: str, shape: tuple[int, ...]) -> np.memmap:
    """A new .npy memmap whose disk blocks are allocated now: on a full disk this raises ENOSPC here,
    where writing into a sparse memmap would kill the process with SIGBUS mid-chunk."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    if hasattr(os, "posix_fallocate"):  # Linux; elsewhere a full disk is found only when writing
        with open(path, "r+b") as f:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
    return array


@dataclass
class ChunkWriter:
    """Writes one chunk under ``NNNNNN.partial`` and renames it on ``commit``."""

    folder: Path
    length: int
    specs: dict[str, tuple[str, tuple[int, ...]]]

    def __post_init__(self) -> None:
        self.partial = self.folder.with_name(self.folder.name + PARTIAL)
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True)
        try:
            self.arrays = {name: _reserved_memmap(self.partial / f"{name}.npy", dtype, (self.length, *tail))
                           for name, (dtype, tail) in self.specs.items()}
        except OSError:  # e.g. a full disk: free what this chunk took
            shutil.rmtree(self.partial)
            raise
        self.filled = 0
        self.snapshot_keys: list[tuple[int, int]] = []
        self.snapshot_blobs: list[bytes] = []
        self.episodes: list[dict[str, int]] = []

    def write(self, rows: dict[str, np.ndarray]) -> None:
        n = len(rows["actions"])
        for name, values in rows.items():
            self.arrays[name][self.filled: self.filled + n] = values
        self.filled += n

    def commit(self, resume_state: dict[str, np.ndarray]) -> None:
        assert self.filled == self.length, (self.filled, self.length)
        for arr in self.arrays.values():
            arr.flush()
        self.arrays.clear()
        np.save(self.partial / "snapshot_keys.npy", np.asarray(self.snapshot_keys, np.int64).reshape(-1, 2))
        np.save(self.partial / "snapshot_offsets.npy",
                np.cumsum([0] + [len(b) for b in self.snapshot_blobs]).astype(np.int64))
        (self.partial / SNAPSHOTS).write_bytes(b"".join(self.snapshot_blobs))
        columns = ("episode_id", "env", "noops", "start_step", "run")
        pq.write_table(pa.table({c: pa.array([e[c] for e in self.episodes], pa.int64()) for c in columns}),
                       self.partial / EPISODES)
        np.savez(self.partial / RESUME, **resume_state)
        self.partial.rename(self.folder)


def write_store_manifest(path: Path, manifest: dict[str, Any]) -> None:
    write_json(Path(path) / MANIFEST, manifest)
