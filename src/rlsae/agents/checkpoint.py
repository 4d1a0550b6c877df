"""Agent checkpoints: a folder with weights (safetensors), a JSON manifest, and the training state.

    ckpt/
      model.safetensors   the network's weights
      manifest.json       game, n_actions, layer_norm, output ("q-values", or "policy": a PPO actor-critic),
                          algorithm, step, config, provenance, scores
      train_state.json    optimizer state + counters, only needed to resume training (tensors in
      train_state.safetensors; no pickle anywhere)

Every file is written to a temporary name and renamed, so a kill mid-write never leaves a torn file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rlsae.agents.qnet import NETWORKS, Network
from rlsae.common.errors import UserError
from rlsae.common.files import atomic_path, load_state, read_json, save_state, write_json
from rlsae.envs.atari import DEFAULT_GAME, action_names

WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"
TRAIN_STATE = "train_state"


# Earlier versions shipped a checkpoint series loaded as ``series:NAME``; it now comes from a command.
SERIES_PREFIX = "series:"
MAKE_SERIES = ("the checkpoint series no longer ships with rlsae: `rlsae train-agent --out runs/agent` keeps the "
               "network at log-spaced steps in runs/agent/series/ (see --keep-steps)")


def default_agent_path() -> Path:
    """The agent shipped inside the package (it plays ``DEFAULT_GAME``)."""
    return Path(str(resources.files("rlsae") / "agents" / "default"))


def resolve_checkpoint(path: Path | str | None) -> Path:
    """A checkpoint folder from a path (a file inside it will do), or the shipped agent for None."""
    if path is None:
        return default_agent_path()
    if str(path).startswith(SERIES_PREFIX):
        raise UserError(f"'{path}': {MAKE_SERIES}; give one of its folders, e.g. runs/agent/series/1M")
    folder = Path(path)
    return folder.parent if folder.is_file() else folder


def save_checkpoint(folder: Path, model: Network, manifest: dict[str, Any],
                    train_state: dict[str, Any] | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    if train_state is not None:
        save_state(folder / TRAIN_STATE, train_state)
    write_json(folder / MANIFEST, {"n_actions": model.n_actions, "layer_norm": model.layer_norm,
                                   "output": model.output, **manifest})


def read_manifest(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    path = folder / MANIFEST
    if not path.exists():
        raise UserError(f"no agent checkpoint at '{folder}': expected {MANIFEST} and {WEIGHTS} there")
    return read_json(path, "agent manifest")


def game_actions(game: str) -> int:
    """How many actions ``game`` has: its minimal action set, as every env here uses."""
    return len(action_names(game))


def check_agent_manifest(manifest: Any, folder: Path) -> None:
    """The manifest's types, and a network whose outputs match its game's actions (no game: ``DEFAULT_GAME``).

    An agent with more outputs than its game has actions would send the env actions it does not have
    (ALE's vector env then hangs for good); one with fewer would never press some buttons.
    """
    path = Path(folder) / MANIFEST
    if not isinstance(manifest, dict):
        raise UserError(f"'{path}' is not an agent manifest (a JSON object expected)")
    n, game = manifest.get("n_actions"), manifest.setdefault("game", DEFAULT_GAME)
    output = manifest.setdefault("output", "q-values")  # checkpoints from before PPO hold Q-networks
    if not isinstance(output, str) or output not in NETWORKS:
        raise UserError(f"'{path}' names output {output!r}: an rlsae checkpoint holds {' or '.join(NETWORKS)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or not isinstance(game, str):
        raise UserError(f"'{path}' needs \"n_actions\" (a positive integer) and \"game\" (an ALE game id); "
                        f"it has n_actions={n!r}, game={game!r}")
    if n != game_actions(game):
        raise UserError(f"the agent at '{folder}' has {n} actions but its game '{game}' has {game_actions(game)}: "
                        f"the manifest names the wrong game, or the network was made for another game")


def load_agent(path: Path | str | None = None, device: str = "cpu") -> tuple[Network, dict[str, Any]]:
    """Load a checkpoint folder (a Q-network, or a PPO actor-critic), or the shipped default agent for None.

    Weights stored in float16 (the shipped agent, a published series) load into a float32 network."""
    folder = resolve_checkpoint(path)
    manifest = read_manifest(folder)
    check_agent_manifest(manifest, folder)
    model = NETWORKS[manifest["output"]](manifest["n_actions"], bool(manifest.get("layer_norm", True)))
    kind = "Q-network" if manifest["output"] == "q-values" else "actor-critic"
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except FileNotFoundError:
        raise UserError(f"'{folder / WEIGHTS}' is missing") from None
    except SafetensorError as err:
        raise UserError(f"'{folder / WEIGHTS}' is not a readable safetensors file ({err})") from None
    except (RuntimeError, OSError) as err:
        raise UserError(f"'{folder / WEIGHTS}' does not hold a matching {kind}: {err}") from None
    return model.to(device).eval(), manifest


def load_train_state(folder: Path) -> dict[str, Any] | None:
    return load_state(Path(folder) / TRAIN_STATE)
