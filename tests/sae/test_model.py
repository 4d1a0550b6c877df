"""The SAE model: sparse paths equal their dense definitions, and scale folding keeps the features."""

import pytest
import torch

from rlsae.sae.model import SparseAutoencoder


def _dense_topk_reference(sae: SparseAutoencoder, x: torch.Tensor) -> torch.Tensor:
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    values, indices = pre.topk(sae.k, dim=1)
    f = torch.zeros_like(pre).scatter(1, indices, torch.relu(values))
    return f @ sae.W_dec + sae.b_dec


def test_sparse_top_k_matches_the_dense_definition_in_value_and_gradient() -> None:
    sae = SparseAutoencoder(24, 96, "topk", k=5)
    with torch.no_grad():
        sae.b_enc.normal_()
        sae.b_dec.normal_()
    x = torch.randn(64, 24)
    grads = []
    for forward in (lambda: sae(x)[0], lambda: _dense_topk_reference(sae, x)):
        sae.zero_grad()
        out = forward()
        (out - x).pow(2).sum().backward()
        grads.append((out.detach(), {n: p.grad.clone() for n, p in sae.named_parameters()}))
    (out_sparse, g_sparse), (out_dense, g_dense) = grads
    torch.testing.assert_close(out_sparse, out_dense, atol=1e-4, rtol=1e-4)
    for name in g_dense:
        torch.testing.assert_close(g_sparse[name], g_dense[name], atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "relu"])
def test_encode_decode_and_l0(architecture: str) -> None:
    sae = SparseAutoencoder(16, 64, architecture, k=4)
    x = torch.randn(32, 16)
    sae.train()
    x_hat, code = sae(x)
    f = code.dense(64)
    torch.testing.assert_close(x_hat, sae.decode(f))
    if architecture == "topk":
        assert ((f > 0).sum(1) <= 4).all()
    if architecture == "batchtopk":
        assert (f > 0).sum() <= 4 * 32 and sae.threshold > 0  # k per row on average, threshold learnt


def test_decoder_stays_unit_norm_and_loses_its_radial_gradient() -> None:
    sae = SparseAutoencoder(8, 32, "topk", k=2)
    sae(torch.randn(10, 8))[0].sum().backward()
    sae.remove_parallel_gradient()
    radial = (sae.W_dec.grad * sae.W_dec).sum(1)
    assert radial.abs().max() < 1e-5
    with torch.no_grad():
        sae.W_dec.mul_(3)
    sae.normalize_decoder()
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(32))


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "relu"])
def test_folding_the_input_scale_keeps_features_and_reconstructions(architecture: str) -> None:
    sae = SparseAutoencoder(16, 48, architecture, k=3)
    sae.train()
    sae(torch.randn(256, 16))  # sets BatchTopK's threshold
    sae.eval()
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.1)
        sae.b_dec.normal_()
    x, scale = torch.randn(20, 16) * 7.0, 7.0
    f_scaled, x_hat_scaled = sae.encode(x / scale), sae.reconstruct(x / scale)
    sae.fold_scale(scale)
    torch.testing.assert_close(sae.encode(x), f_scaled * scale, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(sae.reconstruct(x), x_hat_scaled * scale, atol=1e-4, rtol=1e-4)


def test_bad_architecture_or_k() -> None:
    with pytest.raises(ValueError, match="architecture"):
        SparseAutoencoder(8, 16, "gated")
    with pytest.raises(ValueError, match="k must be"):
        SparseAutoencoder(8, 16, "topk", k=17)
