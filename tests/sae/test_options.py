"""Each SAE architecture's options form its own block (``TrainSAEConfig.options``), set on the command line
by ``--arch-option KEY=VALUE`` and parsed and checked by the chosen architecture's block; ``--k`` (shared by
the blocks that have it) and ``--target-l0`` are flags. Saved SAEs record their options, and folders written
before an option existed (or with the options flat on the config) still load and compare."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from rlsae.common.errors import UserError
from rlsae.config import add_options, from_args, from_flags
from rlsae.sae import load_sae
from rlsae.sae.architectures.batchtopk import BatchTopK, BatchTopKOptions
from rlsae.sae.architectures.jumprelu import JumpReLUOptions
from rlsae.sae.architectures.matryoshka import MatryoshkaOptions
from rlsae.sae.architectures.relu import ReLUOptions
from rlsae.sae.architectures.topk import TopKOptions
from rlsae.sae.io import CFG
from rlsae.sae.train import TrainSAEConfig, train_sae


def _parse(*argv: str) -> TrainSAEConfig:
    parser = argparse.ArgumentParser()
    add_options(parser, TrainSAEConfig)
    return from_args(TrainSAEConfig, parser.parse_args(list(argv)))


@pytest.mark.parametrize(("argv", "expected"), [
    ((), TopKOptions()),
    (("--k", "8", "--arch-option", "aux_coef=0", "--arch-option", "k_aux=16"),
     TopKOptions(k=8, aux_coef=0.0, k_aux=16)),
    (("--architecture", "batchtopk", "--k", "4", "--arch-option", "threshold_estimate=calibrate"),
     BatchTopKOptions(k=4, threshold_estimate="calibrate")),
    (("--architecture", "matryoshka", "--arch-option", "matryoshka_widths=4,8"),
     MatryoshkaOptions(matryoshka_widths=(4, 8))),
    (("--architecture", "jumprelu", "--k", "4", "--arch-option", "l0_coef=0.01", "--arch-option",
      "bandwidth=0.001", "--arch-option", "threshold-init=none"),
     JumpReLUOptions(k=4, l0_coef=0.01, bandwidth=0.001, threshold_init=None)),
    (("--architecture", "relu", "--arch-option", "l1_coef=0.3", "--k", "4"), ReLUOptions(l1_coef=0.3)),
    (("--architecture", "jumprelu", "--target-l0", "16"), JumpReLUOptions(k=16)),  # thresholds start at L0 16
    (("--architecture", "matryoshka", "--target-l0", "16"), MatryoshkaOptions(k=16)),
])
def test_arch_options_fill_the_chosen_architectures_block(argv: tuple[str, ...], expected: object) -> None:
    cfg = _parse(*argv)
    assert cfg.options == expected and type(cfg.options) is type(expected)


@pytest.mark.parametrize(("argv", "message"), [
    (("--architecture", "jumprelu", "--arch-option", "bandwdth=0.1"),
     "--arch-option bandwdth=0.1: jumprelu has no option 'bandwdth'; its options: k, l0_coef, penalty_warmup, "
     "bandwidth, threshold_init, threshold_lr$"),
    (("--architecture", "jumprelu", "--arch-option", "bandwidth=wide"),
     "--arch-option bandwidth=wide: expected a number"),
    (("--architecture", "jumprelu", "--arch-option", "bandwidth=0"), "--arch-option bandwidth must be > 0, got 0.0"),
    (("--architecture", "jumprelu", "--arch-option", "bandwidth=nan"), "--arch-option bandwidth must be a finite"),
    (("--architecture", "batchtopk", "--arch-option", "threshold_estimate=mean"),
     "--arch-option threshold_estimate must be one of ema, calibrate, got 'mean'"),
    (("--architecture", "matryoshka", "--arch-option", "matryoshka_widths=4,x"),
     "matryoshka_widths=4,x: expected an integer"),
    (("--arch-option", "bandwidth"), "--arch-option takes KEY=VALUE, got 'bandwidth'"),
    (("--arch-option", "l1_coef=0.3"), "topk has no option 'l1_coef'"),  # another architecture's option
    (("--architecture", "relu", "--arch-option", "k=4"),
     "relu has no option 'k'; its options: l1_coef, penalty_warmup"),
    (("--k", "0"), "--k must be >= 1, got 0"),
    (("--k", "8", "--target-l0", "16"), "--k 8 and --target-l0 16 disagree: give one"),
])
def test_a_bad_arch_option_is_one_line_naming_it(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        _parse(*argv)
    assert "\n" not in str(caught.value)


def test_blocks_are_checked_in_the_python_api_too() -> None:
    with pytest.raises(UserError, match="relu has no option k; its options: l1_coef, penalty_warmup"):
        TrainSAEConfig(architecture="relu", options={"k": 4})
    with pytest.raises(UserError, match="are not relu's"):
        TrainSAEConfig(architecture="relu", options=TopKOptions())
    with pytest.raises(TypeError, match="no option kk"):
        from_flags(TrainSAEConfig, {"kk": 4})


def test_calibrated_threshold_gives_mean_l0_k_on_its_sample() -> None:
    torch.manual_seed(0)
    sae, x = BatchTopK(16, 64, k=5, threshold_estimate="calibrate"), torch.randn(300, 16)
    sae.finish_training(x)
    assert (sae.eval().encode(x) > 0).sum(1).float().mean().item() == pytest.approx(5.0)
    ema = BatchTopK(16, 64, k=5)
    ema.finish_training(x)  # an EMA threshold stays what training made it
    assert ema.threshold.item() == 0.0


def test_a_saved_sae_records_its_options_and_older_folders_still_load(tiny_recording: Path,
                                                                    tmp_path: Path) -> None:
    flags = {"recording": tiny_recording, "out": tmp_path / "sae", "architecture": "jumprelu", "bandwidth": 0.02,
             "d_sae": 64, "k": 4, "samples": 8 * 256, "batch_size": 256, "heldout_fraction": 0.25,
             "advantage_weight": 0, "progress": False}
    train_sae(from_flags(TrainSAEConfig, flags))
    path = tmp_path / "sae" / CFG
    document = json.loads(path.read_text())
    assert document["metadata"]["rlsae_options"]["bandwidth"] == 0.02
    assert document["metadata"]["rlsae"]["config"]["options"]["threshold_lr"] == 10.0
    assert load_sae(tmp_path / "sae").bandwidth == 0.02
    # Written before threshold_init, threshold_lr and penalty_warmup existed: trained as their defaults do,
    # except the thresholds' learning rate, which was the others' (1, now 10 by default).
    for options in (document["metadata"]["rlsae_options"], document["metadata"]["rlsae"]["config"]["options"]):
        for key in ("threshold_init", "threshold_lr", "penalty_warmup"):
            options.pop(key, None)
    path.write_text(json.dumps(document))
    assert load_sae(tmp_path / "sae").bandwidth == 0.02
    with pytest.raises(UserError, match=r"other settings \(threshold_lr\)"):
        train_sae(from_flags(TrainSAEConfig, flags))
    assert train_sae(from_flags(TrainSAEConfig, {**flags, "threshold_lr": 1.0}))["finished"]


def test_a_folder_saved_with_flat_options_loads_and_counts_as_the_same_run(tiny_recording: Path,
                                                                          tmp_path: Path) -> None:
    flags = {"recording": tiny_recording, "out": tmp_path / "sae", "architecture": "relu", "l1_coef": 0.3,
             "d_sae": 64, "samples": 8 * 256, "batch_size": 256, "heldout_fraction": 0.25, "progress": False}
    train_sae(from_flags(TrainSAEConfig, flags))
    # Rewrite cfg.json as rlsae wrote it before the blocks: every architecture's option flat on the config.
    path = tmp_path / "sae" / CFG
    document = json.loads(path.read_text())
    config = document["metadata"]["rlsae"]["config"]
    assert config.pop("options") == {"l1_coef": 0.3, "penalty_warmup": 0.0}
    del config["target_l0"]
    config.update(k=32, aux_coef=1 / 32, k_aux=None, l1_coef=0.3, l0_coef=1e-3, matryoshka_widths=[])
    path.write_text(json.dumps(document))
    assert load_sae(tmp_path / "sae").l1_coef == pytest.approx(0.3)
    assert train_sae(from_flags(TrainSAEConfig, flags))["finished"]
    with pytest.raises(UserError, match=r"other settings \(l1_coef\)"):
        train_sae(from_flags(TrainSAEConfig, {**flags, "l1_coef": 0.5}))
