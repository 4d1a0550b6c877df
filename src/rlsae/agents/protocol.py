"""Bring your own agent: what rlsae needs from a Q-network, and how a command names one.

An agent is a torch module mapping observations to Q-values - by default (``OBSERVATION``) uint8
[B, 4, 84, 84], four stacked 84x84 grey frames, ALE's standard DQN preprocessing, as every env here
produces them - plus the name of the layer to read and, when there is one, the name of the
``nn.Linear`` that maps that layer's output to the Q-values. With that head the advantage-aware SAE
loss, the action arrows and the regret are exact; without it they are unavailable (a linear read-out
is what makes them exact), and every command says so. A command names an agent with ``--agent``:

    runs/agent/best                 an rlsae checkpoint folder (a Q-network, or a PPO actor-critic: "policy")
    mypkg.nets:build                a factory: build() returns an nn.Module, or an Agent naming its layer,
                                    head and game (the module must be importable)
    mypkg.nets:build@model.pt       the same, then rlsae loads the weights: safetensors, or a torch
                                    state dict read with torch.load(weights_only=True) - nothing is unpickled
    cleanrl-dqn:FILE, cleanrl-ppo:FILE, sb3:FILE.zip
                                    a CleanRL or Stable-Baselines3 checkpoint, no code to write (formats.py)

An agent's ``output`` says what its forward returns: "q-values", or "policy" (an actor-critic's action
logits; ``value`` names its value head). The linear head on the read layer is then the actor, and the
centred logits play the part of the advantages: the same algebra, other units.

A recording stores how to rebuild its agent (the factory, the weights' path and both sha256 hashes),
so later stages need no flags; a recording of a bare module (``record_model``) is given ``--agent``.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from rlsae.agents.checkpoint import load_agent, resolve_checkpoint
from rlsae.agents.formats import is_format, load_format
from rlsae.agents.qnet import HIDDEN_LAYER
from rlsae.common.errors import UserError
from rlsae.config import require

OBSERVATION = "uint8 [B, 4, 84, 84]: four stacked 84x84 grey frames (ALE's standard DQN preprocessing)"
AGENT_HELP = "agent: folder, pkg.mod:fn[@WEIGHTS] or cleanrl-dqn|cleanrl-ppo|sb3:FILE"
OUTPUTS = ("q-values", "policy")
HEAD_UNAVAILABLE = ("no linear Q-head reads this layer, so the advantage-aware loss, the action arrows and the "
                    "regret are unavailable (they need Q = W_head @ layer + b exactly)")


@dataclass
class Agent:
    """A network rlsae can read. ``layer``, ``head`` and ``value`` are names from ``model.named_modules()``;
    ``game`` the ALE game it plays (None: the command's default); ``source`` how to rebuild it; ``output``
    what the forward returns (``OUTPUTS``)."""

    model: nn.Module
    layer: str | None = None
    head: str | None = None
    game: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    output: str = "q-values"
    value: str | None = None

    def __post_init__(self) -> None:
        require(self.output in OUTPUTS, f"an Agent's output is one of {', '.join(OUTPUTS)}, not '{self.output}'")


def is_factory(text: str) -> bool:
    """``package.module:function[@weights]`` rather than a path (or the retired ``series:NAME``)."""
    name = text.split("@", 1)[0]
    module, sep, function = name.partition(":")
    return bool(sep) and module.replace(".", "").replace("_", "").isalnum() and function.isidentifier() \
        and module != "series"


def load(agent: str | Path | None, device: str = "cpu") -> Agent:
    """The agent ``--agent`` names (None: the shipped one), on ``device`` in eval mode."""
    if agent is not None and is_format(str(agent)):
        return from_format(str(agent), device)
    if agent is not None and is_factory(str(agent)):
        factory, _, weights = str(agent).partition("@")
        return from_factory(factory, Path(weights) if weights else None, device)
    folder = resolve_checkpoint(agent)
    model, manifest = load_agent(folder, device)
    return Agent(model, HIDDEN_LAYER, model.head_name, manifest["game"],
                 {"kind": "rlsae-checkpoint", "checkpoint": str(folder.resolve()), "manifest": manifest},
                 model.output, model.value_name)


def from_factory(factory: str, weights: Path | None, device: str = "cpu") -> Agent:
    """Build an agent with ``package.module:function``, then load ``weights`` into it if given."""
    module_name, _, function = factory.partition(":")
    try:
        build = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as err:
        raise UserError(f"cannot import the agent factory '{factory}' ({err}): give package.module:function "
                        "of an importable module") from None
    built = build()
    agent = built if isinstance(built, Agent) else Agent(built)
    require(isinstance(agent.model, nn.Module),
            f"the agent factory '{factory}' returned {type(agent.model).__name__}, not a torch nn.Module or an Agent")
    source: dict[str, Any] = {"kind": "factory", "factory": factory}
    if weights is not None:
        load_weights(agent.model, weights)
        source.update(weights=str(weights.resolve()), weights_file_sha256=file_sha256(weights))
    agent.source = {**agent.source, **source}
    agent.model = agent.model.to(device).eval()
    return agent


def from_format(text: str, device: str = "cpu") -> Agent:
    """A CleanRL or SB3 checkpoint (``FORMAT:FILE``), with how to rebuild it: the format and the file."""
    built, path = load_format(text, device)
    source = {"kind": "format", "format": text.partition(":")[0], "weights": str(path.resolve()),
              "weights_file_sha256": file_sha256(path)}
    return Agent(built.model, built.layer, built.head, None, source, built.output, built.value)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a state dict from safetensors, or from a torch file with ``weights_only=True`` (no pickle)."""
    path = Path(path)
    require(path.is_file(), f"agent weights '{path}' not found")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, RuntimeError, OSError, EOFError) as err:
        raise UserError(f"'{path}' is not a readable safetensors file or torch state dict "
                        f"(loaded with weights_only=True): {str(err).splitlines()[0]}") from None
    require(isinstance(state, dict), f"'{path}' holds a {type(state).__name__}, not a state dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserError(f"the weights in '{path}' do not fit the factory's network: "
                        f"{str(err).splitlines()[0]}") from None


