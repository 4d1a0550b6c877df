"""SAELens v6 files: the layout SAELens reads, round trips of every architecture, SAELens' maths flags
folded exactly or refused, and one-line errors for broken folders."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from rlsae.common.errors import UserError
from rlsae.sae import ARCHITECTURES, build_sae
from rlsae.sae.io import CFG, SPARSITY, WEIGHTS, architecture_name, load_log10_density, load_sae, save_sae

SAELENS_NAME = {"topk": "topk", "batchtopk": "jumprelu", "matryoshka": "jumprelu", "jumprelu": "jumprelu",
                "relu": "standard"}


def _trained_looking(architecture: str, d_in: int = 16, d_sae: int = 64) -> torch.nn.Module:
    sae = build_sae(architecture, d_in, d_sae, k=4, widths=(8, 32))
    x = torch.randn(256, d_in)
    sae.init_from_data(x)
    sae.train()
    sae(x)  # BatchTopK's threshold
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.1)
        sae.b_dec.normal_(0, 0.1)
    return sae.eval()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_round_trip_in_saelens_layout(tmp_path: Path, architecture: str) -> None:
    sae = _trained_looking(architecture)
    save_sae(tmp_path, sae, {"hook_name": "hidden"}, torch.full((64,), -2.0))
    cfg = json.loads((tmp_path / CFG).read_text())
    assert cfg["architecture"] == SAELENS_NAME[architecture] and cfg["d_in"] == 16 and cfg["d_sae"] == 64
    assert cfg["apply_b_dec_to_input"] is True and cfg["normalize_activations"] == "none"
    assert cfg["metadata"]["sae_lens_version"].startswith("6") and cfg["metadata"]["hook_name"] == "hidden"
    assert (cfg.get("k") == 4) == (architecture == "topk") and architecture_name(cfg) == architecture
    weights = load_file(str(tmp_path / WEIGHTS))
    shapes = {k: tuple(v.shape) for k, v in weights.items()}
    assert shapes["W_enc"] == (16, 64) and shapes["W_dec"] == (64, 16)
    assert shapes["b_enc"] == (64,) and shapes["b_dec"] == (16,)
    assert ("threshold" in shapes) == (SAELENS_NAME[architecture] == "jumprelu")
    loaded = load_sae(tmp_path)
    assert type(loaded) is type(sae) and loaded.k == sae.k
    x = torch.randn(32, 16)
    torch.testing.assert_close(loaded.encode(x), sae.encode(x))
    torch.testing.assert_close(loaded.reconstruct(x), sae.reconstruct(x))
    torch.testing.assert_close(load_log10_density(tmp_path), torch.full((64,), -2.0))
    assert (tmp_path / SPARSITY).exists()
    if architecture == "matryoshka":
        assert loaded.widths == (8, 32, 64)


def _write(folder: Path, cfg: dict, weights: dict[str, torch.Tensor]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CFG).write_text(json.dumps({"d_in": 8, "d_sae": 32, **cfg}))
    save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / WEIGHTS))
    return folder


def _saelens_weights(d_in: int = 8, d_sae: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"W_enc": torch.randn(d_in, d_sae, generator=g), "b_enc": torch.randn(d_sae, generator=g),
            "W_dec": torch.randn(d_sae, d_in, generator=g) * 2, "b_dec": torch.randn(d_in, generator=g)}


def _saelens_topk_encode(w: dict[str, torch.Tensor], x: torch.Tensor, k: int, apply_b_dec: bool,
                         rescale: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """SAELens' TopKSAE.encode/decode written out from its documented maths (independent of our folding)."""
    pre = (x - w["b_dec"] * apply_b_dec) @ w["W_enc"] + w["b_enc"]
    norms = w["W_dec"].norm(dim=1)
    if rescale:
        pre = pre * norms
    values, indices = pre.topk(k, dim=1)
    f = torch.zeros_like(pre).scatter(1, indices, values.relu())
    x_hat = (f / norms if rescale else f) @ w["W_dec"] + w["b_dec"]
    return f, x_hat


