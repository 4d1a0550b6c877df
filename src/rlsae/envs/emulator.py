"""Single ALE emulators with the vector env's preprocessing, plus the RAM and state snapshots it hides
(``rlsae.envs.batch.EnvBatch`` steps many of them together).

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

import json
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from ale_py import ALEInterface, ALEState, LoggerMode, roms

from rlsae.envs.atari import FRAME_SKIP, NOOP_MAX, SCREEN_HEIGHT, SCREEN_WIDTH, check_game

OBS_SIZE = 84
STACK = 4
MAX_EPISODE_FRAMES = 108_000


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


_ROWS = area_taps(SCREEN_HEIGHT, OBS_SIZE)
_COLS = area_taps(SCREEN_WIDTH, OBS_SIZE)


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
        self.raw = np.zeros((k, 2, SCREEN_HEIGHT, SCREEN_WIDTH), np.uint8)  # frame 4, frame 3 (C++ order)
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
                "noop_rngs": [rng_to_str(r) for r in self.noop_rngs],
                "obs": self.obs, "episode_steps": self.episode_steps, "episode_frames": self.episode_frames,
                "noops": self.noops}

    def set_state(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        for ale, blob in zip(self.ales, state["ale"]):
            ale.restoreState(decode_state(blob))
        if state["noop_rngs"] is not None:  # None: a store from before per-env no-op streams
            self.noop_rngs = [rng_from_str(text) for text in state["noop_rngs"]]
        for name in ("obs", "episode_steps", "episode_frames", "noops"):
            getattr(self, name)[...] = state[name]
        return self.view()


def rng_to_str(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def rng_from_str(text: str) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(text)
    return rng
