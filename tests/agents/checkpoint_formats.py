"""Checkpoints written as CleanRL and Stable-Baselines3 write them, without either library: the same
module names and shapes (dqn_atari / pqn_atari / ppo_atari; SB3's NatureCNN policies), the same files
(``torch.save(state_dict)``; SB3's zip with its ``data`` JSON and ``policy.pth``). Random weights.
The ``data`` JSON carries a ":serialized:" pickle that touches ``sentinel`` if anything ever unpickles it."""

from __future__ import annotations

import base64
import json
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn


def nature_cnn(layer_norm: bool = False) -> list[nn.Module]:
    """Conv 8/4, 4/2, 3/1 and Linear(3136, 512) with ReLUs, as dqn_atari (pqn_atari: a LayerNorm in each block)."""
    def block(layer: nn.Module, shape: list[int]) -> list[nn.Module]:
        return [layer, *([nn.LayerNorm(shape)] if layer_norm else []), nn.ReLU()]
    return [*block(nn.Conv2d(4, 32, 8, stride=4), [32, 20, 20]), *block(nn.Conv2d(32, 64, 4, stride=2), [64, 9, 9]),
            *block(nn.Conv2d(64, 64, 3, stride=1), [64, 7, 7]), nn.Flatten(),
            *block(nn.Linear(3136, 512), [512])]


class CleanRLQNetwork(nn.Module):
    def __init__(self, n_actions: int, layer_norm: bool = False):
        super().__init__()
        self.network = nn.Sequential(*nature_cnn(layer_norm), nn.Linear(512, n_actions))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x / 255.0)


class CleanRLAgent(nn.Module):
    def __init__(self, n_actions: int):
        super().__init__()
        self.network = nn.Sequential(*nature_cnn())
        self.actor = nn.Linear(512, n_actions)
        self.critic = nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.actor(self.network(x / 255.0))


class NatureCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers = nature_cnn()
        self.cnn = nn.Sequential(*layers[:7])
        self.linear = nn.Sequential(*layers[7:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(x))


class SB3QNetwork(nn.Module):
    """DQN's QNetwork (``q_net``) or QR-DQN's QuantileNetwork (``quantile_net``): extractor + a Linear."""

    def __init__(self, n_out: int, head: str):
        super().__init__()
        self.features_extractor = NatureCNN()
        self.head_name = head
        self.add_module(head, nn.Sequential(nn.Linear(512, n_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.head_name)(self.features_extractor(x / 255.0))


class SB3QPolicy(nn.Module):
    def __init__(self, n_out: int, name: str):
        super().__init__()
        self.add_module(name, SB3QNetwork(n_out, name))
        self.add_module(f"{name}_target", SB3QNetwork(n_out, name))


class SB3ActorCritic(nn.Module):
    """ActorCriticCnnPolicy with a shared extractor (SB3 >= 1.8 registers it under three names)."""

    def __init__(self, n_actions: int):
        super().__init__()
        self.features_extractor = NatureCNN()
        self.pi_features_extractor = self.features_extractor
        self.vf_features_extractor = self.features_extractor
        self.mlp_extractor = nn.Module()
        self.mlp_extractor.policy_net = nn.Sequential()
        self.mlp_extractor.value_net = nn.Sequential()
        self.action_net = nn.Linear(512, n_actions)
        self.value_net = nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.action_net(self.features_extractor(x / 255.0))


class Touch:
    """Unpickling this touches a file: the test's proof that nothing read a ":serialized:" field."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.path,))


def save_cleanrl(path: Path, model: nn.Module) -> Path:
    torch.save(model.state_dict(), path)  # CleanRL: torch.save(q_network.state_dict(), model_path)
    return path


def sb3_data(shape: list[int], n_actions: int, sentinel: Path, **kwargs: object) -> dict[str, object]:
    """``data`` as SB3's data_to_json writes it: objects as ":type:" + ":serialized:" + their plain fields."""
    pickled = base64.b64encode(pickle.dumps(Touch(sentinel))).decode()
    return {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": pickled,
                             "__module__": "stable_baselines3.dqn.policies"},
            "observation_space": {":type:": "<class 'gymnasium.spaces.box.Box'>", ":serialized:": pickled,
                                  "dtype": "uint8", "_shape": shape, "low_repr": "0", "high_repr": "255",
                                  "bounded_below": "[[[ True ...]]]", "_np_random": None},
            "action_space": {":type:": "<class 'gymnasium.spaces.discrete.Discrete'>", ":serialized:": pickled,
                             "n": n_actions, "start": 0, "_shape": [], "dtype": "int64", "_np_random": None},
            "n_envs": 8, "num_timesteps": 10_000_000, "gamma": 0.99, **kwargs}


def save_sb3(path: Path, policy: nn.Module, data: dict[str, object]) -> Path:
    """The zip as SB3's save_to_zip_file lays it out: data, pytorch_variables.pth, policy.pth (+ optimizer),
    _stable_baselines3_version, system_info.txt."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data, indent=4))
        with archive.open("pytorch_variables.pth", "w", force_zip64=True) as f:
            torch.save({}, f)
        with archive.open("policy.pth", "w", force_zip64=True) as f:
            torch.save(policy.state_dict(), f)
        with archive.open("policy.optimizer.pth", "w", force_zip64=True) as f:
            torch.save({"state": {}, "param_groups": []}, f)
        archive.writestr("_stable_baselines3_version", "2.3.2")
        archive.writestr("system_info.txt", "- OS: Linux\n- Python: 3.11\n")
    return path

