"""PPO (Schulman et al. 2017) with CleanRL ppo_atari's settings, on the same vector env as PQN.

Each iteration the envs play ``rollout_steps`` steps sampling the policy; generalised advantage estimates
(GAE, Schulman et al. 2016) of that batch feed ``update_epochs`` passes of ``num_minibatches`` minibatches
of the clipped surrogate objective, with a clipped value loss and an entropy bonus, Adam (eps 1e-5), a
learning rate annealed linearly to 0 and the gradient norm clipped. The network is ``ActorCritic``: the
Nature trunk with an actor and a critic on its 512-unit layer, so a PPO checkpoint loads as a policy agent
(output "policy") in every command.
"""

from __future__ import annotations

import numpy as np
import torch

from rlsae.agents.qnet import ActorCritic
from rlsae.agents.run import TrainAgentConfig, TrainingRun
from rlsae.common.runtime import autocast, autocast_dtype
from rlsae.envs.atari import make_vector_env


def gae(rewards: torch.Tensor, dones: torch.Tensor, values: torch.Tensor, next_value: torch.Tensor,
        gamma: float, lam: float) -> torch.Tensor:
    """Generalised advantage estimates for a [T, N] rollout.

    ``values[t]`` is V(s_t), ``next_value`` V(s_T) after the last step; ``dones[t]`` says s_{t+1} starts a
    new life or game, so nothing is bootstrapped or accumulated across it.
    A_t = delta_t + gamma lam (1-d_t) A_{t+1}, delta_t = r_t + gamma (1-d_t) V(s_{t+1}) - V(s_t).
    """
    advantages = torch.empty_like(rewards)
    ahead, following = torch.zeros_like(next_value), next_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * alive * following - values[t]
        ahead = delta + gamma * lam * alive * ahead
        advantages[t] = ahead
        following = values[t]
    return advantages


def ppo_loss(logits: torch.Tensor, value: torch.Tensor, actions: torch.Tensor, old_logprob: torch.Tensor,
             advantages: torch.Tensor, returns: torch.Tensor, old_value: torch.Tensor, cfg: TrainAgentConfig
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one minibatch (float32 inputs) and what it is made of."""
    log_pi = logits.log_softmax(1)
    log_ratio = log_pi.gather(1, actions[:, None]).squeeze(1) - old_logprob
    ratio = log_ratio.exp()
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
    # the value may move at most clip_coef from its rollout estimate unless moving further lowers the error
    clipped = old_value + (value - old_value).clamp(-cfg.clip_coef, cfg.clip_coef)
    value_loss = 0.5 * torch.max((value - returns) ** 2, (clipped - returns) ** 2).mean()
    entropy = -(log_pi.exp() * log_pi).sum(1).mean()
    loss = policy_loss - cfg.ent_coef * entropy + cfg.vf_coef * value_loss
    with torch.no_grad():
        parts = {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item(),
                 # KL(old || new) by Schulman's low-variance estimator; the share of ratios clipped
                 "approx_kl": ((ratio - 1) - log_ratio).mean().item(),
                 "clipfrac": ((ratio - 1).abs() > cfg.clip_coef).float().mean().item()}
    return loss, parts


def train_ppo(cfg: TrainAgentConfig) -> None:
    env = make_vector_env(cfg.game, cfg.num_envs, training=True)
    n = int(env.single_action_space.n)
    device = torch.device(cfg.device)
    model = ActorCritic(n, layer_norm=cfg.layer_norm).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, eps=1e-5, foreach=True)  # pqn's why
    run = TrainingRun(cfg, model, optimizer)
    generator = torch.Generator(device=device).manual_seed(cfg.seed + run.step)
    dtype = autocast_dtype(cfg.precision, cfg.device)
    T, N = cfg.rollout_steps, cfg.num_envs
    obs_buf = torch.zeros((T, N, 4, 84, 84), dtype=torch.uint8, device=device)
    act_buf = torch.zeros((T, N), dtype=torch.long, device=device)
    logp_buf, value_buf, rew_buf, done_buf = (torch.zeros((T, N), device=device) for _ in range(4))
    try:
        obs_np, _ = env.reset(seed=cfg.seed + run.step)
        obs = torch.from_numpy(obs_np).to(device)
        while not run.done:
            run.anneal_learning_rate()
            with torch.no_grad():
                for t in range(T):
                    with autocast(cfg.device, dtype):
                        logits, value = model.logits_and_value(obs)
                    log_pi = logits.float().log_softmax(1)
                    action = torch.multinomial(log_pi.exp(), 1, generator=generator).squeeze(1)
                    obs_buf[t], act_buf[t], value_buf[t] = obs, action, value.float()
                    logp_buf[t] = log_pi.gather(1, action[:, None]).squeeze(1)
                    obs_np, reward, terminated, truncated, _ = env.step(action.cpu().numpy())
                    obs = torch.from_numpy(obs_np).to(device)
                    rew_buf[t] = torch.from_numpy(reward.astype(np.float32))
                    done_buf[t] = torch.from_numpy((terminated | truncated).astype(np.float32))
                with autocast(cfg.device, dtype):
                    next_value = model.logits_and_value(obs)[1].float()
                advantages = gae(rew_buf, done_buf, value_buf, next_value, cfg.gamma, cfg.gae_lambda)
            returns = advantages + value_buf
            batch = (obs_buf.flatten(0, 1), act_buf.flatten(), logp_buf.flatten(), advantages.flatten(),
                     returns.flatten(), value_buf.flatten())
            parts: list[dict[str, float]] = []
            for _ in range(cfg.update_epochs):
                order = torch.randperm(T * N, generator=generator, device=device)
                for idx in order.split(T * N // cfg.num_minibatches):
                    b_obs, b_act, b_logp, b_adv, b_ret, b_value = (a[idx] for a in batch)
                    with autocast(cfg.device, dtype):
                        logits, value = model.logits_and_value(b_obs)
                    loss, part = ppo_loss(logits.float(), value.float(), b_act, b_logp, b_adv, b_ret, b_value, cfg)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                    optimizer.step()
                    parts.append({"loss": loss.item(), **part})
            run.advance(T * N, **{k: float(np.mean([p[k] for p in parts])) for k in parts[0]})
    finally:
        run.close()
        env.close()
