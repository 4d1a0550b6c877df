"""Sparse autoencoders: the model, its losses, the training loop, SAELens-format files and metrics.

    from rlsae.sae import load_sae
    sae = load_sae("runs/sae")           # a SparseAutoencoder acting on raw activations
    f = sae.encode(x)                    # [B, d_sae] feature activations
    x_hat = sae.decode(f)                # [B, d_in]
"""

from rlsae.sae.io import load_sae, save_sae
from rlsae.sae.model import ARCHITECTURES, SparseAutoencoder, SparseCode

__all__ = ["ARCHITECTURES", "SparseAutoencoder", "SparseCode", "load_sae", "save_sae"]
