"""What every sparse autoencoder shares; each architecture (sae/architectures/) adds its own encoding.

    pre   = (x - b_dec) @ W_enc + b_enc          W_enc [d_in, d_sae]
    f     = the architecture's sparse function of pre (Top-K, BatchTopK, JumpReLU, ReLU, ...)
    x_hat = f @ W_dec + b_dec                    W_dec [d_sae, d_in], unit-norm rows while training

These are SAELens' conventions, so saved weights load there unchanged. An architecture subclasses
:class:`SparseAutoencoder` and owns three things: ``code`` (its encoding), ``training_losses`` (its
sparsity or auxiliary terms) and its SAELens export/import (``saelens_cfg``, ``saelens_weights``,
``from_saelens``). Subclasses register themselves by their ``name``; see sae/architectures/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rlsae.common.errors import UserError
from rlsae.config import option


@dataclass
class SparseCode:
    """A batch of feature activations: ``k`` (index, value) pairs per row, or a dense matrix."""

    values: torch.Tensor          # [B, k] for sparse codes, [B, d_sae] for dense ones
    indices: torch.Tensor | None  # [B, k] feature ids, None when ``values`` is dense
    pre: torch.Tensor             # [B, d_sae] pre-activations (AuxK picks dead latents from these)

    def dense(self, d_sae: int) -> torch.Tensor:
        if self.indices is None:
            return self.values
        return torch.zeros(self.values.shape[0], d_sae, dtype=self.values.dtype,
                           device=self.values.device).scatter_(1, self.indices, self.values)


@dataclass
class TrainingBatch:
    """What an architecture's training terms may read: the batch, its reconstruction and the trainer's
    dead-latent state. Inputs are in the trainer's scaled units; ``total_variance`` normalises errors."""

    x: torch.Tensor
    x_hat: torch.Tensor
    code: SparseCode
    dead: torch.Tensor     # [d_sae] bool: silent for the trainer's dead window
    total_variance: float  # sum of per-dimension variances of the training data
    aux_coef: float        # AuxK weight (0 disables it)
    k_aux: int             # latents AuxK may use


def cut_above(values: torch.Tensor, m: int) -> torch.Tensor:
    """A value that exactly ``m`` of ``values`` (1-d) exceed: midway between the m-th and (m+1)-th largest."""
    if m >= values.numel():
        return values.min() - 1
    top = values.topk(m + 1).values
    return (top[m - 1] + top[m]) / 2 if m else top[0] + 1


REGISTRY: dict[str, type[SparseAutoencoder]] = {}
DEFAULT_K = 32


def k_option() -> Any:
    """``--k``, shared by the architectures that take one (each block declares its own field)."""
    return option(DEFAULT_K, "active latents per state (exact for topk, on average for batchtopk and matryoshka, "
                             "at initialisation for jumprelu)", low=1, shared=True)


def penalty_warmup_option() -> Any:
    """The sparsity penalty's warm-up, for the architectures whose L0 a penalty sets (each block declares it)."""
    return option(0.0, "fraction of the steps over which the sparsity penalty ramps up linearly from 0", low=0,
                  high=1)


@dataclass
class ArchitectureOptions:
    """An architecture's own `train-sae` options (one dataclass per architecture, nested in
    ``TrainSAEConfig.options``), set by ``--arch-option KEY=VALUE``; a field marked ``shared`` (``k``) is
    also a flag of its own name."""

    # Options added after SAEs were saved without them, with the value their absence meant (a saved run
    # compares as trained with it), where that differs from the default.
    before: ClassVar[dict[str, Any]] = {}

    def sae_kwargs(self) -> dict[str, Any]:
        """The keywords of the architecture's constructor among these options."""
        return {}