@pytest.mark.parametrize("apply_b_dec,rescale", [(False, False), (True, True), (False, True)])
def test_saelens_topk_flags_are_folded_exactly(tmp_path: Path, apply_b_dec: bool, rescale: bool) -> None:
    w = _saelens_weights()
    folder = _write(tmp_path, {"architecture": "topk", "k": 3, "apply_b_dec_to_input": apply_b_dec,
                               "rescale_acts_by_decoder_norm": rescale}, w)
    sae = load_sae(folder)
    x = torch.randn(50, 8)
    f, x_hat = _saelens_topk_encode(w, x, 3, apply_b_dec, rescale)
    torch.testing.assert_close(sae.encode(x), f, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae.reconstruct(x), x_hat, atol=1e-5, rtol=1e-5)


def test_a_saelens_jumprelu_keeps_its_per_latent_thresholds(tmp_path: Path) -> None:
    w = {**_saelens_weights(), "threshold": torch.linspace(-0.5, 2.0, 32)}
    sae = load_sae(_write(tmp_path, {"architecture": "jumprelu"}, w))
    assert sae.architecture == "jumprelu"
    x = torch.randn(50, 8)
    pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    torch.testing.assert_close(sae.encode(x), pre.relu() * (pre > w["threshold"]))
    (tmp_path / CFG).write_text(json.dumps({"d_in": 8, "d_sae": 32, "architecture": "jumprelu",
                                            "metadata": {"rlsae_architecture": "batchtopk",
                                                         "rlsae_options": {"k": 4}}}))
    with pytest.raises(UserError, match="one threshold, this file holds several"):
        load_sae(tmp_path)


@pytest.mark.parametrize("flags,message", [
    ({"normalize_activations": "layer_norm"}, "normalize_activations='layer_norm' is not supported"),
    ({"normalize_activations": "constant_norm_rescale"}, "normalize_activations="),
    ({"normalize_activations": "expected_average_only_in"}, "normalize_activations="),
    ({"reshape_activations": "hook_z"}, "reshape_activations='hook_z' is not supported"),
    ({"architecture": "standard", "rescale_acts_by_decoder_norm": True}, "for topk SAEs only"),
    ({"architecture": "gated"}, "architecture 'gated' is not supported"),
])
def test_flags_rlsae_cannot_reproduce_are_refused(tmp_path: Path, flags: dict, message: str) -> None:
    _write(tmp_path, {"architecture": "topk", "k": 3, **flags}, _saelens_weights())
    with pytest.raises(UserError, match=message):
        load_sae(tmp_path)


def test_non_finite_models_are_neither_saved_nor_loaded(tmp_path: Path) -> None:
    sae = build_sae("topk", 8, 32, k=2)
    with torch.no_grad():
        sae.W_enc[0, 0] = float("nan")
    with pytest.raises(UserError, match="refusing to save .* W_enc holds NaN"):
        save_sae(tmp_path / "nan", sae)
    assert not (tmp_path / "nan" / CFG).exists()
    w = _saelens_weights()
    w["b_dec"][3] = float("inf")
    with pytest.raises(UserError, match="b_dec holds NaN or inf"):
        load_sae(_write(tmp_path / "inf", {"architecture": "topk", "k": 2}, w))


def test_malformed_folders_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no SAE at"):
        load_sae(tmp_path / "missing")
    save_sae(tmp_path, build_sae("topk", 8, 32, k=2))
    good = (tmp_path / WEIGHTS).read_bytes()
    (tmp_path / WEIGHTS).write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_sae(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"")
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_sae(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(good)
    (tmp_path / CFG).write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_sae(tmp_path)
    (tmp_path / CFG).write_text("[1, 2]")
    with pytest.raises(UserError, match="not a SAELens/rlsae SAE config"):
        load_sae(tmp_path)
    (tmp_path / CFG).write_text(json.dumps({"architecture": "topk", "d_in": 8, "d_sae": 16, "k": 2}))
    with pytest.raises(UserError, match="W_enc has shape"):
        load_sae(tmp_path)
    (tmp_path / CFG).write_text(json.dumps({"architecture": "topk", "d_in": 8, "d_sae": 32, "k": 0}))
    with pytest.raises(UserError, match="k must be"):
        load_sae(tmp_path)
    weights = load_file(str(tmp_path / WEIGHTS))
    del weights["b_dec"]
    save_file(weights, str(tmp_path / WEIGHTS))
    (tmp_path / CFG).write_text(json.dumps({"architecture": "topk", "d_in": 8, "d_sae": 32, "k": 2}))
    with pytest.raises(UserError, match="lacks tensor 'b_dec'"):
        load_sae(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_sae(tmp_path)
