"""Each SAE architecture's options form its own block (``TrainSAEConfig.options``), while the flags keep
their names and SAE folders written with the options flat on the config still load and compare."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rlsae.common.errors import UserError
from rlsae.config import add_options, from_args, from_flags
from rlsae.sae import load_sae
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
    (("--k", "8", "--aux-coef", "0", "--k-aux", "16"), TopKOptions(k=8, aux_coef=0.0, k_aux=16)),
    (("--architecture", "batchtopk", "--k", "4"), TopKOptions(k=4)),
    (("--architecture", "matryoshka", "--matryoshka-widths", "4", "8"), MatryoshkaOptions(matryoshka_widths=(4, 8))),
    (("--architecture", "jumprelu", "--k", "4", "--l0-coef", "0.01"), JumpReLUOptions(k=4, l0_coef=0.01)),
    (("--architecture", "relu", "--l1-coef", "0.3", "--k", "4"), ReLUOptions(l1_coef=0.3)),
])
def test_the_old_flags_fill_the_chosen_architectures_block(argv: tuple[str, ...], expected: object) -> None:
    cfg = _parse(*argv)
    assert cfg.options == expected and type(cfg.options) is type(expected)


def test_bad_values_are_refused_for_any_architectures_flag() -> None:
    with pytest.raises(UserError, match="--l1-coef must be a finite number"):
        _parse("--l1-coef", "nan")  # relu's option, refused under topk too (as when it was flat)
    with pytest.raises(UserError, match="--k must be >= 1, got 0"):
        _parse("--architecture", "jumprelu", "--k", "0")
    with pytest.raises(UserError, match="relu has no option k; its options: l1_coef"):
        TrainSAEConfig(architecture="relu", options={"k": 4})
    with pytest.raises(UserError, match="are not relu's"):
        TrainSAEConfig(architecture="relu", options=TopKOptions())
    with pytest.raises(TypeError, match="no option kk"):
        from_flags(TrainSAEConfig, {"kk": 4})


def test_a_folder_saved_with_flat_options_loads_and_counts_as_the_same_run(tiny_recording: Path,
                                                                          tmp_path: Path) -> None:
    flags = {"recording": tiny_recording, "out": tmp_path / "sae", "architecture": "relu", "l1_coef": 0.3,
             "d_sae": 64, "samples": 8 * 256, "batch_size": 256, "heldout_fraction": 0.25, "progress": False}
    train_sae(from_flags(TrainSAEConfig, flags))
    # Rewrite cfg.json as rlsae wrote it before the blocks: every architecture's option flat on the config.
    path = tmp_path / "sae" / CFG
    document = json.loads(path.read_text())
    config = document["metadata"]["rlsae"]["config"]
    assert config.pop("options") == {"l1_coef": 0.3}
    config.update(k=32, aux_coef=1 / 32, k_aux=None, l1_coef=0.3, l0_coef=1e-3, matryoshka_widths=[])
    path.write_text(json.dumps(document))
    assert load_sae(tmp_path / "sae").l1_coef == pytest.approx(0.3)
    assert train_sae(from_flags(TrainSAEConfig, flags))["finished"]
    with pytest.raises(UserError, match=r"other settings \(l1_coef\)"):
        train_sae(from_flags(TrainSAEConfig, {**flags, "l1_coef": 0.5}))
