"""Atomic writes, resume state without pickle, and the mode every written file gets."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

from rlsae.common import outputs
from rlsae.common.errors import UserError
from rlsae.common.files import atomic_path, current_umask, load_state, read_json, save_state, write_json
from rlsae.sae import build_sae, save_sae


@pytest.fixture
def umask_027() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mode & 0o777 for p in folder.rglob("*") if p.is_file()}


def test_current_umask_is_the_process_umask(umask_027: int) -> None:
    assert current_umask() == umask_027


def test_every_writer_gives_the_umask_mode(tmp_path: Path, umask_027: int) -> None:
    write_json(tmp_path / "a.json", {"x": 1})
    save_state(tmp_path / "state", {"step": 3, "moments": torch.ones(4)})
    save_sae(tmp_path / "sae", build_sae("topk", 8, 16, k=2), log10_density=torch.zeros(16))
    modes = _modes(tmp_path)
    assert set(modes) == {"a.json", "state.json", "state.safetensors", "sae/cfg.json",
                          "sae/sae_weights.safetensors", "sae/sparsity.safetensors"}
    assert modes == dict.fromkeys(modes, 0o640)  # safetensors alone would have made 0600


def test_every_file_of_a_real_pipeline_has_the_umask_mode(small_pipeline: dict[str, Path]) -> None:
    expected = 0o666 & ~current_umask()
    for name in ("recording", "sae", "interpret"):
        modes = _modes(small_pipeline[name])
        assert modes, name
        odd = {path: oct(mode) for path, mode in modes.items() if mode != expected}
        assert not odd, (name, odd)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json(target, {"old": True})
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_text('{"new": tr')
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == '{\n  "old": true\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_resume_state_round_trips_exactly(tmp_path: Path) -> None:
    state = {"step": 7, "lr": 1e-3, "name": "run", "rng": (1, [2, 3]), 5: None,
             "adam": {0: {"exp_avg": torch.randn(3, 2), "step": torch.tensor(4.0)}}}
    save_state(tmp_path / "s", state)
    back = load_state(tmp_path / "s")
    assert back is not None and back.keys() == state.keys() and back["rng"] == (1, [2, 3]) and back[5] is None
    assert torch.equal(back["adam"][0]["exp_avg"], state["adam"][0]["exp_avg"])
    assert load_state(tmp_path / "none") is None


def test_damaged_resume_state_is_a_user_error(tmp_path: Path) -> None:
    save_state(tmp_path / "s", {"w": torch.ones(5)})
    raw = (tmp_path / "s.safetensors").read_bytes()
    (tmp_path / "s.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="damaged or incomplete"):
        load_state(tmp_path / "s")
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_state(tmp_path / "s")


def test_safetensors_on_a_full_disk_is_the_oserror_it_is(tmp_path: Path) -> None:
    target = tmp_path / "state.safetensors"
    with pytest.raises(OSError) as caught, atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert not list(tmp_path.iterdir())
    with pytest.raises(SafetensorError), atomic_path(target):  # other safetensors errors stay what they are
        raise SafetensorError("Error while deserializing header: HeaderTooLarge")


def test_results_that_cannot_be_written_are_printed_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    def full(path: Path, data: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_json", full)
    with pytest.raises(UserError, match=r"could not write --json '.*r.json' \(disk full\)"):
        outputs.write_results(tmp_path / "r.json", {"score": 512.5}, "--json")
    assert json.loads(capsys.readouterr().out) == {"score": 512.5}


def test_a_json_path_that_is_a_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"cannot read evaluation '{tmp_path}'"):
        read_json(tmp_path, "evaluation")
