"""Many emulators stepped together, in this process or in worker processes: an environment that, unlike
ALE's vector env, shows the RAM and can save and restore its games (the recorder and steering play it).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from rlsae.envs.emulator import OBS_SIZE, STACK, Emulators, Snapshot

ALL = slice(None)


def _serve(conn: Connection, inherited: list[Connection], game: str, blocks: dict[int, tuple[int, int]],
           seed: int, run: int, snapshot_every: int) -> None:
    """A worker process: runs the groups ``blocks`` (group -> env range), one request at a time.

    ``inherited`` are the parent's ends of the pipes, copied by fork: closed here, so that the parent's
    death (even by kill -9) ends the pipe and with it this process.
    """
    for end in inherited:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent decides
    groups = {g: Emulators(game, lo, hi, seed, run, snapshot_every) for g, (lo, hi) in blocks.items()}
    with contextlib.suppress(EOFError, OSError):  # the parent closed the pipe or is gone (even by kill -9)
        while True:
            g, method, args = conn.recv()
            try:
                answer = (g, True, getattr(groups[g], method)(*args))
            except Exception as err:  # handed to the parent, which raises it
                answer = (g, False, err)
            conn.send(answer)


class EnvBatch:
    """N emulators stepped together; obs [N, 4, 84, 84] uint8 as ``make_vector_env(training=False)``.

    The envs are split into ``groups`` contiguous blocks. With ``workers`` > 0 the blocks run in that
    many worker processes (ALE holds the GIL while it emulates, so threads cannot overlap it with the
    network), and a block can step in the background (:meth:`send_step`, :meth:`finish_step`) while
    the caller evaluates the network on another. The games are the same either way.

    A snapshot is taken every ``snapshot_every`` steps of each episode (mid-step, before the two
    frames that make the observation, so a replay can re-create that step's screens).
    """

    def __init__(self, game: str, num_envs: int, seed: int, snapshot_every: int, *, run: int = 0,
                 groups: int = 1, workers: int = 0):
        self.num_envs = n = num_envs
        bounds = np.linspace(0, n, min(groups, n) + 1).round().astype(int)
        self.blocks = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._local: list[Emulators] = []
        self._conns: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []
        if workers > 0:
            # fork starts a worker in milliseconds; it runs only ALE and numpy, none of torch's threads
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            for w in range(min(workers, len(self.blocks))):
                parent, child = ctx.Pipe()
                mine = {g: (b.start, b.stop) for g, b in enumerate(self.blocks) if g % workers == w}
                inherited = [*self._conns, parent] if ctx.get_start_method() == "fork" else []
                proc = ctx.Process(target=_serve, args=(child, inherited, game, mine, seed, run, snapshot_every),
                                   daemon=True)
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
        else:
            self._local = [Emulators(game, b.start, b.stop, seed, run, snapshot_every) for b in self.blocks]
        self._done: dict[int, Any] = {}  # in-process results waiting for finish
        self._inbox: dict[int, list[tuple[bool, Any]]] = {}  # workers' answers waiting for finish
        self.obs = np.zeros((n, STACK, OBS_SIZE, OBS_SIZE), np.uint8)
        self.episode_ids = np.zeros(n, np.int64)
        self.episode_steps = np.zeros(n, np.int64)
        self.noops = np.zeros(n, np.int64)
        self._ram = np.zeros((n, 128), np.uint8)
        self._lives = np.zeros(n, np.uint8)
        self.next_episode_id = 0
        self.n_actions: int = self._call(0, "n_actions")

    # ---- requests to a block, in this process or in its worker (answered in the order sent) ----

    def _send(self, g: int, method: str, *args: Any) -> None:
        if self._local:
            self._done[g] = getattr(self._local[g], method)(*args)
        else:
            self._conns[g % len(self._conns)].send((g, method, args))

    def _finish(self, g: int) -> Any:
        if self._local:
            return self._done.pop(g)
        while not self._inbox.get(g):  # a worker answers its blocks in the order asked: keep the others'
            answered, ok, value = self._conns[g % len(self._conns)].recv()
            self._inbox.setdefault(answered, []).append((ok, value))
        ok, value = self._inbox[g].pop(0)
        if not ok:
            raise value
        return value

    def _call(self, g: int, method: str, *args: Any) -> Any:
        self._send(g, method, *args)
        return self._finish(g)

    def _mirror(self, g: int, view: dict[str, np.ndarray]) -> None:
        b = self.blocks[g]
        self.obs[b], self.episode_steps[b], self.noops[b] = view["obs"], view["episode_steps"], view["noops"]
        self._ram[b], self._lives[b] = view["ram"], view["lives"]

    def _new_episodes(self, envs: np.ndarray) -> None:
        for i in envs:
            self.episode_ids[i] = self.next_episode_id
            self.next_episode_id += 1

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            proc.join(timeout=5)
        self._conns, self._procs = [], []

    # ---- the batch ----

    def reset_all(self) -> None:
        for g in range(len(self.blocks)):
            self._mirror(g, self._call(g, "reset_all"))
        self._new_episodes(np.arange(self.num_envs))

    def _block(self, i: int) -> int:
        return next(g for g, b in enumerate(self.blocks) if b.start <= i < b.stop)

    def reset_env(self, i: int, noops: int | None = None) -> None:
        g = self._block(i)
        self._mirror(g, self._call(g, "reset", i - self.blocks[g].start, noops))
        self._new_episodes(np.array([i]))

    def start_from(self, i: int, blob: bytes, obs: np.ndarray, episode_step: int) -> None:
        """Continue a recorded game in env ``i`` (``Recording.restart_points`` gives ``blob`` and ``obs``)."""
        g = self._block(i)
        self._mirror(g, self._call(g, "start_from", i - self.blocks[g].start, blob, obs, episode_step))
        self._new_episodes(np.array([i]))

    def ram(self, envs: slice = ALL) -> np.ndarray:
        """RAM of the games as the agent sees them now."""
        return self._ram[envs].copy()

    def lives(self, envs: slice = ALL) -> np.ndarray:
        return self._lives[envs].copy()

    def screen_rgb(self, i: int) -> np.ndarray:
        g = self._block(i)
        return self._call(g, "screen_rgb", i - self.blocks[g].start)

    def send_step(self, g: int, actions: np.ndarray) -> None:
        """Start stepping block ``g`` (one action per env of the block)."""
        self._send(g, "step", np.asarray(actions))

    def finish_step(self, g: int) -> tuple[np.ndarray, np.ndarray, list[Snapshot]]:
        """Wait for block ``g``'s step: its rewards and dones, and the snapshots taken (global env index)."""
        result = self._finish(g)
        lo = self.blocks[g].start
        self._mirror(g, result)
        self._new_episodes(np.flatnonzero(result["dones"]) + lo)
        return result["rewards"], result["dones"], [Snapshot(lo + i, k, blob) for i, k, blob in result["snapshots"]]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Snapshot]]:
        """Apply one action to each env; finished games reset in the same step."""
        for g, b in enumerate(self.blocks):
            self.send_step(g, actions[b])
        parts = [self.finish_step(g) for g in range(len(self.blocks))]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                [s for p in parts for s in p[2]])

    # ---- resume: everything needed to continue the same games after a restart ----

    def get_state(self) -> dict[str, np.ndarray]:
        groups = [self._call(g, "get_state") for g in range(len(self.blocks))]
        state = {"obs": self.obs.copy(), "episode_ids": self.episode_ids.copy(),
                 "episode_steps": self.episode_steps.copy(), "noops": self.noops.copy(),
                 "episode_frames": np.concatenate([s["episode_frames"] for s in groups]),
                 "next_episode_id": np.array(self.next_episode_id),
                 "noop_rngs": np.array([r for s in groups for r in s["noop_rngs"]])}
        for i, blob in enumerate(b for s in groups for b in s["ale"]):
            state[f"ale_{i}"] = np.frombuffer(blob, np.uint8)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        rngs = [str(r) for r in state["noop_rngs"]] if "noop_rngs" in state else None
        for g, b in enumerate(self.blocks):
            envs = range(b.start, b.stop)
            part = {"ale": [state[f"ale_{i}"].tobytes() for i in envs],
                    "noop_rngs": None if rngs is None else rngs[b],
                    **{k: state[k][b] for k in ("obs", "episode_steps", "episode_frames", "noops")}}
            self._mirror(g, self._call(g, "set_state", part))
        self.episode_ids[...] = state["episode_ids"]
        self.next_episode_id = int(state["next_episode_id"])
