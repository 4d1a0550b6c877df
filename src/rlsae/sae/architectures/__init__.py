"""The SAE architectures, one module each; a module defining a ``SparseAutoencoder`` subclass with a
``name`` is registered by importing it, and every module here is imported. Adding an architecture is
adding a module.

    name                  encoding (training)                       SAELens file
    topk (default)        k largest pre-activations per row          topk
    batchtopk             k x batch largest over the batch           jumprelu, one shared threshold
    matryoshka            BatchTopK + nested prefix reconstructions  jumprelu, one shared threshold
    jumprelu              per-latent thresholds, L0 penalty          jumprelu
    relu                  ReLU, L1 penalty                           standard
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from rlsae.sae.model import REGISTRY, SparseAutoencoder

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

ARCHITECTURES: tuple[str, ...] = tuple(sorted(REGISTRY, key=lambda name: (name != "topk", name)))


def build_sae(architecture: str, d_in: int, d_sae: int, **options: Any) -> SparseAutoencoder:
    """An untrained SAE; ``options`` the architecture does not take (e.g. ``k`` for relu) are ignored,
    so a caller can pass the training config's values to any architecture."""
    if architecture not in REGISTRY:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
    cls = REGISTRY[architecture]
    return cls(d_in, d_sae, **{k: v for k, v in options.items() if k in cls.options and v is not None})


def saelens_reader(saelens_name: str) -> type[SparseAutoencoder] | None:
    """Our class for a SAELens inference architecture (``topk``, ``jumprelu``, ``standard``), if any."""
    return next((cls for cls in REGISTRY.values() if cls.saelens_name == saelens_name and cls.reads_saelens),
                None)
