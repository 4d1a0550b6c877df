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

import numpy as np
import torch

from rlsae.analysis.track import match_features

FOUND_COSINE = 0.9
"""A feature is found again when the other seed has a feature whose decoder cosine reaches this (issue 21)."""


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
