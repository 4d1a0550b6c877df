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

import zlib
from dataclasses import dataclass, field
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


@dataclass
class EnvBatch:
    """N emulators stepped together; obs [N, 4, 84, 84] uint8 as ``make_vector_env(training=False)``.

    A snapshot is taken every ``snapshot_every`` steps of each episode (mid-step, before the two
    frames that make the observation, so a replay can re-create that step's screens).
    """

    game: str
    num_envs: int
    seed: int
    snapshot_every: int
    noop_rng: np.random.Generator = field(init=False)
    next_episode_id: int = 0

    def __post_init__(self) -> None:
        pairs = [new_emulator(self.game, self.seed + i) for i in range(self.num_envs)]
        self.ales = [p[0] for p in pairs]
        self.action_set = pairs[0][1]
        self.noop_rng = np.random.default_rng([self.seed, 1])
        n = self.num_envs
        self.obs = np.zeros((n, STACK, OBS_SIZE, OBS_SIZE), np.uint8)
        self.raw = np.zeros((n, 2, SCREEN_H, SCREEN_W), np.uint8)  # frame 4, frame 3 (C++ order)
        self.episode_ids = np.zeros(n, np.int64)
        self.episode_steps = np.zeros(n, np.int64)
        self.episode_frames = np.zeros(n, np.int64)
        self.noops = np.zeros(n, np.int64)

    @property
    def n_actions(self) -> int:
        return len(self.action_set)

    def reset_all(self) -> None:
        for i in range(self.num_envs):
            self.reset_env(i)

    def reset_env(self, i: int, noops: int | None = None) -> None:
        ale = self.ales[i]
        ale.reset_game()
        n = int(self.noop_rng.integers(0, NOOP_MAX)) if noops is None else noops
        for _ in range(n):
            ale.act(self.action_set[0])
            if ale.game_over():
                ale.reset_game()
        ale.getScreenGrayscale(self.raw[i, 0])
        self.obs[i] = 0
        self.obs[i, -1] = resize_area(self.raw[i, 0])
        self.episode_ids[i] = self.next_episode_id
        self.next_episode_id += 1
        self.episode_steps[i] = 0
        self.episode_frames[i] = 0
        self.noops[i] = n

    def ram(self, envs: slice = ALL) -> np.ndarray:
        return np.stack([ale.getRAM() for ale in self.ales[envs]])

    def lives(self, envs: slice = ALL) -> np.ndarray:
        return np.array([ale.lives() for ale in self.ales[envs]], np.uint8)

    def step(self, actions: np.ndarray, envs: slice = ALL) -> tuple[np.ndarray, np.ndarray, list[Snapshot]]:
        """Apply one action to each env of ``envs``; finished games reset in the same step.

        Returns rewards and dones for those envs, and the snapshots taken (env = index in the batch).
        """
        lo, hi, _ = envs.indices(self.num_envs)
        rewards = np.zeros(self.num_envs, np.float32)
        dones = np.zeros(self.num_envs, bool)
        snapshots: list[Snapshot] = []
        for i in range(lo, hi):
            ale = self.ales[i]
            action = self.action_set[int(actions[i - lo])]
            snap = (self.episode_steps[i] + 1) % self.snapshot_every == 0
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
                snapshots.append(Snapshot(i, int(self.episode_steps[i]), encode_state(state)))
        live = np.flatnonzero(~dones[lo:hi]) + lo
        if live.size:
            frames = resize_area(self.raw[live].max(axis=1))
            self.obs[live, :-1] = self.obs[live, 1:]
            self.obs[live, -1] = frames
        for i in np.flatnonzero(dones):
            self.reset_env(int(i))
        return rewards[lo:hi], dones[lo:hi], snapshots

    # ---- resume: everything needed to continue the same games after a restart ----

    def get_state(self) -> dict[str, np.ndarray]:
        state = {"obs": self.obs.copy(), "episode_ids": self.episode_ids.copy(),
                 "episode_steps": self.episode_steps.copy(), "episode_frames": self.episode_frames.copy(),
                 "noops": self.noops.copy(), "next_episode_id": np.array(self.next_episode_id),
                 "noop_rng": np.array(_rng_to_str(self.noop_rng))}
        for i, ale in enumerate(self.ales):
            state[f"ale_{i}"] = np.frombuffer(encode_state(ale.cloneState(include_rng=True)), np.uint8)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        for name in ("obs", "episode_ids", "episode_steps", "episode_frames", "noops"):
            getattr(self, name)[...] = state[name]
        self.next_episode_id = int(state["next_episode_id"])
        self.noop_rng = _rng_from_str(str(state["noop_rng"]))
        for i, ale in enumerate(self.ales):
            ale.restoreState(decode_state(state[f"ale_{i}"].tobytes()))


def _rng_to_str(rng: np.random.Generator) -> str:
    import json

    return json.dumps(rng.bit_generator.state)


def _rng_from_str(text: str) -> np.random.Generator:
    import json

    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(text)
    return rng
