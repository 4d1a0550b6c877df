"""The SAE architectures: sparse paths equal their dense definitions, each architecture's own terms
behave as its paper says, and scale folding keeps the features."""

import pytest
import torch

from rlsae.sae import ARCHITECTURES, build_sae
from rlsae.sae.architectures.jumprelu import JumpReLU
from rlsae.sae.architectures.matryoshka import Matryoshka, default_widths
from rlsae.sae.model import REGISTRY, SparseAutoencoder, TrainingBatch


def _batch(sae: SparseAutoencoder, x: torch.Tensor, **overrides: object) -> TrainingBatch:
    x_hat, code = sae(x)
    base = dict(x=x, x_hat=x_hat, code=code, dead=torch.zeros(sae.d_sae, dtype=torch.bool),
                total_variance=float(x.var(0).sum()), aux_coef=0.0, k_aux=4)
    return TrainingBatch(**{**base, **overrides})


def _dense_topk_reference(sae: SparseAutoencoder, x: torch.Tensor) -> torch.Tensor:
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    values, indices = pre.topk(sae.k, dim=1)
    f = torch.zeros_like(pre).scatter(1, indices, torch.relu(values))
    return f @ sae.W_dec + sae.b_dec


def test_every_module_registers_its_architecture() -> None:
    assert set(ARCHITECTURES) == {"topk", "batchtopk", "jumprelu", "relu", "matryoshka"}
    assert ARCHITECTURES[0] == "topk"  # the default comes first in --help
    assert all(REGISTRY[name].name == name for name in ARCHITECTURES)


def test_a_second_architecture_of_the_same_name_is_refused() -> None:
    with pytest.raises(ValueError, match="name 'topk' of .*Impostor is already taken by .*TopK"):
        class Impostor(SparseAutoencoder):
            name = "topk"
    assert REGISTRY["topk"].__name__ == "TopK"


def test_sparse_top_k_matches_the_dense_definition_in_value_and_gradient() -> None:
    sae = build_sae("topk", 24, 96, k=5)
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


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_encode_decode_and_l0(architecture: str) -> None:
    sae = build_sae(architecture, 16, 64, k=4)
    x = torch.randn(32, 16)
    sae.train()
    x_hat, code = sae(x)
    f = code.dense(64)
    torch.testing.assert_close(x_hat, sae.decode(f))
    assert (f >= 0).all()
    if architecture == "topk":
        assert ((f > 0).sum(1) <= 4).all()
    if architecture in ("batchtopk", "matryoshka"):
        assert (f > 0).sum() <= 4 * 32 and sae.threshold > 0  # k per row on average, threshold learnt


def test_jumprelu_fires_above_its_own_thresholds_and_learns_them_through_the_estimators() -> None:
    sae = JumpReLU(4, 3, k=1, l0_coef=1.0, bandwidth=0.5)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(4)[:, :3])
        sae.b_enc.zero_()
        sae.b_dec.zero_()
        sae.threshold.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = torch.tensor([[0.6, 0.9, 2.1, 0.0], [0.4, 1.1, 1.9, 0.0]])
    torch.testing.assert_close(sae.encode(x), torch.tensor([[0.6, 0.0, 2.1], [0.0, 1.1, 0.0]]))
    # L0 term: d/dtheta of sum H(pre - theta) is -(1/eps) per pre within eps/2 of theta, here all six.
    sae.zero_grad()
    sae.training_losses(_batch(sae, x))["l0_loss"].backward()
    torch.testing.assert_close(sae.threshold.grad, torch.full((3,), -2 / 0.5 / 2))
    # Reconstruction term through f = pre * H(pre - theta): -(theta/eps) K(.) * upstream gradient.
    sae.zero_grad()
    sae.encode(x).sum().backward()
    torch.testing.assert_close(sae.threshold.grad, -torch.tensor([0.5, 1.0, 2.0]) / 0.5 * 2)


def test_jumprelu_starts_near_its_target_l0() -> None:
    sae = JumpReLU(16, 1024, k=8)
    x = torch.randn(17_000, 16)  # 17.4M pre-activations: more than torch.quantile takes
    sae.init_from_data(x)
    assert 7 < (sae.encode(x) > 0).sum(1).float().mean() < 9


def test_matryoshka_prefixes_must_reconstruct_on_their_own() -> None:
    assert default_widths(2048) == (128, 256, 512, 1024, 2048)
    sae = Matryoshka(8, 32, k=4, widths=(4, 16))
    assert sae.widths == (4, 16, 32)
    sae.train()
    x = torch.randn(64, 8)
    sae.zero_grad()
    sae.training_losses(_batch(sae, x))["matryoshka_loss"].backward()
    # Prefix losses reach only the decoder rows of the first 16 latents.
    assert sae.W_dec.grad[:16].abs().sum() > 0 and sae.W_dec.grad[16:].abs().sum() == 0
    with pytest.raises(ValueError, match="widths must increase"):
        Matryoshka(8, 32, k=4, widths=(16, 8))


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "matryoshka"])
def test_auxk_belongs_to_the_top_k_family(architecture: str) -> None:
    sae = build_sae(architecture, 8, 32, k=2)
    sae.train()
    x = torch.randn(64, 8)
    dead = torch.arange(32) < 16
    assert "aux_loss" in sae.training_losses(_batch(sae, x, dead=dead, aux_coef=1 / 32))
    assert "aux_loss" not in sae.training_losses(_batch(sae, x, dead=dead, aux_coef=0.0))


def test_relu_l1_term_is_the_scaled_l1_of_the_code() -> None:
    sae = build_sae("relu", 8, 32, l1_coef=2.0)
    x = torch.randn(64, 8)
    batch = _batch(sae, x, total_variance=4.0)
    torch.testing.assert_close(sae.training_losses(batch)["l1_loss"], 2.0 * batch.code.values.sum(1).mean() / 2.0)


def test_decoder_stays_unit_norm_and_loses_its_radial_gradient() -> None:
    sae = build_sae("topk", 8, 32, k=2)
    sae(torch.randn(10, 8))[0].sum().backward()
    sae.remove_parallel_gradient()
    radial = (sae.W_dec.grad * sae.W_dec).sum(1)
    assert radial.abs().max() < 1e-5
    with torch.no_grad():
        sae.W_dec.mul_(3)
    sae.normalize_decoder()
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(32))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_folding_the_input_scale_keeps_features_and_reconstructions(architecture: str) -> None:
    sae = build_sae(architecture, 16, 48, k=3)
    sae.init_from_data(torch.randn(256, 16))
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
        build_sae("gated", 8, 16)
    with pytest.raises(ValueError, match="k must be"):
        build_sae("topk", 8, 16, k=17)
