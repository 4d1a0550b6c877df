"""Feature interventions as layer hooks: clamp, ablate or add one SAE feature.

All three edit the layer *through* the SAE's decoder direction and leave the SAE's reconstruction error
in place, so the only change to the agent is the chosen feature:
    clamp:  h' = h + (target - f_i(h)) * W_dec[i]      (Golden Gate: target = strength * max activation)
    ablate: h' = h - f_i(h) * W_dec[i]
    add:    h' = h + strength * W_dec[i]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlsae.common.hooks import HookFn
from rlsae.config import require

MODES = ("clamp", "ablate", "add")


def steering_hook(sae: nn.Module, feature: int, mode: str, value: float = 0.0) -> HookFn:
    """Hook editing one feature; ``value`` is the clamp target or the amount added."""
    require(mode in MODES, f"steering mode must be one of {', '.join(MODES)}, got '{mode}'")
    require(0 <= feature < sae.W_dec.shape[0], f"feature {feature} out of range [0, {sae.W_dec.shape[0]})")
    direction = sae.W_dec[feature].detach()

    def edit(act: torch.Tensor) -> torch.Tensor:
        if mode == "add":
            return act + value * direction
        current = sae.encode(act)[:, feature : feature + 1]
        target = torch.full_like(current, value) if mode == "clamp" else torch.zeros_like(current)
        return act + (target - current) * direction
    return edit


def action_distribution(actions: np.ndarray, n_actions: int) -> np.ndarray:
    return np.bincount(actions, minlength=n_actions) / max(1, len(actions))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(p - q).sum())
