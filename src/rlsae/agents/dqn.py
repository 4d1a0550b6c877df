"""Classic DQN (Mnih et al. 2015) with CleanRL dqn_atari's choices: Adam, Huber loss, a hard target copy.

The replay buffer keeps whole uint8 frame stacks (28 KB a transition), so its default capacity is
RL Zoo's 100k transitions (2.8 GB) rather than CleanRL's 1M, which needs 28 GB of RAM.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rlsae.agents.qnet import QNetwork
from rlsae.agents.run import TrainAgentConfig, TrainingRun
from rlsae.envs.atari import make_vector_env, rng_actions


class ReplayBuffer:
    """Ring buffer of (obs, action, reward, next_obs, done) on the CPU."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...]):
        self.obs = np.zeros((capacity, *obs_shape), dtype=np.uint8)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=np.uint8)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.capacity, self.size, self.pos = capacity, 0, 0

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            dones: np.ndarray) -> None:
        for i in range(len(actions)):
            p = self.pos
            self.obs[p], self.next_obs[p] = obs[i], next_obs[i]
            self.actions[p], self.rewards[p], self.dones[p] = actions[i], rewards[i], dones[i]
            self.pos = (p + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, batch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.size, batch)
        return tuple(torch.from_numpy(a[idx]).to(device)
                     for a in (self.obs, self.actions, self.rewards, self.next_obs, self.dones))


def train_dqn(cfg: TrainAgentConfig) -> None:
    env = make_vector_env(cfg.game, cfg.num_envs, training=True)
    n = int(env.single_action_space.n)
    device = torch.device(cfg.device)
    model = QNetwork(n, layer_norm=cfg.layer_norm).to(device)
    target = QNetwork(n, layer_norm=cfg.layer_norm).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, foreach=True)  # as pqn.make_optimizer
    run = TrainingRun(cfg, model, optimizer)
    target.load_state_dict(model.state_dict())
    rng = np.random.default_rng(cfg.seed + run.step)
    # The buffer is not checkpointed (gigabytes); a resumed run refills it before learning again.
    buffer = ReplayBuffer(cfg.buffer_size, env.single_observation_space.shape)
    learn_from = run.step + cfg.learning_starts
    steps_since_update = steps_since_target = 0
    try:
        obs, _ = env.reset(seed=cfg.seed + run.step)
        while not run.done:
            epsilon = cfg.epsilon(run.step)
            with torch.no_grad():
                greedy = model(torch.from_numpy(obs).to(device)).argmax(1).cpu().numpy()
            action = rng_actions(rng, greedy, epsilon, n) if run.step >= learn_from else \
                rng.integers(0, n, cfg.num_envs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.add(obs, action, reward, next_obs, (terminated | truncated).astype(np.float32))
            obs = next_obs
            metrics = {"epsilon": epsilon}
            steps_since_update += cfg.num_envs
            steps_since_target += cfg.num_envs
            if run.step >= learn_from and steps_since_update >= cfg.train_frequency:
                steps_since_update = 0
                b_obs, b_act, b_rew, b_next, b_done = buffer.sample(rng, cfg.batch_size, device)
                with torch.no_grad():
                    bootstrap = target(b_next).max(1).values
                    td_target = b_rew + cfg.gamma * (1.0 - b_done) * bootstrap
                q_taken = model(b_obs).gather(1, b_act[:, None]).squeeze(1)
                loss = F.smooth_l1_loss(q_taken, td_target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                metrics["loss"] = loss.item()
                if steps_since_target >= cfg.target_update:
                    steps_since_target = 0
                    target.load_state_dict(model.state_dict())
            run.advance(cfg.num_envs, **metrics)
    finally:
        run.close()
        env.close()
