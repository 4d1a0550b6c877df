"""`train-agent --algorithm ppo`: the advantage estimates and the loss, a short real run whose agent goes through
every command as a policy, and resuming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from every_command import check_policy_evaluation, check_recorded_outputs, run, through_every_command

from rlsae.agents.checkpoint import load_agent
from rlsae.agents.ppo import gae, ppo_loss
from rlsae.agents.protocol import load
from rlsae.agents.qnet import ActorCritic
from rlsae.agents.train import TrainAgentConfig, TrainingRun, train_agent
from rlsae.analysis.results import load_result
from rlsae.common.errors import UserError
from rlsae.sae import load_sae


def test_gae_is_the_td_error_at_lambda_0_and_the_return_at_lambda_1() -> None:
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    values = torch.tensor([[0.5], [4.0], [1.0]])
    next_value = torch.tensor([3.0])
    td = gae(rewards, dones, values, next_value, gamma=0.5, lam=0.0)
    torch.testing.assert_close(td, torch.tensor([[1 + 0.5 * 4 - 0.5], [0.0 - 4], [2 + 0.5 * 3 - 1]]))
    # lambda 1: the discounted return up to the end of the life (step 1 ends it) or the rollout, less V(s_t)
    mc = gae(rewards, dones, values, next_value, gamma=0.5, lam=1.0)
    torch.testing.assert_close(mc, torch.tensor([[1 + 0.5 * 0 - 0.5], [0.0 - 4], [2 + 0.5 * 3 - 1]]))


def test_a_step_on_the_loss_makes_advantaged_actions_likelier(tmp_path: Path) -> None:
    cfg = TrainAgentConfig(algorithm="ppo", out=tmp_path)
    torch.manual_seed(0)
    model = ActorCritic(4)
    obs = torch.randint(0, 256, (64, 4, 84, 84), dtype=torch.uint8)
    actions = torch.randint(0, 4, (64,))
    advantages = torch.where(actions == 2, 1.0, -1.0)
    with torch.no_grad():
        logits, value = model.logits_and_value(obs)
        old_logp = logits.log_softmax(1).gather(1, actions[:, None]).squeeze(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):
        new_logits, new_value = model.logits_and_value(obs)
        loss, parts = ppo_loss(new_logits, new_value, actions, old_logp, advantages, value + 1.0, value, cfg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        before, after = logits.softmax(1)[:, 2].mean(), model(obs).softmax(1)[:, 2].mean()
    assert after > before + 0.01, (before, after)
    assert parts["approx_kl"] >= 0 and 0 <= parts["clipfrac"] <= 1 and parts["entropy"] > 0


def test_a_ppo_agent_from_train_agent_goes_through_every_command(tmp_path: Path) -> None:
    out = tmp_path / "agent"
    run("train-agent", "--algorithm", "ppo", "--out", str(out), "--total-steps", "256", "--num-envs", "2",
        "--rollout-steps", "32", "--eval-episodes", "1", "--device", "cpu")
    agent = load(str(out / "best"))
    assert (agent.output, agent.layer, agent.head, agent.value) == ("policy", "hidden", "actor", "critic")
    model, manifest = load_agent(out / "best")
    assert isinstance(model, ActorCritic) and manifest["algorithm"] == "ppo" and manifest["output"] == "policy"
    assert manifest["step"] == 256 and manifest["training_eval"]["episodes"] == 1
    run("evaluate-agent", "--agent", str(out / "best"), "--act", "sample", "--epsilon", "0", "--episodes", "1",
        "--num-envs", "1")
    evaluation = through_every_command(str(out / "best"), tmp_path, "sample")
    rec = check_recorded_outputs(tmp_path / "rec", model, (3, 400))
    assert rec.output == "policy" and (rec.manifest["head"], rec.manifest["value"]) == ("actor", "critic")
    check_policy_evaluation(evaluation)
    # train-sae measured the policy's numbers too, and its loss ran through the centred actor
    held_out = json.loads((tmp_path / "sae" / "cfg.json").read_text())["metadata"]["rlsae"]["heldout"]
    assert held_out["policy_kl"] >= 0 and "regret" not in held_out and "q_rel_error" not in held_out
    log = [json.loads(line) for line in (tmp_path / "sae" / "log.jsonl").read_text().splitlines()]
    assert "logit_fvu" in log[-1] and "advantage_fvu" not in log[-1]
    result, decoder = load_result(tmp_path / "interpret"), load_sae(tmp_path / "sae").W_dec.detach().numpy()
    np.testing.assert_allclose(result.value_effect, decoder @ model.critic.weight.detach().numpy()[0], atol=1e-5)


def test_resume_continues_a_ppo_run_from_the_latest_checkpoint(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = dict(algorithm="ppo", out=tmp_path, num_envs=2, rollout_steps=32, log_every=64, eval_every=10**9,
               eval_episodes=1, save_every=10**9, progress=False)
    train_agent(TrainAgentConfig(total_steps=128, **cfg))
    first = load_agent(tmp_path / "latest")[0].state_dict()
    # the optimizer's state comes back with the weights
    model = ActorCritic(9)
    optimizer = torch.optim.Adam(model.parameters(), lr=2.5e-4, eps=1e-5)
    resumed_run = TrainingRun(TrainAgentConfig(total_steps=256, **cfg), model, optimizer)
    assert resumed_run.step == 128 and len(optimizer.state) > 0
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())
    train_agent(TrainAgentConfig(total_steps=256, **cfg))
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 256 and len(steps) == len(set(steps))
    second, manifest = load_agent(tmp_path / "latest")
    assert manifest["step"] == 256 and manifest["output"] == "policy"
    assert any(not torch.equal(first[k], v) for k, v in second.state_dict().items())


def test_ppo_defaults_are_cleanrl_ppo_atari_and_bad_values_are_user_errors(tmp_path: Path) -> None:
    cfg = TrainAgentConfig(algorithm="ppo", out=tmp_path)
    assert (cfg.num_envs, cfg.rollout_steps, cfg.learning_rate, cfg.update_epochs, cfg.num_minibatches,
            cfg.max_grad_norm, cfg.layer_norm) == (8, 128, 2.5e-4, 4, 4, 0.5, False)
    assert (cfg.gamma, cfg.gae_lambda, cfg.clip_coef, cfg.ent_coef, cfg.vf_coef) == (0.99, 0.95, 0.1, 0.01, 0.5)
    pqn = TrainAgentConfig(out=tmp_path)  # pqn's own defaults for the shared options stay as they were
    assert (pqn.num_envs, pqn.rollout_steps, pqn.update_epochs, pqn.max_grad_norm) == (32, 32, 2, 10.0)
    with pytest.raises(UserError, match="--num-minibatches \\(4\\) must divide num_envs\\*rollout_steps \\(15\\)"):
        TrainAgentConfig(algorithm="ppo", out=tmp_path, num_envs=3, rollout_steps=5)
    with pytest.raises(UserError, match="--clip-coef must be > 0"):
        TrainAgentConfig(algorithm="ppo", out=tmp_path, clip_coef=0)
