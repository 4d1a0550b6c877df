"""`rlsae train-agent`'s config and what every algorithm shares (logging, evaluation, checkpoints): the run.

Output folder layout::

    out/
      latest/   checkpoint written every --save-every steps and on exit/interrupt (resume reads it)
      best/     checkpoint with the best periodic evaluation score so far
      series/   the network as it was at each of --keep-steps (series/0, series/50k, ..., series/final):
                how its features form as it learns
      log.jsonl one line per evaluation and per logging interval
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlsae.agents.checkpoint import load_agent, load_train_state, read_manifest, save_checkpoint
from rlsae.agents.evaluate import SCORED, agent_policy, play_games, summarize
from rlsae.agents.qnet import Network
from rlsae.common.progress import ProgressBar
from rlsae.common.runtime import provenance, resolve_device
from rlsae.config import check_options, option, require, to_dict
from rlsae.envs.atari import DEFAULT_GAME, check_game

# Where the checkpoint series is kept: log-spaced, so early learning (fast) and late (slow) both show.
SERIES_STEPS = (0, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000)


def series_label(step: int) -> str:
    """0, 50k, 1M, 2.5M: the name a kept checkpoint goes by (``--checkpoint runs/agent/series/1M``)."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if step >= size and step % (size // 10) == 0:
            return f"{step / size:g}{unit}"
    return str(step)


# Per-algorithm defaults for options left unset. PQN follows Gallici et al. 2024 / CleanRL's
# pqn_atari_envpool; DQN follows CleanRL's dqn_atari (Mnih et al. 2015 with Adam); PPO CleanRL's ppo_atari.
ALGORITHM_DEFAULTS: dict[str, dict[str, Any]] = {
    "pqn": {"num_envs": 32, "learning_rate": 2.5e-4, "exploration_fraction": 0.10, "layer_norm": True,
            "rollout_steps": 32, "update_epochs": 2, "max_grad_norm": 10.0},
    "dqn": {"num_envs": 1, "learning_rate": 1e-4, "exploration_fraction": 0.10, "layer_norm": False},
    "ppo": {"num_envs": 8, "learning_rate": 2.5e-4, "layer_norm": False, "rollout_steps": 128, "update_epochs": 4,
            "max_grad_norm": 0.5},
}


