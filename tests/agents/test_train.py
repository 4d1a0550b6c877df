"""Small real training runs: a few thousand env steps of each algorithm."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlsae.agents.checkpoint import load_agent
from rlsae.agents.pqn import q_lambda_targets
from rlsae.agents.qnet import QNetwork
from rlsae.agents.train import TrainAgentConfig, TrainingRun, train_agent
from rlsae.common.errors import UserError
from rlsae.envs.atari import make_vector_env


def test_q_lambda_targets_match_one_step_and_monte_carlo_limits() -> None:
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    next_max_q = torch.tensor([[5.0], [7.0], [3.0]])
    one_step = q_lambda_targets(rewards, dones, next_max_q, gamma=0.5, lam=0.0)
    torch.testing.assert_close(one_step, torch.tensor([[1 + 0.5 * 5], [0.0], [2 + 0.5 * 3]]))
    monte_carlo = q_lambda_targets(rewards, dones, next_max_q, gamma=0.5, lam=1.0)
    # Step 0 bootstraps through step 1's full return, which ends the life (done) and so stops there.
    torch.testing.assert_close(monte_carlo, torch.tensor([[1 + 0.5 * 0.0], [0.0], [2 + 0.5 * 3]]))


def _random_play_transitions(steps: int = 150, envs: int = 4) -> tuple[torch.Tensor, ...]:
    env = make_vector_env("ms_pacman", envs, training=True)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=123)
    batch = []
    for _ in range(steps):
        action = rng.integers(0, 9, envs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        batch.append((obs, action, reward, next_obs, terminated | truncated))
        obs = next_obs
    env.close()
    return tuple(torch.from_numpy(np.concatenate([b[i] for b in batch])) for i in range(5))


def _td_loss(model: torch.nn.Module, transitions: tuple[torch.Tensor, ...], gamma: float = 0.99) -> float:
    """Mean squared one-step TD error of ``model`` against its own bootstrap, on fixed transitions."""
    obs, action, reward, next_obs, done = transitions
    with torch.no_grad():
        q_taken = model(obs).gather(1, action[:, None]).squeeze(1)
        target = reward.float() + gamma * (~done).float() * model(next_obs).max(1).values
    return float(((q_taken - target) ** 2).mean())


SMALL = dict(eval_every=10**9, eval_episodes=1, save_every=10**9, progress=False)
# Random play throughout, so training sees the same state distribution as the fixed test transitions.
RANDOM_PLAY = dict(start_epsilon=1.0, end_epsilon=1.0)


@pytest.mark.parametrize("algorithm,extra", [
    ("pqn", dict(total_steps=6144, num_envs=8, rollout_steps=16, minibatch_size=64, log_every=128)),
    ("dqn", dict(total_steps=3000, num_envs=4, learning_starts=500, buffer_size=3000, log_every=100,
                 train_frequency=1, target_update=250,
                 # Starts from non-trivial Q-values, so the fall is learning, not the reward-noise floor.
                 layer_norm=True)),
])
def test_training_lowers_td_loss_and_writes_a_loadable_checkpoint(tmp_path: Path, algorithm: str,
                                                                  extra: dict) -> None:
    torch.set_num_threads(1)
    out = tmp_path / algorithm
    train_agent(TrainAgentConfig(algorithm=algorithm, out=out, **SMALL, **RANDOM_PLAY, **extra))
    model, manifest = load_agent(out / "latest")
    torch.manual_seed(TrainAgentConfig.seed)  # train_agent seeds the same way before building its network
    untrained = QNetwork(9, layer_norm=model.layer_norm)
    transitions = _random_play_transitions()
    before, after = _td_loss(untrained, transitions), _td_loss(model, transitions)
    assert after < 0.6 * before, f"TD loss did not fall: before {before:.4f}, after {after:.4f}"
    assert manifest["step"] >= extra["total_steps"] and manifest["algorithm"] == algorithm


def test_resume_continues_from_the_latest_checkpoint(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = dict(algorithm="pqn", out=tmp_path, num_envs=4, rollout_steps=8, minibatch_size=32,
               log_every=32, **SMALL)
    train_agent(TrainAgentConfig(total_steps=256, **cfg))
    first_weights = load_agent(tmp_path / "latest")[0].state_dict()
    # The optimizer's state comes back; how it steps (foreach, saved as True) stays this process's choice.
    model = QNetwork(9, layer_norm=True)
    optimizer = torch.optim.RAdam(model.parameters(), lr=2.5e-4, foreach=False)
    run = TrainingRun(TrainAgentConfig(total_steps=512, **cfg), model, optimizer)
    assert run.step == 256 and optimizer.param_groups[0]["foreach"] is False and len(optimizer.state) > 0
    train_agent(TrainAgentConfig(total_steps=512, **cfg))
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 512 and len(steps) == len(set(steps))
    resumed = load_agent(tmp_path / "latest")[0].state_dict()
    assert any(not torch.equal(first_weights[k], resumed[k]) for k in resumed)


def test_bad_config_values_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="minibatch"):
        TrainAgentConfig(out=tmp_path, num_envs=3, rollout_steps=5, minibatch_size=4)
    assert TrainAgentConfig(out=tmp_path, game="MsPacman").game == "ms_pacman"  # ALE's other spellings
    with pytest.raises(UserError, match="unknown ALE game 'MsPacmn'.*Did you mean 'ms_pacman'"):
        TrainAgentConfig(out=tmp_path, game="MsPacmn")


@pytest.mark.parametrize("algorithm", [["--minibatch-size", "32"], ["--algorithm", "ppo"]])
def test_kill_saves_a_resumable_checkpoint(tmp_path: Path, algorithm: list[str]) -> None:
    import os
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "rlsae.cli", "train-agent", "--out", str(tmp_path), *algorithm,
                             "--num-envs", "4", "--rollout-steps", "8", "--log-every", "32",
                             "--total-steps", "1000000", "--no-progress", "--keep-steps"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    log = tmp_path / "log.jsonl"
    # Kill once training has logged a step (however loaded the machine is); no checkpoint is due yet.
    while not (log.exists() and log.read_text().strip()) and proc.poll() is None:
        time.sleep(0.2)
    proc.terminate()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    _, manifest = load_agent(tmp_path / "latest")
    assert manifest["step"] >= 32
