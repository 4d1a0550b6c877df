"""The sparsity penalty of an architecture whose L0 a coefficient sets (ReLU's L1, JumpReLU's L0): its
warm-up, and for ``--target-l0`` its adaptation while training.

A fixed coefficient gives an L0 that depends on the data, the width and the budget (ReLU's L1 0.223
gave L0 30 on one recording and 0.75 gave 11.5), so matching a target took a search of full runs. Here
the coefficient follows the training batches' L0 instead:

    c  <-  c + RATE * c_0 * (lr / peak lr) * clip(L0 / target - 1, -1, 1)

more penalty while L0 is above the target, less while below: the dual ascent of a constrained problem
("reconstruct, with L0 = target"), whose multiplier may turn negative (a reward per active latent) where
reconstruction alone fires fewer latents than the target (JumpReLU's does, its thresholds rising).
c_0 is the architecture's default coefficient, the scale of a useful step; the clip keeps a far-off
start (ReLU fires about half its latents at first) from overshooting into a dictionary whose latents
all died. The step shrinks with the learning rate, so once the decay has frozen the weights the
coefficient stops chasing an L0 they can no longer move; the coefficient the run ends with is saved.

An architecture that learns thresholds (JumpReLU) is also aimed directly: after every step, and once on a
sample of training states at the end, its thresholds shift by the one offset that makes the batch fire the
target (``SparseAutoencoder.aim_l0``), so L0 does not wait on the penalty's slow effect.
"""

from __future__ import annotations

from dataclasses import fields

import torch

from rlsae.sae.model import SparseAutoencoder

RATE = 0.05  # c_0 per step at most, at the peak learning rate


class SparsityControl:
    """Sets ``sae``'s penalty coefficient before each step (warm-up, adaptation) and keeps its value."""

    def __init__(self, sae: SparseAutoencoder, steps: int, warmup: float, target_l0: float | None):
        assert sae.sparsity_coef is not None
        self.sae, self.name = sae, sae.sparsity_coef
        self.coef = float(getattr(sae, self.name))
        self.scale = next(f.default for f in fields(sae.options_class) if f.name == self.name)
        self.warmup_steps = int(warmup * steps)
        self.target = target_l0

    def before_step(self, step: int) -> None:
        ramp = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        setattr(self.sae, self.name, self.coef * ramp)

    def after_step(self, l0: float, lr_fraction: float, pre: torch.Tensor) -> None:
        """Adapt toward the target from the batch's L0 and pre-activations (``lr_fraction``: this step's lr
        / the peak lr)."""
        assert self.target is not None
        self.coef += RATE * self.scale * lr_fraction * min(max(l0 / self.target - 1, -1.0), 1.0)
        self.sae.aim_l0(pre, self.target)

    def finish(self, x: torch.Tensor) -> None:
        """Keep the adapted coefficient; aim the thresholds once more, on ``x`` (a sample of scaled training
        inputs) rather than on one batch."""
        setattr(self.sae, self.name, self.coef)
        if self.target is not None:
            with torch.no_grad():
                self.sae.aim_l0(self.sae.pre_activations(x), self.target)
