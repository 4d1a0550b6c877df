"""Checkpoints by name (``--agent cleanrl-dqn:FILE``, ``cleanrl-ppo:FILE``, ``sb3:FILE.zip``): each written
as its library writes it (tests/agents/checkpoint_formats.py), read back to the very outputs of the network
that wrote it, refused with one line when our frames would not fit it, and run through every command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_formats import (
    CleanRLAgent,
    CleanRLQNetwork,
    SB3ActorCritic,
    SB3QPolicy,
    save_cleanrl,
    save_sb3,
    sb3_data,
)
from every_command import check_policy_evaluation, check_recorded_outputs, run, through_every_command
from torch import nn

from rlsae.agents.checkpoint import load_agent
from rlsae.agents.formats import as_cleanrl
from rlsae.agents.protocol import load, rebuild, weights_sha256
from rlsae.agents.qnet import QNetwork
from rlsae.analysis.results import load_result
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.record import Recording
from rlsae.sae import load_sae

SHAPE = [4, 84, 84]


def frames(n: int = 5) -> torch.Tensor:
    return torch.randint(0, 256, (n, 4, 84, 84), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))


def write(kind: str, tmp_path: Path) -> tuple[str, nn.Module]:
    """(the --agent value, what its forward must equal: the network that wrote the file)."""
    sentinel = tmp_path / "unpickled"
    if kind == "cleanrl-dqn":
        net: nn.Module = CleanRLQNetwork(9)
        return f"cleanrl-dqn:{save_cleanrl(tmp_path / 'dqn.cleanrl_model', net)}", net
    if kind == "cleanrl-pqn":
        net = CleanRLQNetwork(9, layer_norm=True)
        return f"cleanrl-dqn:{save_cleanrl(tmp_path / 'pqn.cleanrl_model', net)}", net
    if kind == "cleanrl-ppo":
        net = CleanRLAgent(9)
        return f"cleanrl-ppo:{save_cleanrl(tmp_path / 'ppo.cleanrl_model', net)}", net
    if kind == "sb3-dqn":
        policy = SB3QPolicy(9, "q_net")
        return f"sb3:{save_sb3(tmp_path / 'dqn.zip', policy, sb3_data(SHAPE, 9, sentinel))}", policy.q_net
    if kind == "sb3-qrdqn":
        policy = SB3QPolicy(9 * 25, "quantile_net")
        zipped = save_sb3(tmp_path / "qrdqn.zip", policy, sb3_data(SHAPE, 9, sentinel, n_quantiles=25))

        class MeanOfQuantiles(nn.Module):  # SB3's QRDQNPolicy._predict: quantiles.view(-1, N, A).mean(1)
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return policy.quantile_net(x).view(-1, 25, 9).mean(1)
        return f"sb3:{zipped}", MeanOfQuantiles()
    policy = SB3ActorCritic(9)
    return f"sb3:{save_sb3(tmp_path / 'ppo.zip', policy, sb3_data(SHAPE, 9, sentinel))}", policy


@pytest.mark.parametrize(("kind", "layer", "head", "output"), [
    ("cleanrl-dqn", "network.8", "network.9", "q-values"),
    ("cleanrl-pqn", "network.12", "network.13", "q-values"),
    ("cleanrl-ppo", "network.8", "actor", "policy"),
    ("sb3-dqn", "q_net.features_extractor.linear.1", "q_net.q_net.0", "q-values"),
    ("sb3-qrdqn", "quantile_net.features_extractor.linear.1", "q_mean", "q-values"),
    ("sb3-ppo", "features_extractor.linear.1", "action_net", "policy"),
])
def test_each_format_reads_back_the_network_that_wrote_it(tmp_path: Path, kind: str, layer: str, head: str,
                                                          output: str) -> None:
    name, written = write(kind, tmp_path)
    agent = load(name)
    assert (agent.layer, agent.head, agent.output) == (layer, head, output)
    x = frames()
    with torch.no_grad():
        np.testing.assert_allclose(agent.model(x).numpy(), written(x).numpy(), rtol=1e-5, atol=1e-6)
        # the head is linear on the layer it names: the exact metrics hold
        hidden = agent.model.features(x, layer)
        np.testing.assert_allclose(agent.model.get_submodule(head)(hidden).numpy(), agent.model(x).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "unpickled").exists()  # no ":serialized:" field was ever unpickled
    assert agent.source["kind"] == "format"
    again = rebuild({**agent.source, "sha256": weights_sha256(agent.model)})
    assert weights_sha256(again.model) == weights_sha256(agent.model)


@pytest.mark.parametrize("layer_norm", [True, False])
def test_an_rlsae_agent_in_cleanrl_layout_is_the_same_agent(tmp_path: Path, layer_norm: bool) -> None:
    """The shipped agent (PQN, LayerNorm) as pqn_atari names it; a plain Nature DQN as dqn_atari names it."""
    model = load_agent(None)[0] if layer_norm else QNetwork(9, layer_norm=False)
    torch.save(as_cleanrl(model), tmp_path / "agent.cleanrl_model")
    agent = load(f"cleanrl-dqn:{tmp_path / 'agent.cleanrl_model'}")
    assert agent.layer == ("network.12" if layer_norm else "network.8")
    x = frames()
    with torch.no_grad():
        assert torch.equal(agent.model(x), model(x))
        hidden = [name for name, _ in model.named_children()].index("hidden")
        assert torch.equal(agent.model.features(x, agent.layer), nn.Sequential(*list(model.children())[:hidden + 1])(x))


def _zip(path: Path, shape: list[int], policy: nn.Module | None = None, **kwargs: object) -> str:
    data = sb3_data(shape, 9, path.parent / "unpickled", **kwargs)
    return f"sb3:{save_sb3(path, policy or SB3ActorCritic(9), data)}"


class WideFrames(CleanRLQNetwork):
    """Trained on 96x96 frames: Linear(64 * 9 * 9, 512)."""

    def __init__(self) -> None:
        super().__init__(9)
        self.network[7] = nn.Linear(64 * 9 * 9, 512)


def test_a_mismatched_observation_contract_is_one_clear_line(tmp_path: Path) -> None:
    cases = {
        "channels-last frames": _zip(tmp_path / "last.zip", [84, 84, 4]),
        "observations \\[3, 84, 84\\]": _zip(tmp_path / "rgb.zip", [3, 84, 84]),
        "normalize_images=False": _zip(tmp_path / "raw.zip", SHAPE, policy_kwargs={
            ":type:": "<class 'dict'>", ":serialized:": "not base64: never decoded", "normalize_images": False}),
        "no NatureCNN": _zip(tmp_path / "mlp.zip", SHAPE, nn.Linear(4, 2)),
        "another frame size": f"cleanrl-dqn:{save_cleanrl(tmp_path / 'wide.cleanrl_model', WideFrames())}",
        "not the layout": f"cleanrl-dqn:{save_cleanrl(tmp_path / 'ppo.cleanrl_model', CleanRLAgent(9))}",
        "not found": "sb3:nowhere.zip",
    }
    rgb = CleanRLQNetwork(9)
    rgb.network[0] = nn.Conv2d(12, 32, 8, stride=4)
    cases["12 input channels"] = f"cleanrl-dqn:{save_cleanrl(tmp_path / 'rgb.cleanrl_model', rgb)}"
    (tmp_path / "text.zip").write_text("not a zip")
    cases["not a readable Stable-Baselines3 zip"] = f"sb3:{tmp_path / 'text.zip'}"
    for message, name in cases.items():
        with pytest.raises(UserError, match=message) as err:
            load(name)
        assert "\n" not in str(err.value)


def test_sampling_needs_a_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, _ = write("sb3-dqn", tmp_path)
    assert main(["evaluate-agent", "--agent", name, "--act", "sample", "--episodes", "1", "--num-envs", "1"]) == 2
    assert "--act sample samples from a policy's logits, and this agent outputs q-values" in capsys.readouterr().err


def test_a_cleanrl_pqn_checkpoint_through_every_command(tmp_path: Path) -> None:
    name, _ = write("cleanrl-pqn", tmp_path)
    run("evaluate-agent", "--agent", name, "--episodes", "1", "--num-envs", "1", "--json", str(tmp_path / "e.json"))
    evaluation = through_every_command(name, tmp_path, "greedy")
    rec = Recording.open(tmp_path / "rec")
    assert rec.manifest["layer"] == "network.12" and rec.manifest["head"] == "network.13"
    assert rec.manifest["agent"]["kind"] == "format" and rec.output == "q-values"
    assert load_result(tmp_path / "interpret").value_effect is None
    assert evaluation["regret"] is not None and evaluation.get("policy_kl") is None


def test_an_sb3_dqn_zip_through_every_command(tmp_path: Path) -> None:
    name, written = write("sb3-dqn", tmp_path)
    evaluation = through_every_command(name, tmp_path, "greedy")
    rec = check_recorded_outputs(tmp_path / "rec", written, (7, 400))  # the zip's Q-values
    assert rec.manifest["layer"] == "q_net.features_extractor.linear.1" and rec.manifest["head"] == "q_net.q_net.0"
    assert evaluation["regret"] is not None and evaluation.get("policy_kl") is None


def test_an_sb3_ppo_zip_through_every_command_sampling_its_policy(tmp_path: Path) -> None:
    name, written = write("sb3-ppo", tmp_path)
    run("evaluate-agent", "--agent", name, "--act", "sample", "--epsilon", "0", "--episodes", "1", "--num-envs", "1",
         "--json", str(tmp_path / "e.json"))
    evaluation = through_every_command(name, tmp_path, "sample")
    rec = check_recorded_outputs(tmp_path / "rec", written, (5, 300))  # the policy's logits
    assert rec.output == "policy" and rec.manifest["head"] == "action_net"
    check_policy_evaluation(evaluation)
    assert evaluation["act"] == "sample"
    # the arrows are the actor's logits, and the critic's change is one number per feature
    assert rec.manifest["value"] == "value_net"
    result, decoder = load_result(tmp_path / "interpret"), load_sae(tmp_path / "sae").W_dec.detach().numpy()
    np.testing.assert_allclose(result.action_effect, decoder @ written.action_net.weight.detach().numpy().T,
                               atol=1e-5)
    np.testing.assert_allclose(result.value_effect, decoder @ written.value_net.weight.detach().numpy()[0],
                               atol=1e-5)
    assert '"output":"policy"' in (tmp_path / "browser" / "data" / "summary.js").read_text()
    assert not (tmp_path / "unpickled").exists()
