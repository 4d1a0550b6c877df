"""Re-create any recorded step's screen by replaying the game from the nearest emulator snapshot.

Nothing visual is stored per step. Step k of an episode is re-created by restoring the episode's last
snapshot at or before k (or by ``reset_game`` + the recorded no-ops for the first steps) and replaying
the recorded actions; with sticky actions off the emulator is deterministic, and every re-created step's
RAM is checked against the RAM stored live, so a wrong frame cannot pass silently.

Two views of a step:

* ``rgb``: the 210x160 colour screen the agent saw. The agent saw the max of the grey screens of the
  step's last two frames (ghosts flicker between frames); each pixel here has the colour of whichever of
  the two frames that max took (the last frame on ties), so ``grey(rgb)`` is exactly the agent's
  pre-resize input. ``pooled=False`` gives the plain last frame instead.
* ``obs``: the uint8 [4, 84, 84] frame stack the network was fed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from rlsae.envs.atari import FRAME_SKIP, SCREEN_HEIGHT, SCREEN_WIDTH
from rlsae.envs.emulator import (
    OBS_SIZE,
    STACK,
    decode_state,
    encode_state,
    new_emulator,
    resize_area,
)


class ReplayMismatch(RuntimeError):
    """A replayed step's RAM differs from the recorded one: the recording cannot be re-rendered."""


@dataclass
class EpisodeIndex:
    """Where each episode's steps, actions and snapshots live in the flat recording."""

    order: np.ndarray          # global step indices sorted by (episode id, episode step)
    first: dict[int, int]      # episode id -> position of its step 0 in ``order``
    noops: dict[int, int]      # episode id -> no-op frames after reset
    snapshots: dict[tuple[int, int], bytes]  # (episode id, episode step) -> compressed ALE state


class Replayer:
    """One emulator that walks recorded episodes forward, capturing the screens that were asked for."""

    def __init__(self, game: str, index: EpisodeIndex, actions: np.ndarray, ram: np.ndarray,
                 snapshot_every: int):
        self.ale, self.action_set = new_emulator(game)
        self.index, self.actions, self.ram, self.every = index, actions, ram, snapshot_every
        self.grey = np.zeros((2, SCREEN_HEIGHT, SCREEN_WIDTH), np.uint8)   # frame 4, frame 3
        self.rgb = np.zeros((2, SCREEN_HEIGHT, SCREEN_WIDTH, 3), np.uint8)

    def _action(self, episode: int, step: int) -> object:
        return self.action_set[int(self.actions[self.index.order[self.index.first[episode] + step]])]

    def _capture(self, slot: int) -> None:
        self.ale.getScreenGrayscale(self.grey[slot])
        self.ale.getScreenRGB(self.rgb[slot])

    def _start(self, episode: int, step: int) -> None:
        """Put the emulator at ``step`` (a snapshot step, or 0) with that step's screens captured."""
        if step == 0:
            self.ale.reset_game()
            for _ in range(self.index.noops[episode]):
                self.ale.act(self.action_set[0])
                if self.ale.game_over():
                    self.ale.reset_game()
            self._capture(0)
            self.grey[1] = 0
            self.rgb[1] = 0
            return
        self.ale.restoreState(decode_state(self.index.snapshots[(episode, step)]))
        action = self._action(episode, step - 1)
        for slot in (1, 0):
            self.ale.act(action)
            self._capture(slot)

    def _advance(self, episode: int, step: int) -> None:
        """From step-1 to step, capturing the last two frames."""
        action = self._action(episode, step - 1)
        for frame in range(FRAME_SKIP):
            self.ale.act(action)
            if frame >= FRAME_SKIP - 2:
                self._capture(FRAME_SKIP - 1 - frame)

    def _check_ram(self, episode: int, step: int) -> None:
        g = int(self.index.order[self.index.first[episode] + step])
        if not np.array_equal(self.ale.getRAM(), self.ram[g]):
            raise ReplayMismatch(f"replaying episode {episode} to step {step} (recording index {g}) gave a "
                                 "different RAM than recorded: the emulator or ROM differs from the one "
                                 "that made the recording")

    def _pooled_rgb(self, pooled: bool) -> np.ndarray:
        if not pooled:
            return self.rgb[0].copy()
        take_prev = self.grey[1] > self.grey[0]
        out = self.rgb[0].copy()
        out[take_prev] = self.rgb[1][take_prev]  # few pixels differ: ~3x faster than np.where over the screen
        return out

    def episode(self, episode: int, steps: np.ndarray, *, obs: bool, pooled: bool = True,
                states: list[bytes] | None = None) -> list[np.ndarray]:
        """Frames for the sorted episode ``steps``: rgb [210, 160, 3] each, or obs [4, 84, 84] each; with
        ``states``, each step's emulator state (at the end of the step) is appended to it."""
        out: list[np.ndarray] = []
        pos = -1
        history: dict[int, np.ndarray] = {}
        for k in steps:
            k = int(k)
            need = max(0, k - (STACK - 1)) if obs else k
            start = (need // self.every) * self.every
            while start > 0 and (episode, start) not in self.index.snapshots:
                start -= self.every
            if not start <= pos <= k:
                self._start(episode, start)
                pos, history = start, {}
                self._keep(history, pos, obs)
            while pos < k:
                pos += 1
                self._advance(episode, pos)
                self._keep(history, pos, obs)
            self._check_ram(episode, k)
            if states is not None:
                states.append(encode_state(self.ale.cloneState()))
            if obs:
                out.append(np.stack([history.get(j, np.zeros((OBS_SIZE, OBS_SIZE), np.uint8))
                                     for j in range(k - STACK + 1, k + 1)]))
            else:
                out.append(self._pooled_rgb(pooled))
        return out

    def _keep(self, history: dict[int, np.ndarray], step: int, obs: bool) -> None:
        if obs:
            history[step] = resize_area(self.grey.max(axis=0))
            history.pop(step - STACK, None)


def replay_frames(replayer: Replayer, episode_ids: np.ndarray, episode_steps: np.ndarray, *, obs: bool,
                  pooled: bool = True, states: list[bytes] | None = None) -> np.ndarray:
    """Frames for many steps, grouped by episode so each stretch of game is replayed once; with ``states``
    (an empty list), also each step's emulator state, in the order of the steps asked for."""
    n = len(episode_ids)
    shape = (STACK, OBS_SIZE, OBS_SIZE) if obs else (SCREEN_HEIGHT, SCREEN_WIDTH, 3)
    out = np.empty((n, *shape), np.uint8)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, e in enumerate(episode_ids):
        groups[int(e)].append(i)
    taken: dict[int, bytes] = {}
    for e, members in groups.items():
        members_arr = np.asarray(members)
        order = np.argsort(episode_steps[members_arr], kind="stable")
        blobs: list[bytes] | None = None if states is None else []
        frames = replayer.episode(e, episode_steps[members_arr][order], obs=obs, pooled=pooled, states=blobs)
        for i, (j, frame) in enumerate(zip(members_arr[order], frames)):
            out[j] = frame
            if blobs is not None:
                taken[int(j)] = blobs[i]
    if states is not None:
        states.extend(taken[j] for j in range(n))
    return out
