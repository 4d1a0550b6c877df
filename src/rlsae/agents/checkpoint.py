"""Agent checkpoints: a folder with weights (safetensors), a JSON manifest, and the training state.

    ckpt/
      model.safetensors   the Q-network's weights
      manifest.json       game, n_actions, layer_norm, algorithm, step, config, provenance, scores
      train_state.json    optimizer state + counters, only needed to resume training (tensors in
      train_state.safetensors; no pickle anywhere)

Every file is written to a temporary name and renamed, so a kill mid-write never leaves a torn file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from rlsae.agents.qnet import QNetwork
from rlsae.common.files import atomic_path, load_state, read_json, save_state, write_json
from rlsae.config import UserError

WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"
TRAIN_STATE = "train_state"


def default_agent_path() -> Path:
    """The Ms. Pac-Man agent shipped inside the package."""
    return Path(str(resources.files("rlsae") / "agents" / "default"))


def save_checkpoint(folder: Path, model: QNetwork, manifest: dict[str, Any],
                    train_state: dict[str, Any] | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    if train_state is not None:
        save_state(folder / TRAIN_STATE, train_state)
    write_json(folder / MANIFEST, {"n_actions": model.n_actions, "layer_norm": model.layer_norm,
                                   **manifest})


def read_manifest(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    path = folder / MANIFEST
    if not path.exists():
        raise UserError(f"no agent checkpoint at '{folder}': expected {MANIFEST} and {WEIGHTS} there")
    return read_json(path, "agent manifest")


def load_agent(path: Path | None = None, device: str = "cpu") -> tuple[QNetwork, dict[str, Any]]:
    """Load a Q-network checkpoint folder (None: the shipped default agent)."""
    folder = Path(path) if path is not None else default_agent_path()
    if folder.is_file():
        folder = folder.parent
    manifest = read_manifest(folder)
    model = QNetwork(int(manifest["n_actions"]), bool(manifest.get("layer_norm", True)))
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except FileNotFoundError:
        raise UserError(f"'{folder / WEIGHTS}' is missing") from None
    except (RuntimeError, OSError) as err:
        raise UserError(f"'{folder / WEIGHTS}' does not hold a matching Q-network: {err}") from None
    return model.to(device).eval(), manifest


def load_train_state(folder: Path) -> dict[str, Any] | None:
    return load_state(Path(folder) / TRAIN_STATE)
