"""Sparse autoencoders: the architectures, their losses, the training loop, SAELens-format files and metrics.

    from rlsae.sae import build_sae, load_sae
    sae = load_sae("runs/sae")           # a SparseAutoencoder acting on raw activations
    f = sae.encode(x)                    # [B, d_sae] feature activations
    x_hat = sae.decode(f)                # [B, d_in]
    fresh = build_sae("jumprelu", d_in=512, d_sae=2048, k=32)
"""

from rlsae.sae.architectures import ARCHITECTURES, build_sae
from rlsae.sae.io import load_sae, save_sae
from rlsae.sae.model import SparseAutoencoder, SparseCode

__all__ = ["ARCHITECTURES", "SparseAutoencoder", "SparseCode", "build_sae", "load_sae", "save_sae"]
