"""Agent checkpoints: a folder with weights (safetensors), a JSON manifest, and the training state.

    ckpt/
      model.safetensors   the Q-network's weights
      manifest.json       game, n_actions, layer_norm, algorithm, step, config, provenance, scores
      train_state.pt      optimizer + counters, only needed to resume training

Every file is written to a temporary name and renamed, so a kill mid-write never leaves a torn file.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rlsae import __version__
from rlsae.agents.qnet import QNetwork
from rlsae.config import UserError

WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"
TRAIN_STATE = "train_state.pt"


def default_agent_path() -> Path:
    """The Ms. Pac-Man agent shipped inside the package."""
    return Path(str(resources.files("rlsae") / "agents" / "default"))


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(Path(path), json.dumps(data, indent=2) + "\n")


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """Who/what/when produced an artefact: stored in every manifest."""
    return {"rlsae_version": __version__, "commit": git_commit(), "torch": torch.__version__,
            "python": platform.python_version(), "host": platform.node(),
            "created": datetime.now(UTC).isoformat(timespec="seconds")}


def save_checkpoint(folder: Path, model: QNetwork, manifest: dict[str, Any],
                    train_state: dict[str, Any] | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (WEIGHTS + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, folder / WEIGHTS)
    if train_state is not None:
        tmp = folder / (TRAIN_STATE + ".tmp")
        torch.save(train_state, tmp)
        os.replace(tmp, folder / TRAIN_STATE)
    write_json(folder / MANIFEST, {"n_actions": model.n_actions, "layer_norm": model.layer_norm,
                                   **manifest})


def read_manifest(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    path = folder / MANIFEST
    if not path.exists():
        raise UserError(f"no agent checkpoint at '{folder}': expected {MANIFEST} and {WEIGHTS} there")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"'{path}' is not valid JSON ({err})") from None


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
    path = Path(folder) / TRAIN_STATE
    return torch.load(path, weights_only=False) if path.exists() else None