@dataclass
class TrainAgentConfig:
    algorithm: str = option("pqn", "pqn (vectorised Q(lambda), no replay; fast), dqn (replay + target net) or ppo "
                            "(an actor-critic)", choices=["pqn", "dqn", "ppo"])
    game: str = option(DEFAULT_GAME, f"ALE game, in any of ALE's spellings ({DEFAULT_GAME}, breakout, ALE/Pong-v5)")
    total_steps: int = option(10_000_000, "agent steps (each = 4 frames) summed over all envs", low=1)
    out: Path = option(Path("runs/agent"), "output folder for checkpoints and logs")
    seed: int = option(1, "random seed")
    device: str = option("auto", "torch device: auto, cpu or cuda[:N]")
    precision: str = option("auto", "bf16 autocast (targets, loss and optimizer in fp32), fp32, or auto: bf16 "
                            "where the hardware has it natively",
                            choices=["auto", "bf16", "fp32"])
    num_envs: int | None = option(None, "parallel envs (default: 32 pqn, 8 ppo, 1 dqn)", low=1)
    learning_rate: float | None = option(None, "Adam learning rate (default: 2.5e-4 pqn and ppo, 1e-4 dqn)",
                                          gt=0)
    gamma: float = option(0.99, "discount", gt=0, high=1)
    layer_norm: bool | None = option(None, "LayerNorm in the network (default: on for pqn, off for dqn and ppo)")
    start_epsilon: float = option(1.0, "[pqn, dqn] initial exploration rate", low=0, high=1)
    end_epsilon: float = option(0.01, "[pqn, dqn] final exploration rate", low=0, high=1)
    exploration_fraction: float | None = option(None, "[pqn, dqn] fraction of training over which epsilon decays "
                                                 "(default: 0.1)", low=0, high=1)
    # PQN and PPO
    rollout_steps: int | None = option(None, "[pqn, ppo] steps per env between updates (default: 32 pqn, 128 ppo)",
                                        low=1)
    update_epochs: int | None = option(None, "[pqn, ppo] passes over each rollout (default: 2 pqn, 4 ppo)", low=1)
    max_grad_norm: float | None = option(None, "[pqn, ppo] gradient clipping norm (default: 10 pqn, 0.5 ppo)")
    # PQN
    q_lambda: float = option(0.65, "[pqn] lambda of the Q(lambda) targets", low=0, high=1)
    minibatch_size: int = option(128, "[pqn] samples per gradient step", low=1)
    # PPO
    gae_lambda: float = option(0.95, "[ppo] lambda of the generalised advantage estimate", low=0, high=1)
    num_minibatches: int = option(4, "[ppo] minibatches per pass over a rollout", low=1)
    clip_coef: float = option(0.1, "[ppo] clipping range of the policy ratio and of the value change", gt=0)
    ent_coef: float = option(0.01, "[ppo] weight of the entropy bonus", low=0)
    vf_coef: float = option(0.5, "[ppo] weight of the value loss", low=0)
    # DQN
    buffer_size: int = option(100_000, "[dqn] replay buffer capacity (transitions; 28 KB each)", low=1)
    batch_size: int = option(32, "[dqn] replay batch size", low=1)
    learning_starts: int = option(80_000, "[dqn] steps of random play before learning")
    train_frequency: int = option(4, "[dqn] env steps per gradient step", low=1)
    target_update: int = option(1000, "[dqn] steps between target-network copies", low=1)
    # Shared bookkeeping
    log_every: int = option(10_000, "steps between training-metric lines in log.jsonl", low=1)
    eval_every: int = option(250_000, "steps between evaluations (full games, unclipped score)", low=1)
    eval_episodes: int = option(8, "games per periodic evaluation", low=1)
    save_every: int = option(100_000, "steps between 'latest' checkpoints", low=1)
    keep_steps: tuple[int, ...] = option(SERIES_STEPS, "steps at which to keep a copy of the network in OUT/series",
                                         low=0)
    resume: bool = option(True, "continue from OUT/latest if it exists")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        check_options(self)
        self.game = check_game(self.game)
        for key, value in ALGORITHM_DEFAULTS[self.algorithm].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        rollout = self.num_envs * (self.rollout_steps or 1)
        require(self.algorithm != "pqn" or rollout % self.minibatch_size == 0,
                f"--minibatch-size ({self.minibatch_size}) must divide num_envs*rollout_steps ({rollout})")
        require(self.algorithm != "ppo" or rollout % self.num_minibatches == 0,
                f"--num-minibatches ({self.num_minibatches}) must divide num_envs*rollout_steps ({rollout})")
        self.keep_steps = tuple(self.keep_steps)
        self.device = resolve_device(self.device)

    def epsilon(self, step: int) -> float:
        span = max(1.0, self.exploration_fraction * self.total_steps)
        return max(self.end_epsilon, self.start_epsilon + (self.end_epsilon - self.start_epsilon) * step / span)


# What a resumed run must share with the run it continues (the step count, cadences and device may change).
RESUME_IDENTITY = ("algorithm", "game", "layer_norm", "learning_rate")


