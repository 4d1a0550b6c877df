"""Single ALE emulators with the vector env's preprocessing, plus the RAM and state snapshots it hides.

``make_vector_env`` (ALE's C++ ``AtariVectorEnv``) gives the agent its observations but neither the RAM
nor a way to save the game. The recorder therefore plays N plain ``ALEInterface`` emulators and
re-does, step for step, what the C++ env does (ale-py 0.12 ``vector/preprocessed_env.cpp``):

* reset: ``reset_game()``, then 0..noop_max-1 single NOOP frames; the frame stack is zero-filled and the
  reset screen goes in last (the maxpool partner is a zero frame);
* step: the action repeated for 4 frames, stopping early at game over or 108,000 episode frames;
  the grey screens of frames 3 and 4 are max-pooled and area-resized to 84x84;
* sticky actions off, minimal action set.

The one thing re-implemented is OpenCV's INTER_AREA resize (``cv2`` is not a dependency); it is an
exact linear map, applied here as two small matrix products. The tests measure how close the result
is to the training env's observations.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import signal
import zlib
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from ale_py import ALEInterface, ALEState, LoggerMode, roms

from rlsae.envs.atari import FRAME_SKIP, NOOP_MAX, check_game

SCREEN_H, SCREEN_W = 210, 160
OBS_SIZE = 84
STACK = 4
MAX_EPISODE_FRAMES = 108_000
ALL = slice(None)


def area_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV INTER_AREA along one axis as taps: output j = sum_t weight[j, t] * input[index[j, t]].

    Each output cell averages the input span it covers (at most ceil(n_in / n_out) + 1 cells).
    """
    scale = n_in / n_out
    taps = int(np.ceil(scale)) + 1
    index = np.zeros((n_out, taps), dtype=np.intp)
    weight = np.zeros((n_out, taps), dtype=np.float32)
    for j in range(n_out):
        lo, hi = j * scale, (j + 1) * scale
        for t, i in enumerate(range(int(np.floor(lo)), min(n_in, int(np.ceil(hi))))):
            index[j, t], weight[j, t] = i, (min(hi, i + 1) - max(lo, i)) / scale
    return index, weight


_ROWS = area_taps(SCREEN_H, OBS_SIZE)
_COLS = area_taps(SCREEN_W, OBS_SIZE)


def resize_area(frames: np.ndarray) -> np.ndarray:
    """uint8 [..., 210, 160] grey screens -> uint8 [..., 84, 84], as cv2.resize(INTER_AREA).

    Gathered taps rather than a matrix product: BLAS would start threads that spin against the
    network's own threads in the recorder (measured: 7x slower recording on 2 cores).
    """
    x = frames.astype(np.float32)
    (col_index, col_weight), (row_index, row_weight) = _COLS, _ROWS
    x = (x[..., col_index] * col_weight).sum(-1)                       # [..., 210, 84]
    x = (x[..., row_index, :] * row_weight[:, :, None]).sum(-2)          # [..., 84, 84]
    return np.rint(x).clip(0, 255).astype(np.uint8)


def new_emulator(game: str, seed: int = 0) -> tuple[ALEInterface, list[Any]]:
    """An ALE emulator with sticky actions off, and its minimal action set."""
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setInt("random_seed", int(seed) % (2**31))
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(str(roms.get_rom_path(check_game(game))))
    return ale, list(ale.getMinimalActionSet())


def encode_state(state: ALEState) -> bytes:
    return zlib.compress(state.serialize(), 6)


def decode_state(blob: bytes) -> ALEState:
    return ALEState(zlib.decompress(blob))


@dataclass
class Snapshot:
    """Emulator state of one env taken after frame 2 of the step that produces ``episode_step``."""

    env: int
    episode_step: int
    blob: bytes


