"""SAEs on disk in SAELens v6's format, so ``sae_lens.SAE.load_from_disk(folder)`` loads ours and we load
SAELens' (checked against sae-lens 6.54.12 by benchmarks/sae_saelens_roundtrip.py).

    folder/
      cfg.json                  architecture, d_in, d_sae, dtype, device, the flags below, the
                                architecture's own keys (``k`` for topk) and ``metadata``
                                (sae_lens_version, hook_name, model_name; rlsae_architecture and
                                rlsae_options name our class; our provenance under "rlsae")
      sae_weights.safetensors   W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
                                (+ the architecture's own, e.g. threshold [d_sae])
      sparsity.safetensors      "sparsity": log10 feature density [d_sae] on the training data

Each architecture module says which SAELens architecture it is saved as and reads its own extras.
SAELens config flags that change the maths are folded into the weights on load where that is exact,
and refused with a one-line reason where it is not (see ``_fold_flags``). Input scaling is folded into
the weights before saving (``SparseAutoencoder.fold_scale``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rlsae.common.errors import UserError
from rlsae.common.files import atomic_path, read_json, write_json
from rlsae.sae.architectures import REGISTRY, build_sae, saelens_reader
from rlsae.sae.model import SparseAutoencoder

CFG = "cfg.json"
WEIGHTS = "sae_weights.safetensors"
SPARSITY = "sparsity.safetensors"
SAE_LENS_VERSION = "6.0.0"  # the format version we write; checked against sae-lens 6.54
BASE_SHAPES = ("W_enc", "b_enc", "W_dec", "b_dec")

# SAELens flags whose other values change the maths in ways rlsae does not reproduce.
# constant_norm_rescale and layer_norm rescale each input by its own norm and undo it on decode, so
# features depend on a per-row factor that encode() and decode() would have to share; the
# expected_average_only_in scaling factor is not stored in the folder at all.
_ONLY = {"normalize_activations": "none", "reshape_activations": "none", "finetuning_scaling_factor": False}


SHIPPED = "shipped"
SAE_HELP = "SAE folder written by `rlsae train-sae`, or 'shipped': the demo SAE of the shipped agent"


def shipped_sae() -> Path:
    """The demo SAE shipped with the default agent (2048 latents, k=32, float16 weights; no recording)."""
    return Path(str(resources.files("rlsae") / "agents" / "default" / "sae"))


def sae_folder(name: Path | str) -> Path:
    """An SAE folder from ``--sae``: a path, or the shipped demo SAE for ``shipped``."""
    return shipped_sae() if str(name) == SHIPPED else Path(name)


def save_sae(folder: Path, sae: SparseAutoencoder, metadata: dict[str, Any] | None = None,
             log10_density: torch.Tensor | None = None) -> Path:
    """Write ``sae`` (already acting on raw activations) as a SAELens folder; returns the folder."""
    folder = Path(folder)
    sae.check_finite(f"refusing to save the SAE to '{folder}'")
    folder.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        "architecture": sae.saelens_name, "d_in": sae.d_in, "d_sae": sae.d_sae,
        "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": True,
        "normalize_activations": "none", "reshape_activations": "none", **sae.saelens_cfg(),
        "metadata": {"sae_lens_version": SAE_LENS_VERSION, "sae_lens_training_version": SAE_LENS_VERSION,
                     "hook_name": "hidden", "model_name": "rlsae-agent", **(metadata or {}),
                     "rlsae_architecture": sae.name,
                     "rlsae_options": {name: getattr(sae, name) for name in sae.options}},
    }
    tensors = {**{name: getattr(sae, name) for name in BASE_SHAPES}, **sae.saelens_weights()}
    weights = {name: t.detach().float().cpu().contiguous() for name, t in tensors.items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(weights, str(tmp))
    if log10_density is not None:
        with atomic_path(folder / SPARSITY) as tmp:
            save_file({"sparsity": log10_density.detach().float().cpu().contiguous()}, str(tmp))
    write_json(folder / CFG, cfg)
    return folder


def read_sae_config(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CFG
    if not path.is_file():
        raise UserError(f"no SAE at '{folder}': expected {CFG} and {WEIGHTS} there (as written by "
                        "`rlsae train-sae`)")
    cfg = read_json(path, "SAE config")
    if not isinstance(cfg, dict):
        raise UserError(f"'{path}' holds {type(cfg).__name__}, not a SAELens/rlsae SAE config")
    missing = [key for key in ("architecture", "d_in", "d_sae") if key not in cfg]
    if missing:
        raise UserError(f"'{path}' lacks {', '.join(missing)}: not a SAELens/rlsae SAE config")
    if _class_for(cfg) is None:
        readable = sorted({cls.saelens_name for cls in REGISTRY.values() if cls.reads_saelens})
        raise UserError(f"'{path}': architecture '{cfg['architecture']}' is not supported; rlsae reads "
                        f"{', '.join(readable)}")
    return cfg


def _metadata(cfg: dict[str, Any]) -> dict[str, Any]:
    metadata = cfg.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _class_for(cfg: dict[str, Any]) -> type[SparseAutoencoder] | None:
    """Our class named in the metadata when it is saved as this SAELens architecture, else SAELens' reader."""
    ours = REGISTRY.get(str(_metadata(cfg).get("rlsae_architecture")))
    if ours is not None and ours.saelens_name == cfg["architecture"]:
        return ours
    return saelens_reader(str(cfg["architecture"]))