class TrainingRun:
    """Progress bar, JSONL log, periodic evaluation and checkpoints for one training run."""

    def __init__(self, cfg: TrainAgentConfig, model: Network, optimizer: torch.optim.Optimizer):
        self.cfg, self.model, self.optimizer = cfg, model, optimizer
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.step = 0
        self.best_score = -np.inf
        self.wall = 0.0
        state = load_train_state(self.out / "latest") if cfg.resume else None
        if state is not None:
            saved, now = read_manifest(self.out / "latest").get("config", {}), to_dict(cfg)
            changed = [f"--{k.replace('_', '-')} {saved[k]} -> {now[k]}" for k in RESUME_IDENTITY
                       if k in saved and saved[k] != now[k]]
            require(not changed, f"'{self.out}' holds a run with other settings ({', '.join(changed)}): resume with "
                    "the same settings, or use another --out")
            resumed, _ = load_agent(self.out / "latest", cfg.device)
            model.load_state_dict(resumed.state_dict())
            # The saved groups carry how the saving process stepped (foreach); this process decides that.
            stepping = [group.get("foreach") for group in optimizer.param_groups]
            optimizer.load_state_dict(state["optimizer"])
            for group, foreach in zip(optimizer.param_groups, stepping):
                group["foreach"] = foreach
            self.step, self.best_score, self.wall = state["step"], state["best_score"], state["wall"]
        self.next_eval = (self.step // cfg.eval_every + 1) * cfg.eval_every
        self.next_save = (self.step // cfg.save_every + 1) * cfg.save_every
        self.next_log = (self.step // cfg.log_every + 1) * cfg.log_every
        self.last_score: float | None = None
        self.started = time.time()
        if self.step == 0 and 0 in cfg.keep_steps:
            self.save(f"series/{series_label(0)}")
        self.bar = ProgressBar(total=cfg.total_steps, initial=self.step, unit="step", desc=f"train {cfg.algorithm}",
                               disable=not cfg.progress, smoothing=0.05)

    @property
    def done(self) -> bool:
        return self.step >= self.cfg.total_steps

    def anneal_learning_rate(self) -> None:
        """The learning rate falls linearly from --learning-rate to 0 at --total-steps."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.learning_rate * (1.0 - self.step / self.cfg.total_steps)

    def elapsed(self) -> float:
        return self.wall + time.time() - self.started

    def advance(self, steps: int, **metrics: float) -> None:
        """Count ``steps`` new env steps; evaluate and checkpoint when their time has come."""
        before, self.step = self.step, self.step + steps
        for kept in sorted(s for s in self.cfg.keep_steps if before < s <= self.step):
            self.save(f"series/{series_label(kept)}")
        self.bar.update(steps)
        postfix = {k: f"{v:.3g}" for k, v in metrics.items()}
        if self.last_score is not None:
            postfix["eval"] = f"{self.last_score:.0f}"
        self.bar.set_postfix(postfix, refresh=False)
        evaluate_now = self.step >= self.next_eval or self.done
        if self.step >= self.next_log:
            if not evaluate_now:  # an evaluation line carries the metrics too: one line per step
                self.log({"step": self.step, "wall": round(self.elapsed(), 1), **metrics})
            self.next_log = (self.step // self.cfg.log_every + 1) * self.cfg.log_every
        if evaluate_now:
            self.evaluate(metrics)
            self.next_eval = (self.step // self.cfg.eval_every + 1) * self.cfg.eval_every
        if self.step >= self.next_save or self.done:
            self.save("latest")
            self.next_save += self.cfg.save_every
        if self.done:
            self.save("series/final")

    def evaluate(self, metrics: dict[str, float]) -> None:
        self.model.eval()
        act, epsilon = SCORED[self.model.output]
        scores = play_games(agent_policy(self.model, self.cfg.device, act, self.cfg.seed + self.step),
                            self.cfg.eval_episodes, game=self.cfg.game, epsilon=epsilon, seed=self.cfg.seed + self.step,
                            progress=False)
        self.model.train()
        summary = summarize(scores)
        self.last_score = summary["mean_score"]
        self.log({"step": self.step, "wall": round(self.elapsed(), 1), **metrics,
                  **{k: v for k, v in summary.items() if k != "scores"}})
        if self.last_score > self.best_score:
            self.best_score = self.last_score
            self.save("best", eval_summary=summary)

    def log(self, record: dict[str, Any]) -> None:
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def save(self, name: str, eval_summary: dict[str, Any] | None = None) -> None:
        manifest = {
            "algorithm": self.cfg.algorithm, "game": self.cfg.game, "step": self.step,
            "seed": self.cfg.seed, "wall_time_s": round(self.elapsed(), 1), "device": self.cfg.device,
            "command": "rlsae train-agent", "config": to_dict(self.cfg), **provenance(),
        }
        if eval_summary is not None:
            manifest["training_eval"] = {k: v for k, v in eval_summary.items() if k != "scores"}
        state = {"optimizer": self.optimizer.state_dict(), "step": self.step, "best_score": self.best_score,
                 "wall": self.elapsed()}
        save_checkpoint(self.out / name, self.model, manifest, state if name == "latest" else None)

    def close(self) -> None:
        self.save("latest")
        self.bar.close()

