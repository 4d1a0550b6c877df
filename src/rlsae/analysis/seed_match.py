"""Found again: is a feature also learned by an SAE trained with another seed on the same data?

Paulo & Belrose (2025, "Sparse Autoencoders Trained on the Same Data Learn Different Features") find that
SAEs differing only in their seed share a part of their features; a feature both seeds learn is less the
luck of one run. Per feature of an SAE (A) we take its decoder direction's cosine with every feature of the
other seed's SAE (B) and report two matches, as analysis/track.py computes them (``match_features``):

- the nearest: B's feature with the largest cosine (several A features may share one). "Found again" is
  this nearest cosine reaching :data:`FOUND_COSINE`, so a feature B splits in two still counts;
- the Hungarian one-to-one assignment maximising the total cosine, stricter where B merges A's features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlsae.analysis.track import match_features
from rlsae.common.records import number
from rlsae.config import require
from rlsae.sae import SparseAutoencoder, load_sae
from rlsae.sae.io import sae_metadata

FOUND_COSINE = 0.9
"""A feature is found again when the other seed has a feature whose decoder cosine reaches this (issue 21): a
strict reading of "the same feature" for the seed comparison of Paulo & Belrose (2025, "Sparse Autoencoders
Trained on the Same Data Learn Different Features"), who match two seeds' features by decoder cosine."""


@dataclass(frozen=True)
class SeedMatch:
    """Per feature of one SAE (A), its matches in another seed's SAE (B); arrays over A's features."""

    nearest: np.ndarray
    """B's feature with the largest decoder cosine."""
    nearest_cosine: np.ndarray
    matched: np.ndarray
    """B's feature in the one-to-one (Hungarian) assignment (-1: B has fewer features than A)."""
    matched_cosine: np.ndarray
    """Cosine of the assigned pair (nan where unmatched)."""
    threshold: float = FOUND_COSINE

    @property
    def found_again(self) -> np.ndarray:
        """[d_sae] whether the nearest B feature reaches the threshold."""
        return self.nearest_cosine >= self.threshold

    @property
    def found_again_matched(self) -> np.ndarray:
        """[d_sae] whether the one-to-one partner reaches the threshold (a B feature counts for one A only)."""
        return np.nan_to_num(self.matched_cosine, nan=-1.0) >= self.threshold

    def share(self, units: np.ndarray | None = None, one_to_one: bool = False) -> float:
        """The share of features (those in the mask ``units``, e.g. the live ones) found again."""
        found = self.found_again_matched if one_to_one else self.found_again
        keep = np.ones(len(found), bool) if units is None else np.asarray(units, bool)
        return float(found[keep].mean()) if keep.any() else float("nan")


def seed_match(dec: np.ndarray | torch.Tensor, other_dec: np.ndarray | torch.Tensor,
               threshold: float = FOUND_COSINE) -> SeedMatch:
    """Each feature of the SAE with decoder ``dec`` [d_sae, d_in] matched into the other seed's ``other_dec``
    (e.g. ``load_sae(folder).W_dec`` of each) by decoder cosine."""
    m = match_features(other_dec, dec)  # track's B is the SAE whose features are matched: ours
    return SeedMatch(m.nearest, m.nearest_similarity, m.matched, m.matched_similarity, threshold)


def match_other_seed(sae: SparseAutoencoder, folder: Path, other_folder: Path) -> SeedMatch:
    """``sae`` (loaded from ``folder``) matched into the SAE at ``other_folder`` (``interpret --other-sae``),
    which must have its shape and read its layer: another seed's dictionary for the same activations."""
    require(Path(other_folder).is_dir(), f"--other-sae '{other_folder}' is not a folder: pass the SAE folder of "
            "another seed (written by `rlsae train-sae --seed N`)")
    other = load_sae(other_folder)
    require((other.d_in, other.d_sae) == (sae.d_in, sae.d_sae),
            f"--other-sae '{other_folder}' maps {other.d_in} inputs to {other.d_sae} features, the SAE at '{folder}' "
            f"{sae.d_in} to {sae.d_sae}: pass an SAE of the same shape trained with another seed")
    layers = [sae_metadata(f).get("hook_name") for f in (folder, other_folder)]
    require(layers[0] == layers[1], f"--other-sae '{other_folder}' reads layer {layers[1]!r}, the SAE at '{folder}' "
            f"reads {layers[0]!r}: pass an SAE trained on the same layer")
    return seed_match(sae.W_dec.detach().float(), other.W_dec.detach().float())


@dataclass(frozen=True)
class FoundAgain:
    """The summary of :class:`SeedMatch` over the live features (``interpret --other-sae``)."""

    other_sae: str
    """The other seed's SAE folder."""
    threshold: float = number("cosine a match needs", "a feature is found again when the other seed's SAE has a "
                              "feature at decoder cosine >= {} (Paulo & Belrose 2025)", "{:.2f}")
    n_live: int = number("live features", "{} live features were matched", "{:,}")
    n_found: int = number("live features found again", "{} live features are found again in the other seed's "
                          "SAE", "{:,}")
    found_fraction: float = number("found again", "{} of the live features are found again in the other seed's "
                                   "SAE", "{:.1%}")
    one_to_one_fraction: float = number("found again one to one", "{} of the live features are found again when "
                                        "each feature of the other SAE may match one feature only (Hungarian)",
                                        "{:.1%}")
    median_nearest_cosine: float = number("median nearest cosine", "half of the live features have a feature in the "
                                          "other seed's SAE at decoder cosine {} or more", "{:.2f}")

    @classmethod
    def of(cls, match: SeedMatch, alive: np.ndarray, other_sae: Path) -> FoundAgain:
        alive = np.asarray(alive, bool)
        return cls(str(other_sae), match.threshold, int(alive.sum()), int(match.found_again[alive].sum()),
                   match.share(alive), match.share(alive, one_to_one=True),
                   float(np.median(match.nearest_cosine[alive])) if alive.any() else float("nan"))
