"""Damaged recordings and agent checkpoints give one-line errors that say what is wrong and what to do."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rlsae.agents.checkpoint import load_agent
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.record import Recording


@pytest.fixture
def store(tiny_recording: Path) -> Path:
    return tiny_recording


def _manifest(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        edit(manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return damage


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "format_version 99": (_manifest(lambda m: m.update(format_version=99)),
                          "format_version 99; this rlsae reads version 1: upgrade rlsae"),
    "d_act a string": (_manifest(lambda m: m.update(d_act="512")), 'damaged: "d_act" should be a int'),
    "runs not a list": (_manifest(lambda m: m.update(runs={})), 'damaged: "runs" should be a list'),
    "manifest a list": (lambda f: (f / "manifest.json").write_text("[1, 2]"), "not an rlsae recording manifest"),
    "snapshots.bin missing": (lambda f: (f / "chunks" / "000001" / "snapshots.bin").unlink(),
                              r"chunk '.*000001' is incomplete \(snapshots.bin missing\)"),
    "episodes.parquet missing": (lambda f: (f / "chunks" / "000000" / "episodes.parquet").unlink(),
                                 r"incomplete \(episodes.parquet missing\)"),
    "episodes.parquet garbage": (lambda f: (f / "chunks" / "000000" / "episodes.parquet").write_bytes(b"x" * 99),
                                 "episodes.parquet.*the chunk is damaged"),
    "activations truncated": (lambda f: (f / "chunks" / "000000" / "activations.npy").write_bytes(b"\x93NUMPY"),
                              "activations.npy.*the chunk is damaged"),
    "actions pickled": (lambda f: np.save(f / "chunks" / "000000" / "actions.npy", np.array([{}] * 256, object),
                                          allow_pickle=True), "actions.npy.*the chunk is damaged"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damaged_recording_is_a_one_line_error(store: Path, tmp_path: Path, name: str) -> None:
    damage, message = DAMAGE[name]
    folder = Path(shutil.copytree(store, tmp_path / "rec"))
    damage(folder)
    with pytest.raises(UserError, match=message):
        rec = Recording.open(folder)
        rec.episodes  # noqa: B018 - read lazily
        rec.render_frames([40])


@pytest.mark.parametrize(("weights", "message"), [
    (b"", "not a readable safetensors file"),
    (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1", "not a readable safetensors file"),
    (np.random.default_rng(0).bytes(4096), "not a readable safetensors file"),
])
def test_damaged_agent_weights_are_one_line_errors(store: Path, tmp_path: Path, weights: bytes, message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    agent = Path(shutil.copytree(store / "agent", tmp_path / "agent"))
    (agent / "model.safetensors").write_bytes(weights)
    with pytest.raises(UserError, match=message):
        load_agent(agent)
    assert main(["evaluate-agent", "--checkpoint", str(agent), "--episodes", "1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(("manifest", "message"), [
    ([], "not an agent manifest"),
    ({"n_actions": "9", "game": "ms_pacman"}, "needs \"n_actions\" .* it has n_actions='9'"),
    ({"n_actions": 9, "game": 3}, "game=3"),
])
def test_wrong_type_agent_manifest_is_a_user_error(store: Path, tmp_path: Path, manifest: object,
                                                   message: str) -> None:
    agent = Path(shutil.copytree(store / "agent", tmp_path / "agent"))
    (agent / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=message):
        load_agent(agent)


def test_bad_values_are_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag, value, message in [("--num-envs", "0", "--num-envs must be in [1, 4096], got 0"),
                                 ("--epsilon", "nan", "--epsilon must be a finite number, got nan"),
                                 ("--chunk-size", "-1", "--chunk-size must be >= 1, got -1"),
                                 ("--device", "cuda:7", "--device cuda:7"),
                                 ("--shard", "2/2", "--shard must be K/N with 0 <= K < N (e.g. 0/4), got '2/2'")]:
        code = main(["record", "--out", str(tmp_path / "rec"), flag, value])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not (tmp_path / "rec").exists()


def test_a_full_disk_is_said_in_one_line(tmp_path: Path, random_agent: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    out = tmp_path / "rec"
    assert main(["record", "--checkpoint", str(random_agent), "--out", str(out), "--steps", "8", "--num-envs", "2",
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rlsae record: error: disk full") and err.count("\n") == 1
    assert not list((out / "chunks").glob("*.partial"))  # the chunk it could not hold is not left behind


def test_non_finite_activations_are_refused_by_interpret(small_pipeline: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    recording = tmp_path / "rec"
    shutil.copytree(small_pipeline["recording"], recording)
    path = recording / "chunks" / "000001" / "activations.npy"
    activations = np.load(path)
    activations[5, 7] = np.inf  # the histograms used to fail on it with a raw ValueError traceback
    np.save(path, activations)
    code = main(["interpret", "--sae", str(small_pipeline["sae"]), "--recording", str(recording),
                 "--out", str(tmp_path / "interpret"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "row 5 of chunk '000001'" in err and "NaN or inf" in err and err.count("\n") == 1, err
    assert not (tmp_path / "interpret").exists()


@pytest.mark.parametrize("name,content", [("manifest.json", b"{oops"), ("manifest.json", b"[]"),
                                          ("features.npz", None), ("features.json", b"[]"), ("summary.json", b"")])
def test_a_damaged_interpret_output_is_a_user_error(small_pipeline: dict[str, Path], tmp_path: Path, name: str,
                                                    content: bytes | None) -> None:
    from rlsae.analysis.results import load_result

    folder = tmp_path / "interpret"
    shutil.copytree(small_pipeline["interpret"], folder)
    path = folder / name
    path.write_bytes(path.read_bytes()[:100] if content is None else content)  # None: truncated
    with pytest.raises(UserError, match=f"interpret output .*{name}" if name != "manifest.json" else "manifest"):
        load_result(folder)  # steer and browse read it; both used to show tracebacks


def test_a_finished_recording_says_so_and_names_settings_that_differ(tmp_path: Path, agent: Path, cfg_for: Any,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from rlsae.record.recorder import record

    record(cfg_for(tmp_path / "rec", agent, steps=40))
    capsys.readouterr()
    record(cfg_for(tmp_path / "rec", agent, steps=40, epsilon=0.5))
    out = capsys.readouterr().out
    assert "is complete: 40 steps" in out and "it was recorded with --epsilon 0.0" in out
    assert len(Recording.open(tmp_path / "rec")) == 40


@pytest.mark.parametrize("older", [False, True], ids=["as-stored-today", "older-rlsae"])
def test_steer_rerun_from_another_directory_reuses_its_results(small_pipeline: dict[str, Path], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, older: bool) -> None:
    """The same folders spelled from elsewhere are the same settings, also in an older rlsae's steering.json,
    which held the paths as typed (relative to where steer ran) and lacked the settings added since."""
    root = small_pipeline["root"]
    argv = ["--feature", "0", "--episodes", "1", "--num-envs", "1", "--max-steps", "30", "--gif-steps", "10",
            "--no-progress"]
    monkeypatch.chdir(root)
    assert main(["steer", "--sae", "sae", "--interpret", "interpret", "--out", str(tmp_path / "steer"), *argv]) == 0
    results = tmp_path / "steer" / "steering.json"
    document = json.loads(results.read_text())
    assert document["config"]["interpret"] == str(root / "interpret")  # stored resolved today
    if older:
        document["config"].update(sae="sae", interpret="interpret", out=str(tmp_path / "steer"))
        del document["version"]  # written before result records had versions
        for newer in ("goal", "goal_steps"):
            del document["config"][newer]
        results.write_text(json.dumps(document))
    before = results.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["steer", "--sae", str(root / "sae"), "--interpret", str(root / "interpret"),
                 "--out", "steer", *argv]) == 0
    assert results.read_bytes() == before  # feature 0 was found done, not re-run
    other = Path(shutil.copytree(root / "interpret", tmp_path / "interpret2"))  # another folder: another setting
    assert main(["steer", "--sae", str(root / "sae"), "--interpret", str(other), "--out", "steer", *argv]) == 2


def test_a_full_disk_while_copying_the_agent_names_the_copy_and_leaves_none(
        tmp_path: Path, random_agent: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def full(src: object, dst: object, **_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(src))

    monkeypatch.setattr(shutil, "copy2", full)
    out = tmp_path / "rec"
    assert main(["record", "--checkpoint", str(random_agent), "--out", str(out), "--steps", "8", "--num-envs", "2",
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"disk full writing '{out / 'agent'}'" in err and err.count("\n") == 1, err
    assert not (out / "agent.tmp").exists() and not (out / "agent").exists()


@pytest.mark.parametrize("command,flag,value", [("demo", "--steer-episodes", "0"), ("sweep", "--seed", "-1")])
def test_demo_and_sweep_refuse_values_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      command: str, flag: str, value: str) -> None:
    assert main([command, "--out", str(tmp_path / "out"), flag, value]) == 2
    err = capsys.readouterr().err
    assert f"{flag} must be >= " in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_train_sae_refuses_a_recording_whose_episode_table_is_damaged(store: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """train-sae never reads the episode table, but a damaged one means a damaged recording: said at once."""
    folder = Path(shutil.copytree(store, tmp_path / "rec"))
    (folder / "chunks" / "000001" / "episodes.parquet").write_bytes(os.urandom(200))
    code = main(["train-sae", "--recording", str(folder), "--out", str(tmp_path / "sae"), "--d-sae", "32", "--k", "4",
                 "--samples", "1024", "--batch-size", "128", "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "000001" in err and "episodes.parquet" in err and "the chunk is damaged" in err
    assert not (tmp_path / "sae" / "cfg.json").exists()


def test_train_sae_rerun_from_another_directory_has_nothing_to_do(store: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The bad-input sweep's re-run of a finished SAE: the recording typed relative, then absolute elsewhere."""
    argv = ["--d-sae", "32", "--k", "4", "--samples", "1024", "--batch-size", "128", "--device", "cpu", "--no-progress"]
    shutil.copytree(store, tmp_path / "rec")
    monkeypatch.chdir(tmp_path)
    assert main(["train-sae", "--recording", "rec", "--out", "sae", *argv]) == 0
    monkeypatch.chdir(tmp_path / "rec")
    capsys.readouterr()
    assert main(["train-sae", "--recording", str(tmp_path / "rec"), "--out", str(tmp_path / "sae"), *argv]) == 0
    assert "nothing to do" in capsys.readouterr().out
