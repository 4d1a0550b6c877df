"""Reading a recording: memory-mapped per-step arrays, the episode table, and re-rendered frames."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from rlsae.common.errors import UserError
from rlsae.config import require
from rlsae.record.render import EpisodeIndex, Replayer, replay_frames
from rlsae.record.store import (
    AGENT,
    EPISODES,
    MANIFEST,
    SNAPSHOTS,
    STEP_ARRAYS,
    ChunkedArray,
    check_chunk,
    committed_chunks,
    read_chunk_file,
    read_store_manifest,
    shard_folder,
    step_array_specs,
)

if TYPE_CHECKING:
    from rlsae.agents.protocol import Agent

# What the shards of one recording must share.
SHARD_IDENTITY = ("game", "layer", "d_act", "n_actions", "activation_dtype", "snapshot_every")


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

    def __init__(self, path: Path, manifest: dict[str, Any], chunks: list[Path], chunk_shards: list[int] | None = None,
                 n_shards: int = 1):
        self.path, self.manifest, self.chunks = path, manifest, chunks
        # shard K of N keeps its own episode ids: here episode e of shard K is e * N + K, unique in the whole
        self._shard, self._n_shards = np.asarray(chunk_shards or [0] * len(chunks), np.int64), n_shards
        for chunk in chunks:
            check_chunk(chunk)
        specs = step_array_specs(manifest["d_act"], manifest["n_actions"], manifest["activation_dtype"])
        for name in STEP_ARRAYS:
            dtype, tail = specs[name]
            parts = [self._load(chunk / f"{name}.npy", dtype, tail) for chunk in chunks]
            if name == "episode_ids" and n_shards > 1:
                parts = [np.asarray(p) * n_shards + k for p, k in zip(parts, self._shard)]
            setattr(self, name, ChunkedArray(parts, np.dtype(dtype), tail))
        lengths = {len(getattr(self, name)) for name in STEP_ARRAYS}
        if len(lengths) != 1:
            raise UserError(f"recording '{path}' is torn: its arrays have different lengths "
                            f"{sorted(lengths)}; delete its last chunk folder and resume with `rlsae record`")

    @classmethod
    def open(cls, path: Path | str) -> Recording:
        """A store, or a folder of the shards written by `rlsae record --shard K/N`, read as one recording."""
        path = Path(path)
        shards = sorted(path.glob("shard-*-of-*")) if path.is_dir() and not (path / MANIFEST).exists() else []
        if shards:
            return cls._open_shards(path, shards)
        return cls(path, read_store_manifest(path), committed_chunks(path))

    @classmethod
    def _open_shards(cls, path: Path, found: list[Path]) -> Recording:
        n = int(found[0].name.rsplit("-", 1)[1]) if found[0].name.rsplit("-", 1)[1].isdigit() else 0
        missing = [k for k in range(n) if not (path / shard_folder(k, n)).is_dir()]
        stray = sorted({p.name for p in found} - {shard_folder(k, n) for k in range(n)})
        require(n > 0 and not missing and not stray,
                f"'{path}' should hold the shards {shard_folder(0, n)} .. {shard_folder(n - 1, n)}: missing {missing}"
                f"{f', and stray {stray}' if stray else ''}; record a missing one with `rlsae record --shard K/{n} "
                f"--out {path}`, or copy it here")
        manifests = [read_store_manifest(path / shard_folder(k, n)) for k in range(n)]
        for k, m in enumerate(manifests[1:], start=1):
            changed = [key for key in SHARD_IDENTITY if m.get(key) != manifests[0].get(key)]
            if m.get("agent", {}).get("sha256") != manifests[0].get("agent", {}).get("sha256"):
                changed.append("agent")
            require(not changed, f"shard {k} of '{path}' differs from shard 0 in {', '.join(changed)}: "
                    "the shards of one recording need the same agent and settings")
        chunks = [committed_chunks(path / shard_folder(k, n)) for k in range(n)]
        manifest = {**manifests[0], "n_steps": sum(m["n_steps"] for m in manifests), "shards": n,
                    "runs": [run for m in manifests for run in m["runs"]]}
        return cls(path, manifest, [c for cs in chunks for c in cs], [k for k, cs in enumerate(chunks) for _ in cs], n)

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
        shard = np.repeat(self._shard, [len(t["episode_id"]) for t in tables])
        first = {int(k): int(self.actions.offsets[np.argmax(self._shard == k)]) for k in np.unique(self._shard)}
        cols["episode_id"] = cols["episode_id"] * self._n_shards + shard
        cols["start_step"] += np.array([first[int(k)] for k in shard], np.int64)
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
        for chunk, shard in zip(self.chunks, self._shard):
            keys = read_chunk_file(chunk / "snapshot_keys.npy", np.load) * [self._n_shards, 1] + [shard, 0]
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

    def restart_points(self, indices: Any) -> tuple[np.ndarray, list[bytes]]:
        """To play on from recorded steps: each step's frame stack (uint8 [n, 4, 84, 84]) and emulator state
        at the end of the step (compressed, for ``EnvBatch.start_from``), re-created by replay."""
        idx = self._steps(indices)
        states: list[bytes] = []
        obs = replay_frames(self._replayer, self.episode_ids[idx], self.episode_steps[idx], obs=True, states=states)
        return obs, states

    # ---- the agent ----

    def use_agent(self, agent: str | Path | None, device: str = "cpu") -> None:
        """Play and read ``agent`` (an ``--agent`` value) instead of the stored one; its weights must be
        the recorded agent's. None keeps the stored one."""
        if agent is None:
            return
        from rlsae.agents.protocol import check_same, load

        loaded = load(agent, device)
        check_same(loaded.model, self.manifest["agent"].get("sha256"), f"--agent {agent}")
        self.__dict__.pop("head", None)
        self._agent = loaded

    def agent(self, device: str = "cpu") -> Agent:
        """The agent that made the recording: ``--agent`` if given (``use_agent``), else the rlsae
        checkpoint copied into the store, else the one rebuilt from the factory the manifest names."""
        from rlsae.agents.protocol import Agent, rebuild

        found = getattr(self, "_agent", None)
        if found is not None:
            found.model.to(device)
            return found
        store = self.chunks[0].parent.parent if self.chunks else self.path  # of a sharded one: shard 0's
        folder = store / AGENT
        if folder.is_dir():
            from rlsae.agents.checkpoint import load_agent

            model, manifest = load_agent(folder, device)
            return Agent(model, self.manifest["layer"], None, manifest["game"], {"manifest": manifest})
        try:
            return rebuild(self.manifest["agent"], device)
        except UserError as err:
            raise UserError(f"recording '{self.path}': {err}") from None

    def load_agent(self, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
        """(the Q-network that made the recording, a manifest with at least its "game")."""
        agent = self.agent(device)
        return agent.model, {**agent.source.get("manifest", {}), "game": self.manifest["game"]}

    @property
    def output(self) -> str:
        """What the agent's forward returns, so what ``q_values`` holds: "q-values" or "policy" (logits)."""
        return self.manifest.get("output", "q-values")

    @property
    def head_name(self) -> str | None:
        """The nn.Linear mapping the recorded layer to the Q-values, checked when recorded (None: none).
        Recordings from before heads were stored read layer 'hidden' of an rlsae checkpoint: 'head'."""
        if "head" in self.manifest:
            return self.manifest["head"]
        rlsae_agent = self.manifest["agent"].get("kind") == "rlsae-checkpoint"
        return "head" if self.manifest["layer"] == "hidden" and rlsae_agent else None

    @cached_property
    def head(self) -> tuple[np.ndarray, np.ndarray] | None:
        """float32 (weight [n_actions, d], bias [n_actions]) of the Q-head reading the recorded layer, or None."""
        if self.head_name is None:
            return None
        layer = self.load_agent()[0].get_submodule(self.head_name)
        return layer.weight.detach().cpu().float().numpy(), layer.bias.detach().cpu().float().numpy()

    @cached_property
    def value_head(self) -> tuple[np.ndarray, np.ndarray] | None:
        """float32 (weight [1, d], bias [1]) of an actor-critic's value head on the recorded layer, or None."""
        name = self.manifest.get("value")
        if name is None:
            return None
        layer = self.load_agent()[0].get_submodule(name)
        return layer.weight.detach().cpu().float().numpy(), layer.bias.detach().cpu().float().numpy()

    @property
    def head_weight(self) -> np.ndarray:
        """float32 [n_actions, d]: the Q-head's weight; a UserError when no linear head reads the layer."""
        if self.head is None:
            from rlsae.agents.protocol import HEAD_UNAVAILABLE

            raise UserError(f"recording '{self.path}' (layer '{self.manifest['layer']}'): {HEAD_UNAVAILABLE}")
        return self.head[0]