class Emulators:
    """The emulators of envs [lo, hi) of a batch, with all the per-env state stepping them needs.

    Each env has its own no-op stream, so a group's games do not depend on which process runs it or
    on the other groups: a batch gives the same games in one process or spread over many.
    """

    def __init__(self, game: str, lo: int, hi: int, seed: int, run: int, snapshot_every: int):
        pairs = [new_emulator(game, seed + i) for i in range(lo, hi)]
        self.ales, self.action_set = [p[0] for p in pairs], pairs[0][1]
        self.noop_rngs = [np.random.default_rng([seed, run, 1, i]) for i in range(lo, hi)]
        self.every = snapshot_every
        k = hi - lo
        self.obs = np.zeros((k, STACK, OBS_SIZE, OBS_SIZE), np.uint8)
        self.raw = np.zeros((k, 2, SCREEN_H, SCREEN_W), np.uint8)  # frame 4, frame 3 (C++ order)
        self.episode_steps = np.zeros(k, np.int64)
        self.episode_frames = np.zeros(k, np.int64)
        self.noops = np.zeros(k, np.int64)

    def view(self) -> dict[str, np.ndarray]:
        """What the batch mirrors: the observations and the state the agent sees them in."""
        return {"obs": self.obs.copy(), "episode_steps": self.episode_steps.copy(), "noops": self.noops.copy(),
                "ram": np.stack([ale.getRAM() for ale in self.ales]),
                "lives": np.array([ale.lives() for ale in self.ales], np.uint8)}

    def reset(self, i: int, noops: int | None = None) -> dict[str, np.ndarray]:
        ale = self.ales[i]
        ale.reset_game()
        n = int(self.noop_rngs[i].integers(0, NOOP_MAX)) if noops is None else noops
        for _ in range(n):
            ale.act(self.action_set[0])
            if ale.game_over():
                ale.reset_game()
        ale.getScreenGrayscale(self.raw[i, 0])
        self.obs[i] = 0
        self.obs[i, -1] = resize_area(self.raw[i, 0])
        self.episode_steps[i] = 0
        self.episode_frames[i] = 0
        self.noops[i] = n
        return self.view()

    def start_from(self, i: int, blob: bytes, obs: np.ndarray, episode_step: int) -> dict[str, np.ndarray]:
        """Put env ``i`` where a recorded game stood after ``episode_step`` steps (its state and frame stack)."""
        self.ales[i].restoreState(decode_state(blob))
        self.obs[i] = obs
        self.raw[i] = 0
        self.episode_steps[i] = episode_step
        self.episode_frames[i] = episode_step * FRAME_SKIP
        self.noops[i] = 0
        return self.view()

    def reset_all(self) -> dict[str, np.ndarray]:
        for i in range(len(self.ales)):
            self.reset(i)
        return self.view()

    def step(self, actions: np.ndarray) -> dict[str, Any]:
        """One action per env; finished games reset in the same step. Snapshots are (env, step, blob)."""
        k = len(self.ales)
        rewards = np.zeros(k, np.float32)
        dones = np.zeros(k, bool)
        snapshots: list[tuple[int, int, bytes]] = []
        for i, ale in enumerate(self.ales):
            action = self.action_set[int(actions[i])]
            snap = (self.episode_steps[i] + 1) % self.every == 0
            state = None
            for frame in range(FRAME_SKIP):
                if frame == FRAME_SKIP - 2 and snap:
                    state = ale.cloneState()
                rewards[i] += ale.act(action)
                self.episode_frames[i] += 1
                if ale.game_over() or self.episode_frames[i] >= MAX_EPISODE_FRAMES:
                    dones[i] = True
                    break
                if frame >= FRAME_SKIP - 2:
                    ale.getScreenGrayscale(self.raw[i, FRAME_SKIP - 1 - frame])
            if dones[i]:
                continue
            self.episode_steps[i] += 1
            if state is not None:
                snapshots.append((i, int(self.episode_steps[i]), encode_state(state)))
        live = np.flatnonzero(~dones)
        if live.size:
            self.obs[live, :-1] = self.obs[live, 1:]
            self.obs[live, -1] = resize_area(self.raw[live].max(axis=1))
        for i in np.flatnonzero(dones):
            self.reset(int(i))
        return {"rewards": rewards, "dones": dones, "snapshots": snapshots, **self.view()}

    def screen_rgb(self, i: int) -> np.ndarray:
        return self.ales[i].getScreenRGB()

    def n_actions(self) -> int:
        return len(self.action_set)

    def get_state(self) -> dict[str, Any]:
        return {"ale": [encode_state(ale.cloneState(include_rng=True)) for ale in self.ales],
                "noop_rngs": [_rng_to_str(r) for r in self.noop_rngs],
                "obs": self.obs, "episode_steps": self.episode_steps, "episode_frames": self.episode_frames,
                "noops": self.noops}

    def set_state(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        for ale, blob in zip(self.ales, state["ale"]):
            ale.restoreState(decode_state(blob))
        if state["noop_rngs"] is not None:  # None: a store from before per-env no-op streams
            self.noop_rngs = [_rng_from_str(text) for text in state["noop_rngs"]]
        for name in ("obs", "episode_steps", "episode_frames", "noops"):
            getattr(self, name)[...] = state[name]
        return self.view()


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


def _rng_to_str(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _rng_from_str(text: str) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(text)
    return rng
