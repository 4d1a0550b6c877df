"""The one play loop: a policy plays a fixed number of games on a batch of environments.

Evaluation (``agents.evaluate``), steering (``analysis.steer``) and anything else that plays games use
``rollout``; what differs is the environment (``Games``: ALE's vector env, or emulators that start from
recorded states and show their RAM) and what a caller watches on the way (``on_step``).

Each env plays a fixed quota of games decided up front: keeping "the first N games to finish" would
favour short (bad) games and bias the mean downwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rlsae.common.errors import UserError
from rlsae.common.progress import ProgressBar
from rlsae.envs.atari import make_vector_env, rng_actions
from rlsae.envs.batch import EnvBatch

Policy = Callable[[np.ndarray], np.ndarray]
"""Observations [n, ...] -> the greedy action of each env."""
StepWatcher = Callable[[np.ndarray, np.ndarray, np.ndarray], None]
"""Called before each step with (greedy actions, which envs still count, games each env has finished)."""


class Games(Protocol):
    """A batch of environments as the loop needs it. ``step`` applies one action per env; a finished game
    starts anew in the same step. ``game_over(i, played, cut)`` tells env ``i`` it has ended its
    ``played``-th game (``cut``: stopped at the step limit, not by the game), so it can set up the next."""

    name: str
    n_actions: int

    @property
    def obs(self) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def game_steps(self) -> np.ndarray: ...

    def game_over(self, i: int, played: int, cut: bool) -> None: ...


@dataclass
class Played:
    """Scores of the counted games in the order they ended, and how many were cut at the step limit."""

    scores: list[float]
    truncated: int


def quotas(games: int, num_envs: int) -> np.ndarray:
    """Games per env: ``games`` spread over at most ``num_envs`` envs, the first ones taking the remainder."""
    n = min(num_envs, games)
    quota = np.full(n, games // n)
    quota[: games % n] += 1
    return quota


def rollout(games: Games, act: Policy, quota: np.ndarray, *, rng: np.random.Generator, epsilon: float,
            max_steps: int | None = None, on_step: StepWatcher | None = None, progress: bool = True,
            label: str = "playing") -> Played:
    """Play ``quota[i]`` games on env ``i`` with ``act``, epsilon-greedy with ``rng``; a game longer than
    ``max_steps`` steps is cut there (and counted with its score so far). ``label`` names the progress bar."""
    n = len(quota)
    scores: list[float] = []
    running, finished = np.zeros(n), np.zeros(n, int)
    truncated = 0
    bar = ProgressBar(total=int(quota.sum()), desc=label, unit="game", disable=not progress, leave=False)
    while (finished < quota).any():
        greedy = act(games.obs)
        # an action the game lacks would hang ALE's vector env for good (no signal stops it)
        if greedy.min() < 0 or greedy.max() >= games.n_actions:
            raise UserError(f"the policy chose action {greedy.max()}, but '{games.name}' has {games.n_actions} "
                            "actions")
        if on_step is not None:
            on_step(greedy, finished < quota, finished)
        rewards, dones = games.step(rng_actions(rng, greedy, epsilon, games.n_actions))
        running += rewards
        cut = ~dones & (games.game_steps() >= max_steps) if max_steps is not None else np.zeros(n, bool)
        ended = np.flatnonzero(dones | cut)
        counted = ended[finished[ended] < quota[ended]]
        scores.extend(running[counted].tolist())
        truncated += int(cut[counted].sum())
        bar.update(len(counted))
        finished[ended] += 1
        running[ended] = 0.0
        for i in ended.tolist():
            games.game_over(i, int(finished[i]), bool(cut[i]))
    bar.close()
    return Played(scores, truncated)


class VectorGames:
    """ALE's vector env (``make_vector_env(training=False)``: full games, unclipped scores) as ``Games``."""

    def __init__(self, game: str, num_envs: int, seed: int):
        self.name = game
        self.env = make_vector_env(game, num_envs, training=False)
        self.n_actions = int(self.env.single_action_space.n)
        self._obs, _ = self.env.reset(seed=seed)
        self._steps = np.zeros(num_envs, np.int64)

    @property
    def obs(self) -> np.ndarray:
        return self._obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._obs, rewards, terminated, truncated, _ = self.env.step(actions)
        dones = terminated | truncated
        self._steps = np.where(dones, 0, self._steps + 1)
        return rewards, dones

    def game_steps(self) -> np.ndarray:
        return self._steps

    def game_over(self, i: int, played: int, cut: bool) -> None:
        """A finished game's env has started the next one itself; a cut game cannot be reset here (ALE's vector
        env resets only finished games), so what is left of it plays on as the next game."""
        self._steps[i] = 0

    def close(self) -> None:
        self.env.close()


@dataclass
class Starts:
    """Recorded states to play on from (``Recording.restart_points``), one game each."""

    indices: np.ndarray        # [n] recording indices
    obs: np.ndarray            # [n, 4, 84, 84]
    states: list[bytes]        # emulator states at the end of those steps
    episode_steps: np.ndarray  # [n] how far into its game each state is


class BatchGames:
    """Emulators (``EnvBatch``) as ``Games``: their RAM shows (``envs.ram()``), and with ``starts`` env ``i``
    plays its ``quota[i]`` games from recorded states, dealt out in order. ``frames`` keeps the screens of
    env 0's first game, up to ``film`` of them; ``background`` is env 0's first screen."""

    def __init__(self, game: str, quota: np.ndarray, seed: int, starts: Starts | None = None, film: int = 0):
        self.name, self.quota, self.starts, self.film = game, quota, starts, film
        self.envs = EnvBatch(game, len(quota), seed, snapshot_every=1 << 40)
        self.envs.reset_all()
        self.n_actions = self.envs.n_actions
        self.background = self.envs.screen_rgb(0)
        self.frames: list[np.ndarray] = []
        self._filming = True
        self._begin = np.zeros(len(quota), np.int64)  # the episode step each env's current game started at
        self._first_start = np.r_[0, np.cumsum(quota)[:-1]]  # env i plays starts first .. first + quota[i]
        if starts is not None:
            for i in range(len(quota)):
                self._start(i, int(self._first_start[i]))

    def _start(self, i: int, j: int) -> None:
        assert self.starts is not None
        self.envs.start_from(i, self.starts.states[j], self.starts.obs[j], int(self.starts.episode_steps[j]))
        self._begin[i] = self.starts.episode_steps[j]

    @property
    def obs(self) -> np.ndarray:
        return self.envs.obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rewards, dones, _ = self.envs.step(actions)
        if self._filming and len(self.frames) < self.film and not dones[0]:
            self.frames.append(self.envs.screen_rgb(0))
        self._begin[dones] = 0
        return rewards, dones

    def game_steps(self) -> np.ndarray:
        return self.envs.episode_steps - self._begin

    def game_over(self, i: int, played: int, cut: bool) -> None:
        self._filming &= i != 0
        if self.starts is not None and played < self.quota[i]:
            self._start(i, int(self._first_start[i] + played))
        elif cut:
            self.envs.reset_env(i)
            self._begin[i] = 0