class SparseAutoencoder(nn.Module):
    """The shared weights and maths. Build one with :func:`rlsae.sae.build_sae` (or a subclass directly)."""

    name: ClassVar[str]                 # rlsae's name (``--architecture``)
    saelens_name: ClassVar[str]         # the inference architecture SAELens loads it as
    options: ClassVar[tuple[str, ...]] = ()  # constructor keywords beyond d_in and d_sae
    options_class: ClassVar[type[ArchitectureOptions]]  # its block of `train-sae` options
    reads_saelens: ClassVar[bool] = False  # loads files SAELens wrote as ``saelens_name``
    # The option whose value sets L0 where no k does (a penalty coefficient; L0 falls as it grows): the
    # trainer warms it up and, for --target-l0, adapts it; None where k sets L0.
    sparsity_coef: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            known = REGISTRY.get(cls.name)
            # the same class defined again (a module reloaded) replaces itself; another class may not take its name
            if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
                raise ValueError(f"SAE architecture name '{cls.name}' of {cls.__module__}.{cls.__qualname__} is "
                                 f"already taken by {known.__module__}.{known.__qualname__}: choose another name")
            REGISTRY[cls.name] = cls

    def __init__(self, d_in: int, d_sae: int, k: int | None = None):
        super().__init__()
        if not (d_in >= 1 and d_sae >= 1):
            raise ValueError(f"d_in and d_sae must be >= 1, got {d_in} and {d_sae}")
        if k is not None and not 0 < k <= d_sae:
            raise ValueError(f"k must be in [1, d_sae={d_sae}] for {self.name}, got {k}")
        self.d_in, self.d_sae = d_in, d_sae
        # Active latents per input: exact (topk), on average (batchtopk), at initialisation (jumprelu);
        # None where no count is set (relu).
        self.k = None if k is None else int(k)
        # Decoder rows are random unit directions and the encoder starts as their transpose, so every
        # latent begins aligned with the direction it writes (Gao et al. 2024: fewer dead latents).
        w_dec = F.normalize(torch.randn(d_sae, d_in), dim=1)
        self.W_dec = nn.Parameter(w_dec)
        self.W_enc = nn.Parameter(w_dec.T.clone().contiguous())
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    @property
    def architecture(self) -> str:
        return self.name

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    # ---- what an architecture defines ----

    def code(self, x: torch.Tensor) -> SparseCode:
        """Encode ``x`` [B, d_in] into a :class:`SparseCode` (the training path, with gradients)."""
        raise NotImplementedError

    def training_losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        """The architecture's weighted loss terms beside the reconstruction (sparsity, AuxK, ...)."""
        return {}

    def init_from_data(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation, after b_dec is set (``x``: a sample of scaled inputs)."""

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Adam's parameter groups; an ``lr_scale`` entry multiplies the schedule's learning rate."""
        return [{"params": list(self.parameters())}]

    def finish_training(self, x: torch.Tensor) -> None:
        """Settle what inference needs once training ends, before the scale is folded (``x``: a sample of
        scaled training inputs)."""

    def aim_l0(self, pre: torch.Tensor, target: float) -> None:
        """Move the architecture's own thresholds, where it has some, so that the pre-activations ``pre``
        [B, d_sae] fire ``target`` latents per row on average (``--target-l0`` aims JumpReLU's while
        training; BatchTopK's ``calibrate`` aims its own at k); the others are left to their penalty or k."""

    def saelens_cfg(self) -> dict[str, Any]:
        """cfg.json keys beyond the shared ones (e.g. ``k``)."""
        return {}

    def saelens_weights(self) -> dict[str, torch.Tensor]:
        """Tensors beyond W_enc, b_enc, W_dec, b_dec (e.g. ``threshold``)."""
        return {}

    @classmethod
    def from_saelens(cls, d_in: int, d_sae: int, cfg: dict[str, Any]) -> SparseAutoencoder:
        """An instance shaped by a cfg.json that SAELens wrote (weights are loaded after)."""
        return cls(d_in, d_sae)

    @torch.no_grad()
    def load_extra(self, weights: dict[str, torch.Tensor]) -> None:
        """Take the tensors :meth:`saelens_weights` names from a file (shapes already checked)."""

    # ---- shared ----

    def decode_code(self, code: SparseCode) -> torch.Tensor:
        if code.indices is None:
            return code.values @ self.W_dec + self.b_dec
        return self.decode_sparse(code.indices, code.values) + self.b_dec

    def decode_sparse(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """sum_j values[:, j] * W_dec[indices[:, j]]: k rows per input instead of a dense product."""
        return F.embedding_bag(indices, self.W_dec, per_sample_weights=values, mode="sum")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, SparseCode]:
        code = self.code(x)
        return self.decode_code(code), code

    # The public API every later stage uses: dense features in, dense features out.

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations [B, d_sae] (dense) of inputs ``x`` [B, d_in]."""
        return self.code(x).dense(self.d_sae)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return f @ self.W_dec + self.b_dec

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_code(self.code(x))

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.data = F.normalize(self.W_dec.data, dim=1)

    @torch.no_grad()
    def remove_parallel_gradient(self) -> None:
        """Project out the part of W_dec's gradient that would only change its rows' norms."""
        if self.W_dec.grad is not None:
            w = self.W_dec.data
            self.W_dec.grad -= (self.W_dec.grad * w).sum(1, keepdim=True) * w

    @torch.no_grad()
    def fold_scale(self, scale: float) -> None:
        """Make an SAE trained on ``x / scale`` act on raw ``x`` with the same features (times ``scale``).

        (x - s b_dec) W_enc + s b_enc = s * pre(x / s), and Top-K, ReLU and scaled thresholds commute
        with a positive factor, so the same latents fire, with activations in the raw units.
        """
        self.b_enc.mul_(scale)
        self.b_dec.mul_(scale)

    def check_finite(self, where: str) -> None:
        """A UserError naming the first parameter or buffer holding NaN or inf."""
        for name, tensor in [*self.named_parameters(), *self.named_buffers()]:
            if not torch.isfinite(tensor).all():
                raise UserError(f"{where}: the SAE's {name} holds NaN or inf values")
