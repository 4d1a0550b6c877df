"""The sparse autoencoder: Top-K (default), BatchTopK, and ReLU + L1 for comparison.

    pre   = (x - b_dec) @ W_enc + b_enc                        W_enc [d_in, d_sae]
    f     = topk: ReLU(top-k of pre per row)                    (Gao et al. 2024; Makhzani & Frey 2013)
            batchtopk: the k*B largest of ReLU(pre) over the batch while training (Bussmann et al. 2024);
                       at inference ReLU(pre) where pre > threshold (a JumpReLU)
            relu: ReLU(pre), sparsity from an L1 penalty
    x_hat = f @ W_dec + b_dec                                   W_dec [d_sae, d_in], unit-norm rows

These are SAELens' conventions, so saved weights load there unchanged. Top-K codes are decoded
sparsely (k rows of W_dec per input, not all d_sae), which is most of the speed on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURES = ("topk", "batchtopk", "relu")


class _GatherPreActivations(torch.autograd.Function):
    """``pre.gather(1, indices)`` whose backward touches only the chosen latents.

    ``pre`` = xc @ W_enc + b_enc is computed without autograd; only k of its d_sae columns per row get
    a gradient, so the encoder's backward is a sparse product (B*k*d_in multiply-adds) instead of two
    dense [B, d_in] x [d_in, d_sae] ones: the difference between ~15k and ~40k samples/s on 2 cores.
    """

    @staticmethod
    def forward(ctx, xc: torch.Tensor, w_enc: torch.Tensor, b_enc: torch.Tensor, pre: torch.Tensor,
                indices: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(xc, w_enc, indices)
        return pre.gather(1, indices)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        xc, w_enc, indices = ctx.saved_tensors
        batch, k = indices.shape
        flat_idx, flat_grad = indices.reshape(-1), grad.reshape(-1)
        grad_xc = F.embedding_bag(indices, w_enc.T.contiguous(), per_sample_weights=grad, mode="sum")
        rows = torch.arange(batch, device=xc.device).repeat_interleave(k)
        sparse = torch.sparse_coo_tensor(torch.stack([flat_idx, rows]), flat_grad, (w_enc.shape[1], batch),
                                         check_invariants=False)
        grad_w = torch.sparse.mm(sparse, xc).T
        grad_b = torch.zeros(w_enc.shape[1], dtype=grad.dtype, device=grad.device).index_add_(0, flat_idx,
                                                                                              flat_grad)
        return grad_xc, grad_w, grad_b, None, None


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


class SparseAutoencoder(nn.Module):
    def __init__(self, d_in: int, d_sae: int, architecture: str = "topk", k: int | None = 32):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if architecture != "relu" and not (k and 0 < k <= d_sae):
            raise ValueError(f"k must be in [1, d_sae={d_sae}] for {architecture}, got {k}")
        self.d_in, self.d_sae, self.architecture = d_in, d_sae, architecture
        self.k = k if architecture != "relu" else None
        # Decoder rows are random unit directions and the encoder starts as their transpose, so every
        # latent begins aligned with the direction it writes (Gao et al. 2024: fewer dead latents).
        w_dec = F.normalize(torch.randn(d_sae, d_in), dim=1)
        self.W_dec = nn.Parameter(w_dec)
        self.W_enc = nn.Parameter(w_dec.T.clone().contiguous())
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))
        # BatchTopK's inference threshold: a running estimate of the smallest activation kept in training.
        self.register_buffer("threshold", torch.zeros(()))

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def code(self, x: torch.Tensor) -> SparseCode:
        """Encode ``x`` [B, d_in] into a :class:`SparseCode` (the training path)."""
        if self.architecture == "topk":
            xc = x - self.b_dec
            with torch.no_grad():
                pre = xc @ self.W_enc + self.b_enc
                indices = pre.topk(self.k, dim=1, sorted=False).indices
            return SparseCode(F.relu(self.gather_pre(xc, pre, indices)), indices, pre)
        pre = self.pre_activations(x)
        acts = F.relu(pre)
        if self.architecture == "relu":
            return SparseCode(acts, None, pre)
        if self.training:
            flat = acts.flatten()
            keep = flat.topk(self.k * x.shape[0], sorted=False)
            kept = torch.zeros_like(flat).scatter_(0, keep.indices, keep.values).view_as(acts)
            smallest = keep.values[keep.values > 0]
            if smallest.numel():
                self.threshold.lerp_(smallest.min().detach(), 0.01 if self.threshold > 0 else 1.0)
            return SparseCode(kept, None, pre)
        return SparseCode(acts * (pre > self.threshold), None, pre)

    def gather_pre(self, xc: torch.Tensor, pre: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Differentiable pre-activations of the chosen latents (``pre`` itself carries no gradient)."""
        return _GatherPreActivations.apply(xc, self.W_enc, self.b_enc, pre, indices)

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

        (x - s b_dec) W_enc + s b_enc = s * pre(x / s), and Top-K, ReLU and a scaled threshold commute
        with a positive factor, so the same latents fire, with activations in the raw units.
        """
        self.b_enc.mul_(scale)
        self.b_dec.mul_(scale)
        self.threshold.mul_(scale)