def rebuild(source: dict[str, Any], device: str = "cpu") -> Agent:
    """The agent a recording's manifest describes, checked against the weight hash stored with it."""
    if source.get("kind") == "format":
        agent = from_format(f"{source['format']}:{source['weights']}", device)
        check_same(agent.model, source.get("sha256"), f"the {source['format']} checkpoint '{source['weights']}'")
        return agent
    if source.get("kind") != "factory":
        raise UserError("it was made with a user module (rlsae.record.record_model) and holds no way to "
                        "rebuild it: pass --agent package.module:function[@WEIGHTS]")
    weights = source.get("weights")
    agent = from_factory(source["factory"], Path(weights) if weights else None, device)
    check_same(agent.model, source.get("sha256"), f"the agent built by '{source['factory']}'")
    return agent


def check_same(model: nn.Module, sha256: str | None, what: str) -> None:
    """A UserError unless ``model``'s weights hash to ``sha256`` (the recording's agent)."""
    if sha256 is not None and weights_sha256(model) != sha256:
        raise UserError(f"{what} has other weights than the agent that made the recording: pass the agent "
                        "and weights that recorded it")


def weights_sha256(model: nn.Module) -> str:
    """sha256 over the state dict's names and values: the same weights give the same hash in any file."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@torch.no_grad()
def check_head(model: nn.Module, head: str | None, act: torch.Tensor, q: torch.Tensor) -> str | None:
    """``head`` if it is an ``nn.Linear`` that maps ``act`` [B, d] to ``q`` [B, A]; else (``head`` None)
    the one such layer of the model, found by trying them. None if there is none. The check is numeric:
    a head that does not reproduce the Q-values would make every exact metric wrong."""
    candidates = [head] if head is not None else [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    flat = act.reshape(len(act), -1).float()
    for name in candidates:
        layer = model.get_submodule(name) if name in dict(model.named_modules()) else None
        fits = (isinstance(layer, nn.Linear) and layer.in_features == flat.shape[1]
                and layer.out_features == q.shape[1]
                and torch.allclose(layer(flat.to(layer.weight.device)).float().cpu(), q.float(), rtol=1e-4,
                                   atol=1e-4 * (1 + float(q.abs().max()))))
        if fits:
            return name
        if head is not None:
            raise UserError(f"layer '{head}' is not a linear head mapping the recorded layer to the Q-values: "
                            "name the nn.Linear that does, or none")
    return None
