"""SAEs on disk in SAELens v6's format, so ``sae_lens.SAE.load_from_disk(folder)`` loads ours.

    folder/
      cfg.json                  architecture, d_in, d_sae, k, dtype, device, ... and ``metadata``
                                (sae_lens_version, hook_name, model_name, and our provenance under "rlsae")
      sae_weights.safetensors   W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
                                (+ threshold [d_sae] for BatchTopK, saved as SAELens' "jumprelu")
      sparsity.safetensors      "sparsity": log10 feature density [d_sae] on the training data

Our architecture names map to SAELens': topk -> "topk", relu -> "standard", batchtopk -> "jumprelu"
(BatchTopK infers with a threshold, which is exactly a JumpReLU; SAELens converts it the same way).
Input scaling is folded into the weights before saving (see ``SparseAutoencoder.fold_scale``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rlsae.config import UserError
from rlsae.sae.model import SparseAutoencoder

CFG = "cfg.json"
WEIGHTS = "sae_weights.safetensors"
SPARSITY = "sparsity.safetensors"
SAE_LENS_VERSION = "6.0.0"  # the format version we write; checked against sae-lens 6.54

TO_SAELENS = {"topk": "topk", "relu": "standard", "batchtopk": "jumprelu"}
FROM_SAELENS = {v: k for k, v in TO_SAELENS.items()}


def save_sae(folder: Path, sae: SparseAutoencoder, metadata: dict[str, Any] | None = None,
             log10_density: torch.Tensor | None = None) -> Path:
    """Write ``sae`` (already acting on raw activations) as a SAELens folder; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        "architecture": TO_SAELENS[sae.architecture], "d_in": sae.d_in, "d_sae": sae.d_sae,
        "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": True,
        "normalize_activations": "none", "reshape_activations": "none",
        "metadata": {"sae_lens_version": SAE_LENS_VERSION, "sae_lens_training_version": SAE_LENS_VERSION,
                     "hook_name": "hidden", "model_name": "rlsae-agent", **(metadata or {})},
    }
    if sae.architecture == "topk":
        cfg["k"] = sae.k
        cfg["rescale_acts_by_decoder_norm"] = False
    weights = {name: getattr(sae, name).detach().float().cpu().contiguous()
               for name in ("W_enc", "b_enc", "W_dec", "b_dec")}
    if sae.architecture == "batchtopk":
        weights["threshold"] = sae.threshold.detach().float().cpu().expand(sae.d_sae).contiguous()
        cfg["metadata"]["rlsae_k"] = sae.k
    _atomic(folder / WEIGHTS, lambda tmp: save_file(weights, str(tmp)))
    if log10_density is not None:
        density = {"sparsity": log10_density.detach().float().cpu().contiguous()}
        _atomic(folder / SPARSITY, lambda tmp: save_file(density, str(tmp)))
    _atomic(folder / CFG, lambda tmp: tmp.write_text(json.dumps(cfg, indent=2) + "\n"))
    return folder


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def read_sae_config(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CFG
    if not path.is_file():
        raise UserError(f"no SAE at '{folder}': expected {CFG} and {WEIGHTS} there (as written by "
                        "`rlsae train-sae`)")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"'{path}' is not valid JSON ({err})") from None
    missing = [key for key in ("architecture", "d_in", "d_sae") if key not in cfg]
    if missing:
        raise UserError(f"'{path}' lacks {', '.join(missing)}: not a SAELens/rlsae SAE config")
    if cfg["architecture"] not in FROM_SAELENS:
        raise UserError(f"'{path}': architecture '{cfg['architecture']}' is not supported; rlsae reads "
                        f"{', '.join(FROM_SAELENS)}")
    return cfg


def load_sae(folder: Path, device: str = "cpu") -> SparseAutoencoder:
    """Load an SAE folder written by :func:`save_sae` (or by SAELens for these architectures)."""
    folder = Path(folder)
    cfg = read_sae_config(folder)
    architecture = FROM_SAELENS[cfg["architecture"]]
    d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
    k = cfg.get("k") if architecture == "topk" else cfg.get("metadata", {}).get("rlsae_k", 1)
    try:
        sae = SparseAutoencoder(d_in, d_sae, architecture, k)
    except ValueError as err:
        raise UserError(f"'{folder / CFG}': {err}") from None
    try:
        weights = load_file(str(folder / WEIGHTS))
    except FileNotFoundError:
        raise UserError(f"'{folder / WEIGHTS}' is missing") from None
    except (SafetensorError, OSError) as err:
        raise UserError(f"'{folder / WEIGHTS}' is not a readable safetensors file ({err})") from None
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    if architecture == "batchtopk":
        expected["threshold"] = (d_sae,)
    for name, shape in expected.items():
        if name not in weights:
            raise UserError(f"'{folder / WEIGHTS}' lacks tensor '{name}'")
        if tuple(weights[name].shape) != shape:
            raise UserError(f"'{folder / WEIGHTS}': {name} has shape {tuple(weights[name].shape)}, "
                            f"cfg.json implies {shape}")
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(sae, name).copy_(weights[name].float())
        if architecture == "batchtopk":
            # We save one shared threshold; a per-latent one from elsewhere is summarised by its median.
            sae.threshold.copy_(weights["threshold"].float().median())
    return sae.to(device).eval()


def load_log10_density(folder: Path) -> torch.Tensor | None:
    path = Path(folder) / SPARSITY
    return load_file(str(path))["sparsity"] if path.exists() else None


def sae_metadata(folder: Path) -> dict[str, Any]:
    return read_sae_config(folder).get("metadata", {})
