"""Reading a recording: memory-mapped per-step arrays, the episode table, and re-rendered frames."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from rlsae.config import UserError
from rlsae.record.render import EpisodeIndex, Replayer, replay_frames
from rlsae.record.store import (
    AGENT,
    CHUNK_FILES,
    EPISODES,
    SNAPSHOTS,
    STEP_ARRAYS,
    ChunkedArray,
    committed_chunks,
    read_chunk_file,
    read_store_manifest,
    step_array_specs,
)


class Recording:
    """A recording opened read-only. Per-step arrays are :class:`ChunkedArray` views of memmaps::

        rec = Recording.open("runs/recording")
        x = rec.activations[np.sort(rng.choice(len(rec), 4096))]   # float32 [4096, 512]
        frames = rec.render_frames([10, 20_000])                    # uint8 [2, 210, 160, 3]
    """

    activations: ChunkedArray
    q_values: ChunkedArray
    actions: ChunkedArray
    rewards: ChunkedArray
    dones: ChunkedArray
    episode_ids: ChunkedArray
    episode_steps: ChunkedArray
    lives: ChunkedArray
    ram: ChunkedArray

    def __init__(self, path: Path, manifest: dict[str, Any], chunks: list[Path]):
        self.path, self.manifest, self.chunks = path, manifest, chunks
        for chunk in chunks:
            missing = [name for name in CHUNK_FILES if not (chunk / name).is_file()]
            if missing:
                raise UserError(f"chunk '{chunk}' is incomplete ({', '.join(missing)} missing): delete it and every "
                                "later chunk folder, then run `rlsae record` on the store again to re-record them")
        specs = step_array_specs(manifest["d_act"], manifest["n_actions"], manifest["activation_dtype"])
        for name in STEP_ARRAYS:
            dtype, tail = specs[name]
            parts = [self._load(chunk / f"{name}.npy", dtype, tail) for chunk in chunks]
            setattr(self, name, ChunkedArray(parts, np.dtype(dtype), tail))
        lengths = {len(getattr(self, name)) for name in STEP_ARRAYS}
        if len(lengths) != 1:
            raise UserError(f"recording '{path}' is torn: its arrays have different lengths "
                            f"{sorted(lengths)}; delete its last chunk folder and resume with `rlsae record`")

    @classmethod
    def open(cls, path: Path | str) -> Recording:
        path = Path(path)
        return cls(path, read_store_manifest(path), committed_chunks(path))

    @staticmethod
    def _load(file: Path, dtype: str, tail: tuple[int, ...]) -> np.ndarray:
        arr = read_chunk_file(file, lambda f: np.load(f, mmap_mode="r"))
        if arr.dtype != np.dtype(dtype) or arr.shape[1:] != tail:
            raise UserError(f"'{file}' holds {arr.dtype} {arr.shape}, expected {dtype} [n, {tail}]")
        return arr

    def __len__(self) -> int:
        return len(self.actions)

    def __repr__(self) -> str:
        m = self.manifest
        return (f"Recording('{self.path}', {len(self)} steps, layer '{m['layer']}' d={m['d_act']}, "
                f"{len(self.chunks)} chunks)")

    # ---- episodes ----

    @cached_property
    def episodes(self) -> dict[str, np.ndarray]:
        """Per episode (sorted by id): episode_id, env, noops, start_step, run, length (steps recorded),
        score (sum of unclipped rewards recorded), complete (the game over was recorded)."""
        tables = [read_chunk_file(chunk / EPISODES, lambda f: pq.read_table(f).to_pydict()) for chunk in self.chunks]
        cols = {c: np.array([v for t in tables for v in t[c]], np.int64)
                for c in ("episode_id", "env", "noops", "start_step", "run")}
        order = np.argsort(cols["episode_id"])
        cols = {c: v[order] for c, v in cols.items()}
        ids = np.asarray(self.episode_ids)
        pos = np.searchsorted(cols["episode_id"], ids)
        n = len(cols["episode_id"])
        cols["length"] = np.bincount(pos, minlength=n)
        cols["score"] = np.bincount(pos, weights=np.asarray(self.rewards, np.float64), minlength=n)
        cols["complete"] = np.bincount(pos, weights=np.asarray(self.dones), minlength=n) > 0
        return cols

    @cached_property
    def _index(self) -> EpisodeIndex:
        ids, steps = np.asarray(self.episode_ids), np.asarray(self.episode_steps)
        order = np.lexsort((steps, ids))
        sorted_ids = ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]) if len(ids) else []
        first = {int(sorted_ids[s]): int(s) for s in starts}
        ep = self.episodes
        noops = dict(zip(ep["episode_id"].tolist(), ep["noops"].tolist()))
        snapshots: dict[tuple[int, int], bytes] = {}
        for chunk in self.chunks:
            keys = read_chunk_file(chunk / "snapshot_keys.npy", np.load)
            offsets = read_chunk_file(chunk / "snapshot_offsets.npy", np.load)
            blob = (chunk / SNAPSHOTS).read_bytes()
            for (e, k), a, b in zip(keys.tolist(), offsets[:-1].tolist(), offsets[1:].tolist()):
                snapshots[(e, k)] = blob[a:b]
        return EpisodeIndex(order, first, noops, snapshots)

    @cached_property
    def _replayer(self) -> Replayer:
        return Replayer(self.manifest["game"], self._index, np.asarray(self.actions), np.asarray(self.ram),
                        int(self.manifest["snapshot_every"]))

    def _steps(self, indices: Any) -> np.ndarray:
        idx = np.atleast_1d(np.asarray(indices, np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise UserError(f"step indices must be in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        return idx

    def render_frames(self, indices: Any, pooled: bool = True) -> np.ndarray:
        """uint8 [len(indices), 210, 160, 3]: each step's colour screen as the agent saw it.

        Steps of one episode are replayed in one pass from the nearest snapshot, so asking for many
        steps at once is much faster than one at a time. Raises ReplayMismatch if a replayed RAM
        differs from the recorded one.
        """
        idx = self._steps(indices)
        return replay_frames(self._replayer, self.episode_ids[idx], self.episode_steps[idx], obs=False,
                             pooled=pooled)

    def observations(self, indices: Any) -> np.ndarray:
        """uint8 [len(indices), 4, 84, 84]: the frame stacks the network was fed, re-created."""
        idx = self._steps(indices)
        return replay_frames(self._replayer, self.episode_ids[idx], self.episode_steps[idx], obs=True)

    # ---- the agent ----

    def load_agent(self, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
        """The Q-network that made the recording (stored in the recording's ``agent/`` folder)."""
        from rlsae.agents.checkpoint import load_agent

        folder = self.path / AGENT
        if not folder.is_dir():
            raise UserError(f"recording '{self.path}' was made with a user module, not an rlsae checkpoint: "
                            "it holds no copy of the agent")
        return load_agent(folder, device)

    @cached_property
    def head_weight(self) -> np.ndarray:
        """float32 [n_actions, d]: the Q-head's weight when the recorded layer feeds it (layer 'hidden')."""
        model, _ = self.load_agent()
        head = getattr(model, "head", None)
        if self.manifest["layer"] != "hidden" or head is None:
            raise UserError(f"layer '{self.manifest['layer']}' is not the Q-head's input ('hidden')")
        return head.weight.detach().cpu().numpy()