def architecture_name(cfg: dict[str, Any]) -> str:
    """rlsae's name for the SAE a cfg.json describes (e.g. batchtopk for a BatchTopK saved as jumprelu)."""
    cls = _class_for(cfg) if "architecture" in cfg else None
    return cls.name if cls is not None else str(cfg.get("architecture", "unknown"))


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise UserError(f"'{path}' is missing") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise UserError(f"'{path}' is not a readable safetensors file ({str(err).splitlines()[0]})") from None


@torch.no_grad()
def _fold_flags(cfg: dict[str, Any], weights: dict[str, torch.Tensor], where: Path) -> None:
    """Fold SAELens' maths-changing flags into ``weights`` exactly, or refuse the file."""
    for key, allowed in _ONLY.items():
        if key in cfg and cfg[key] not in (allowed, None):
            raise UserError(f"'{where}': {key}={cfg[key]!r} is not supported (rlsae reads only {allowed!r}); "
                            "fold it into the weights with SAELens first")
    if not cfg.get("apply_b_dec_to_input", True):
        # SAELens encodes x @ W_enc + b_enc; ours subtracts b_dec first, so absorb it into b_enc.
        weights["b_enc"] = (weights["b_enc"].double() + weights["b_dec"].double() @ weights["W_enc"].double())
    if cfg.get("rescale_acts_by_decoder_norm", False):
        if cfg["architecture"] != "topk":
            raise UserError(f"'{where}': rescale_acts_by_decoder_norm is defined for topk SAEs only")
        # SAELens ranks pre * ||W_dec_i|| and decodes f / ||W_dec_i||: the same as unit-norm decoder
        # rows with the norms moved into the encoder (SAELens' own fold_W_dec_norm).
        norms = weights["W_dec"].double().norm(dim=1)
        weights["W_enc"] = weights["W_enc"].double() * norms
        weights["b_enc"] = weights["b_enc"].double() * norms
        weights["W_dec"] = weights["W_dec"].double() / norms[:, None]


def load_sae(folder: Path, device: str = "cpu") -> SparseAutoencoder:
    """Load an SAE folder written by :func:`save_sae` or by SAELens (topk, jumprelu, standard)."""
    folder = Path(folder)
    cfg = read_sae_config(folder)
    cls = _class_for(cfg)
    assert cls is not None  # read_sae_config refuses the rest
    d_in, d_sae = cfg["d_in"], cfg["d_sae"]
    if not (isinstance(d_in, int) and isinstance(d_sae, int) and d_in >= 1 and d_sae >= 1):
        raise UserError(f"'{folder / CFG}': d_in and d_sae must be positive integers, got {d_in!r}, {d_sae!r}")
    options = _metadata(cfg).get("rlsae_options") if cls.name == _metadata(cfg).get("rlsae_architecture") else None
    try:
        sae = build_sae(cls.name, d_in, d_sae, **options) if isinstance(options, dict) \
            else cls.from_saelens(d_in, d_sae, cfg)
    except (ValueError, TypeError) as err:
        raise UserError(f"'{folder / CFG}': {err}") from None
    path = folder / WEIGHTS
    weights = _read_weights(path)
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,),
                **{name: tuple(t.shape) for name, t in sae.saelens_weights().items()}}
    for name, shape in expected.items():
        if name not in weights:
            raise UserError(f"'{path}' lacks tensor '{name}'")
        if tuple(weights[name].shape) != shape:
            raise UserError(f"'{path}': {name} has shape {tuple(weights[name].shape)}, cfg.json implies {shape}")
        if not torch.isfinite(weights[name]).all():
            raise UserError(f"'{path}': {name} holds NaN or inf values")
    _fold_flags(cfg, weights, folder / CFG)
    with torch.no_grad():
        for name in BASE_SHAPES:
            getattr(sae, name).copy_(weights[name].float())
        sae.load_extra({name: weights[name].float() for name in sae.saelens_weights()})
    return sae.to(device).eval()


def load_log10_density(folder: Path) -> torch.Tensor | None:
    path = Path(folder) / SPARSITY
    return _read_weights(path).get("sparsity") if path.exists() else None


def sae_metadata(folder: Path) -> dict[str, Any]:
    return _metadata(read_sae_config(folder))
