"""JumpReLU (Rajamanoharan et al. 2024, "Jumping Ahead"): a latent fires with its pre-activation when
that exceeds its own learnt threshold theta_i:

    f_i = pre_i * H(pre_i - theta_i)             loss = FVU + l0_coef * E[ sum_i H(pre_i - theta_i) ]

H has no useful derivative, so theta learns through the paper's straight-through estimators: with a
rectangle kernel K of width ``bandwidth``, d f_i / d theta_i = -(theta_i / eps) K((pre_i - theta_i) / eps)
and d H / d theta_i = -(1 / eps) K(...). Gradients to the pre-activations are the plain masked ones.
Thresholds start at each latent's (1 - k / d_sae) quantile on the data, so training starts at L0 ~ k
like the Top-K SAEs it is compared with, and the L0 penalty moves it from there; ``threshold_init``
starts them all at one value instead (the paper's 0.001). Adam moves a threshold by about the learning
rate per step, so in a short run they stay near where they started: ``threshold_lr`` scales their
learning rate alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from rlsae.config import option
from rlsae.sae.model import (
    ArchitectureOptions,
    SparseAutoencoder,
    SparseCode,
    TrainingBatch,
    cut_above,
    k_option,
    penalty_warmup_option,
)


def _window(pre: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """K((pre - theta) / eps) / eps: the rectangle kernel the estimators share."""
    return ((pre - threshold).abs() < bandwidth / 2).to(pre) / bandwidth


def _fires(pre: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    # SAELens encodes ReLU(pre) * H(pre - theta); a threshold below 0 (possible in a loaded file) then
    # acts as 0. Training keeps theta > 0, where this is the paper's H(pre - theta).
    return pre > threshold.clamp_min(0)


class _Jump(torch.autograd.Function):
    """pre * H(pre - theta); theta's gradient from the rectangle estimator."""

    @staticmethod
    def forward(ctx, pre: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return pre * _fires(pre, threshold)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        pre, threshold = ctx.saved_tensors
        grad_threshold = -(threshold * _window(pre, threshold, ctx.bandwidth) * grad).sum(0)
        return grad * _fires(pre, threshold), grad_threshold, None


class _Step(torch.autograd.Function):
    """H(pre - theta), counted by the L0 penalty; only theta gets a gradient."""

    @staticmethod
    def forward(ctx, pre: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        pre, threshold = ctx.saved_tensors
        return None, -(_window(pre, threshold, ctx.bandwidth) * grad).sum(0), None


@dataclass
class JumpReLUOptions(ArchitectureOptions):
    """JumpReLU's options: where its thresholds start and how fast they learn, the estimators' bandwidth,
    and the L0 penalty (--target-l0 adapts it while training)."""

    k: int = k_option()
    l0_coef: float = option(1e-3, "L0 penalty per active latent, in FVU units (the starting value under "
                            "--target-l0)", low=0)
    penalty_warmup: float = penalty_warmup_option()
    bandwidth: float = option(0.05, "width of the straight-through estimators' rectangle kernel, in units of "
                              "the inputs' per-dimension std", gt=0)
    threshold_init: float | None = option(None, "every threshold's starting value, in the same units (default: "
                                          "each latent's (1 - k / d_sae) quantile on the data, so L0 starts at k)",
                                          gt=0)
    threshold_lr: float = option(10.0, "the thresholds' learning rate as a multiple of the others'", gt=0)

    before: ClassVar[dict[str, Any]] = {"threshold_lr": 1.0}

    def sae_kwargs(self) -> dict[str, Any]:
        return {"k": self.k, "l0_coef": self.l0_coef, "bandwidth": self.bandwidth,
                "threshold_init": self.threshold_init, "threshold_lr": self.threshold_lr}


class JumpReLU(SparseAutoencoder):
    name = "jumprelu"
    saelens_name = "jumprelu"
    reads_saelens = True
    options = ("k", "l0_coef", "bandwidth", "threshold_init", "threshold_lr")
    options_class = JumpReLUOptions
    sparsity_coef = "l0_coef"

    def __init__(self, d_in: int, d_sae: int, k: int = 32, l0_coef: float = 1e-3, bandwidth: float = 0.05,
                 threshold_init: float | None = None, threshold_lr: float = 10.0):
        super().__init__(d_in, d_sae, k)
        self.l0_coef, self.bandwidth = float(l0_coef), float(bandwidth)
        self.threshold_init = None if threshold_init is None else float(threshold_init)
        self.threshold_lr = float(threshold_lr)
        self.threshold = nn.Parameter(torch.zeros(d_sae))

    def code(self, x: torch.Tensor) -> SparseCode:
        pre = self.pre_activations(x)
        return SparseCode(_Jump.apply(pre, self.threshold, self.bandwidth), None, pre)

    def training_losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        l0 = _Step.apply(batch.code.pre, self.threshold, self.bandwidth).sum(1).mean()
        return {"l0_loss": self.l0_coef * l0}

    def parameter_groups(self) -> list[dict[str, Any]]:
        rest = [p for name, p in self.named_parameters() if name != "threshold"]
        return [{"params": rest}, {"params": [self.threshold], "lr_scale": self.threshold_lr}]

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        if self.threshold_init is not None:
            self.threshold.fill_(self.threshold_init)
            return
        pre = self.pre_activations(x)
        # The (1 - k/d_sae) quantile per latent, by rank: torch.quantile refuses more than 2^24 values.
        rank = min(len(x), max(1, round(len(x) * (1 - self.k / self.d_sae))))
        self.threshold.copy_(pre.T.contiguous().kthvalue(rank, dim=1).values.clamp_min(self.bandwidth))

    @torch.no_grad()
    def aim_l0(self, pre: torch.Tensor, target: float) -> None:
        # One offset o for every threshold, found exactly: pre fires after the shift iff pre > 0 and
        # pre - theta > o. Acting on the thresholds themselves, every step, holds L0 where an L0 penalty
        # could not: Adam moves thresholds at a near-constant speed whatever the penalty, so a coefficient
        # adapted by L0's error swings around the target with a period close to a run's length.
        margin = torch.where(pre > 0, pre - self.threshold, -torch.inf).flatten()
        self.threshold.add_(cut_above(margin, round(target * len(pre)))).clamp_min_(0)

    @torch.no_grad()
    def fold_scale(self, scale: float) -> None:
        super().fold_scale(scale)
        self.threshold.mul_(scale)

    def saelens_weights(self) -> dict[str, torch.Tensor]:
        return {"threshold": self.threshold}

    @torch.no_grad()
    def load_extra(self, weights: dict[str, torch.Tensor]) -> None:
        self.threshold.copy_(weights["threshold"])
