"""Full-game evaluation: no episodic life, unclipped score, vectorised over environments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rlsae.agents.protocol import AGENT_HELP
from rlsae.agents.rollout import VectorGames, quotas, rollout
from rlsae.common.runtime import PLAY_DEVICE_HELP, one_thread, resolve_device
from rlsae.config import check_options, option, require
from rlsae.envs.atari import DEFAULT_GAME

ACTS = ("greedy", "sample")
# How each output kind is scored as its authors score it: a Q-network greedy with epsilon 0.05 (the Nature-DQN
# protocol), a policy by sampling its softmax with no random actions (CleanRL's and SB3's PPO returns).
SCORED = {"q-values": ("greedy", 0.05), "policy": ("sample", 0.0)}
ACT_HELP = "greedy (the best output) or sample (from softmax of a policy's logits; actor-critic agents only)"


@dataclass
class EvaluateAgentConfig:
    checkpoint: Path | None = option(None, "agent checkpoint folder (default: the shipped agent); or --agent")
    agent: str | None = option(None, AGENT_HELP)
    game: str | None = option(None, "ALE game, any spelling (default: the agent's own; "
                              f"{DEFAULT_GAME} for a factory that names none)")
    episodes: int = option(30, "number of full games to play", low=1)
    num_envs: int = option(16, "games played in parallel", low=1)
    epsilon: float = option(0.05, "probability of a random action (0.05 is the Nature-DQN protocol; 0 with --act "
                            "sample, as actor-critic agents are scored)", low=0, high=1)
    act: str = option("greedy", ACT_HELP, choices=list(ACTS))
    seed: int = option(1, "seed for the no-op starts and the random actions", low=0)
    device: str = option("cpu", PLAY_DEVICE_HELP)
    json: Path | None = option(None, "write the scores to this JSON file")

    def __post_init__(self) -> None:
        check_options(self)
        self.device = resolve_device(self.device)
        require(self.checkpoint is None or self.agent is None, "give --checkpoint or --agent, not both")


def choose(outputs: torch.Tensor, act: str, rng: np.random.Generator) -> np.ndarray:
    """Actions from the network's outputs [B, A]: their argmax (``greedy``), or for a policy's logits a draw
    from softmax(logits) (``sample``, by the Gumbel-max trick, so ``rng`` alone decides it)."""
    return (outputs.detach().float().cpu().numpy() + sampling_noise(tuple(outputs.shape), act, rng)).argmax(1)


def sampling_noise(shape: tuple[int, ...], act: str, rng: np.random.Generator) -> np.ndarray | float:
    """What ``choose`` adds to the outputs: Gumbel noise to sample, none to be greedy. Two networks given the
    same noise sample with common random numbers (the same draw wherever their policies agree)."""
    return rng.gumbel(size=shape) if act == "sample" else 0.0


def check_act(act: str, output: str) -> None:
    """Sampling needs a policy: a Q-network's outputs are values, not logits."""
    require(act == "greedy" or output == "policy",
            f"--act {act} samples from a policy's logits, and this agent outputs {output}: use --act greedy")


def agent_policy(model: nn.Module, device: str, act: str = "greedy", seed: int = 1
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """The actions ``model`` picks for a batch of observations, greedy or sampled (``choose``)."""
    rng = np.random.default_rng([seed, 1])  # its own stream: the games' epsilon draws use default_rng(seed)

    @torch.no_grad()
    def policy(obs: np.ndarray) -> np.ndarray:
        return choose(model(torch.from_numpy(obs).to(device)), act, rng)
    return policy


def play_games(act: Callable[[np.ndarray], np.ndarray], episodes: int, *, game: str = DEFAULT_GAME,
               num_envs: int = 16, epsilon: float = 0.05, seed: int = 1, progress: bool = True,
               label: str = "evaluating") -> list[float]:
    """Play ``episodes`` full games with policy ``act`` and return their unclipped scores (``label`` names the bar);
    each env plays a fixed quota of them (``rollout``)."""
    with one_thread():
        quota = quotas(episodes, num_envs)
        games = VectorGames(game, len(quota), seed)
        try:
            return rollout(games, act, quota, rng=np.random.default_rng(seed), epsilon=epsilon, progress=progress,
                           label=label).scores
        finally:
            games.close()


def summarize(scores: list[float]) -> dict[str, float | int | list[float]]:
    s = np.asarray(scores)
    return {"episodes": len(s), "mean_score": float(s.mean()), "median_score": float(np.median(s)),
            "std_score": float(s.std()), "min_score": float(s.min()), "max_score": float(s.max()),
            "scores": [float(x) for x in s]}
