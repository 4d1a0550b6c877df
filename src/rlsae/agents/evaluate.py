"""Full-game evaluation: no episodic life, unclipped score, vectorised over environments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rlsae.agents.protocol import AGENT_HELP
from rlsae.common.progress import ProgressBar
from rlsae.common.runtime import PLAY_DEVICE_HELP, one_thread, resolve_device
from rlsae.config import UserError, check_options, option, require
from rlsae.envs.atari import DEFAULT_GAME, make_vector_env, rng_actions


@dataclass
class EvaluateAgentConfig:
    checkpoint: Path | None = option(None, "agent checkpoint folder (default: the shipped agent); or --agent")
    agent: str | None = option(None, AGENT_HELP)
    game: str | None = option(None, "ALE game, any spelling (default: the agent's own; "
                              f"{DEFAULT_GAME} for a factory that names none)")
    episodes: int = option(30, "number of full games to play", low=1)
    num_envs: int = option(16, "games played in parallel", low=1)
    epsilon: float = option(0.05, "probability of a random action (0.05 is the Nature-DQN protocol)", low=0, high=1)
    seed: int = option(1, "seed for the no-op starts and the random actions", low=0)
    device: str = option("cpu", PLAY_DEVICE_HELP)
    json: Path | None = option(None, "write the scores to this JSON file")

    def __post_init__(self) -> None:
        check_options(self)
        self.device = resolve_device(self.device)
        require(self.checkpoint is None or self.agent is None, "give --checkpoint or --agent, not both")


def greedy_policy(model: nn.Module, device: str) -> Callable[[np.ndarray], np.ndarray]:
    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(obs).to(device)).argmax(1).cpu().numpy()
    return act


def play_games(act: Callable[[np.ndarray], np.ndarray], episodes: int, *, game: str = DEFAULT_GAME,
               num_envs: int = 16, epsilon: float = 0.05, seed: int = 1, progress: bool = True,
               label: str = "evaluating") -> list[float]:
    """Play ``episodes`` full games with policy ``act`` and return their unclipped scores (``label`` names the bar).

    Each env plays a fixed quota of games decided up front: keeping "the first N games to finish"
    would favour short (bad) games and bias the mean downwards.
    """
    with one_thread():
        return _play(act, episodes, game, num_envs, epsilon, seed, progress, label)


def _play(act: Callable[[np.ndarray], np.ndarray], episodes: int, game: str, num_envs: int, epsilon: float,
          seed: int, progress: bool, label: str) -> list[float]:
    num_envs = min(num_envs, episodes)
    quota = np.full(num_envs, episodes // num_envs)
    quota[: episodes % num_envs] += 1
    env = make_vector_env(game, num_envs, training=False)
    rng = np.random.default_rng(seed)
    scores: list[float] = []
    running = np.zeros(num_envs)
    done_count = np.zeros(num_envs, dtype=int)
    n_actions = int(env.single_action_space.n)
    try:
        obs, _ = env.reset(seed=seed)
        bar = ProgressBar(total=episodes, desc=label, unit="game", disable=not progress, leave=False)
        while (done_count < quota).any():
            greedy = act(obs)
            # an action the game lacks would hang ALE's vector env for good (no signal stops it)
            if greedy.min() < 0 or greedy.max() >= n_actions:
                raise UserError(f"the policy chose action {greedy.max()}, but '{game}' has {n_actions} actions")
            action = rng_actions(rng, greedy, epsilon, n_actions)
            obs, reward, terminated, truncated, _ = env.step(action)
            running += reward
            for i in np.flatnonzero(terminated | truncated):
                if done_count[i] < quota[i]:
                    scores.append(float(running[i]))
                    bar.update(1)
                done_count[i] += 1
                running[i] = 0.0
        bar.close()
    finally:
        env.close()
    return scores


def summarize(scores: list[float]) -> dict[str, float | int | list[float]]:
    s = np.asarray(scores)
    return {"episodes": len(s), "mean_score": float(s.mean()), "median_score": float(np.median(s)),
            "std_score": float(s.std()), "min_score": float(s.min()), "max_score": float(s.max()),
            "scores": [float(x) for x in s]}
