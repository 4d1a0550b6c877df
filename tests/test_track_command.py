"""`rlsae track` end to end on tiny saved SAEs whose lineage is known: a row-permuted copy traces fully, replaced
rows are born; a sweep output is read through --arm; a series it cannot track is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from rlsae.analysis.track import Lineage
from rlsae.cli import main
from rlsae.sae import build_sae
from rlsae.sae.io import save_sae

D_IN, D_SAE, REPLACED = 16, 12, 3


def _save(folder: Path, decoder: torch.Tensor, metadata: dict[str, Any] | None = None,
          log10_density: torch.Tensor | None = None) -> None:
    sae = build_sae("topk", decoder.shape[1], decoder.shape[0], k=2)
    with torch.no_grad():
        sae.W_dec.copy_(decoder)
    save_sae(folder, sae, metadata, log10_density)


def _planted(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three decoders over orthonormal directions: the first, its rows permuted, then that with REPLACED rows
    swapped for directions the series never had."""
    basis = torch.linalg.qr(torch.randn(D_IN, D_IN, generator=torch.Generator().manual_seed(seed)))[0].T
    first = basis[:D_SAE]
    permuted = first[torch.randperm(D_SAE, generator=torch.Generator().manual_seed(seed + 1))]
    replaced = permuted.clone()
    replaced[:REPLACED] = basis[D_SAE:D_SAE + REPLACED]
    return first, permuted, replaced


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["track", "--no-progress", "--match", "decoder", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_track_orders_by_agent_step_and_counts_births(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, permuted, replaced = _planted()
    series = tmp_path / "series"
    # Folder names sort the other way round from the steps: the steps must decide the order.
    dead = torch.zeros(D_SAE)
    dead[:REPLACED] = -10.0  # the replaced rows never fired: the live features are the traced ones
    trained = {"rlsae": {"config": {"seed": 3, "init_from": None}}}  # all three from seed 3's fresh decoder
    _save(series / "c", first, {"agent_step": 100, **trained})
    _save(series / "b", permuted, {"agent_step": 200, **trained})
    _save(series / "a", replaced, {"agent_step": 300, **trained}, dead)

    code, out, err = _run(capsys, "--series", str(series), "--out", str(tmp_path / "track"))
    assert code == 0, err
    lineage = Lineage.load(tmp_path / "track" / "track.json")
    assert [c.name for c in lineage.checkpoints] == ["c", "b", "a"]
    assert [s.traced for s in lineage.steps] == [1.0, (D_SAE - REPLACED) / D_SAE]
    assert [s.born for s in lineage.steps] == [0, REPLACED]
    assert [s.lost for s in lineage.steps] == [0, REPLACED]
    assert "agent step order" in out
    assert "c -> b: 0 born, 0 lost, 0 split, 0 merged; 100.0% traced (decoder cosine >= 0.7)" in out
    assert f"b -> a: {REPLACED} born, {REPLACED} lost" in out
    assert f"100.0% of its {D_SAE - REPLACED} live features have an ancestor in b" in out
    assert "note: these SAEs all started from seed 3's random decoder" in out


def test_track_reads_a_sweep_arm_and_orders_by_name_without_steps(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    first, permuted, replaced = _planted(1)
    sweep = tmp_path / "sweep"
    for name, decoder in (("1M", first), ("2M", replaced)):
        _save(sweep / name / "talk" / "sae", decoder)
    _save(sweep / "1M" / "default" / "sae", permuted)  # another arm: not read

    code, out, err = _run(capsys, "--series", str(sweep), "--arm", "talk", "--out", str(tmp_path / "track"))
    assert code == 0, err
    lineage = Lineage.load(tmp_path / "track" / "track.json")
    assert [c.name for c in lineage.checkpoints] == ["1M", "2M"]
    assert lineage.steps[0].born == REPLACED
    assert "folder name order" in out
    assert f"of its {D_SAE} features (no sparsity file: live ones unknown)" in out
    assert "note:" not in out  # nothing says how these were trained


def test_track_by_codes_needs_the_recordings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, decoder in zip("ab", _planted()[:2]):
        _save(tmp_path / "series" / name, decoder, {"recording": str(tmp_path / "gone")})
    code = main(["track", "--no-progress", "--series", str(tmp_path / "series"), "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert code != 0 and "names no recording that is still there" in err and "--match decoder" in err
    assert len(err.strip().splitlines()) == 1


def test_track_orders_older_saes_by_their_recordings_step(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An SAE trained before train-sae stored agent_step: the step comes from its recording's manifest."""
    for name, step, decoder in (("early", 5_000_000, _planted()[0]), ("late", 1_000, _planted()[1])):
        recording = tmp_path / "recordings" / name
        recording.mkdir(parents=True)
        (recording / "manifest.json").write_text(json.dumps({"agent": {"manifest": {"step": step}}}))
        _save(tmp_path / "series" / name, decoder, {"recording": str(recording)})
    code, out, err = _run(capsys, "--series", str(tmp_path / "series"), "--out", str(tmp_path / "track"))
    assert code == 0, err
    assert [c.name for c in Lineage.load(tmp_path / "track" / "track.json").checkpoints] == ["late", "early"]
    assert "agent step order" in out


def test_track_refuses_one_sae(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save(tmp_path / "series" / "only", _planted()[0])
    code, _, err = _run(capsys, "--series", str(tmp_path / "series"), "--out", str(tmp_path / "track"))
    assert code != 0
    assert "holds 1 SAE(s)" in err and "tracking needs at least 2" in err
    assert not (tmp_path / "track").exists()


def test_track_refuses_saes_of_different_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save(tmp_path / "series" / "a", _planted()[0])
    _save(tmp_path / "series" / "b", torch.randn(D_SAE, D_IN // 2))
    code, _, err = _run(capsys, "--series", str(tmp_path / "series"), "--out", str(tmp_path / "track"))
    assert code != 0
    assert f"reads {D_IN // 2} inputs" in err and f"reads {D_IN}" in err
    assert len(err.strip().splitlines()) == 1
