"""Output folders through the real `rlsae` entry: another command's output is refused and left untouched,
files and folders are not confused, unwritable or busy folders are refused before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsae.cli import main
from rlsae.common.outputs import MARKER, claim_output, output_kind
from rlsae.record import Recording


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run `rlsae argv`; it must fail with exit code 2 and one line on stderr, which is returned."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rlsae {argv[0]}: error: "), err
    return err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_interpret_and_browse_refuse_a_recording_and_leave_it_whole(
        tiny_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(tiny_recording)
    err = _error(capsys, ["interpret", "--sae", str(tmp_path / "sae"), "--out", str(tiny_recording)])
    assert "holds recording output (written by `rlsae record`), not interpret output" in err
    err = _error(capsys, ["browse", "--interpret", str(tmp_path / "i"), "--out", str(tiny_recording)])
    assert "holds recording output" in err
    assert _snapshot(tiny_recording) == before
    assert len(Recording.open(tiny_recording)) == 640


def test_browse_refuses_its_own_interpret_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    interpret = tmp_path / "interpret"
    interpret.mkdir()
    (interpret / "manifest.json").write_text(json.dumps({"kind": "rlsae-interpret"}))
    before = _snapshot(interpret)
    err = _error(capsys, ["browse", "--interpret", str(interpret), "--out", str(interpret)])
    assert "holds interpret output" in err
    assert _snapshot(interpret) == before


@pytest.mark.parametrize(("argv", "kind"), [
    (["record", "--steps", "8"], "recording"),
    (["train-sae", "--recording", "r"], "sae"),
    (["steer", "--sae", "s", "--feature", "1"], "steer"),
    (["demo"], "demo"),
    (["train-agent"], "agent"),
])
def test_every_command_refuses_another_kind_of_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      argv: list[str], kind: str) -> None:
    other = tmp_path / "other"
    other.mkdir()
    foreign = "browser" if kind != "browser" else "recording"
    (other / MARKER).write_text(json.dumps({"kind": foreign}))
    (other / "index.html").write_text("<p>a browser</p>")
    err = _error(capsys, [*argv, "--out", str(other)])
    assert f"holds {foreign} output" in err and f"not {kind} output" in err
    assert _snapshot(other) == {MARKER: json.dumps({"kind": foreign}).encode(), "index.html": b"<p>a browser</p>"}


def test_files_and_folders_are_not_confused(tmp_path: Path, random_agent: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    err = _error(capsys, ["record", "--checkpoint", str(random_agent), "--out", str(a_file)])
    assert f"--out '{a_file}' is a file; give a folder" in err
    err = _error(capsys, ["evaluate-agent", "--checkpoint", str(random_agent), "--json", str(tmp_path)])
    assert f"--json '{tmp_path}' is a folder; give a file name" in err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    err = _error(capsys, ["record", "--checkpoint", str(random_agent), "--out", str(mine)])
    assert "is not empty and holds no rlsae output" in err
    assert a_file.read_text() == "mine" and [p.name for p in mine.iterdir()] == ["thesis.tex"]


def test_unwritable_out_is_refused_before_work(tmp_path: Path, random_agent: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "notes.txt"
    blocked.write_text("a file, so nothing can be created under it")
    err = _error(capsys, ["record", "--checkpoint", str(random_agent), "--out", str(blocked / "rec")])
    assert "cannot create or open the folder" in err
    err = _error(capsys, ["evaluate-agent", "--checkpoint", str(random_agent), "--json", str(blocked / "s.json")])
    assert "cannot write in" in err
    if os.geteuid() != 0:  # root writes anywhere
        read_only = tmp_path / "ro"
        read_only.mkdir()
        read_only.chmod(0o555)
        err = _error(capsys, ["record", "--checkpoint", str(random_agent), "--out", str(read_only)])
        assert "is not writable" in err


def test_a_failed_command_leaves_no_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "interpret"
    err = _error(capsys, ["interpret", "--sae", str(tmp_path / "no-sae"), "--out", str(out)])
    assert "no-sae" in err
    assert not out.exists()


def test_a_second_process_on_the_same_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    code = ("import sys, time; from rlsae.common.outputs import claim_output\n"
            f"with claim_output({str(out)!r}, 'recording'):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        err = _error(capsys, ["record", "--out", str(out), "--steps", "8"])
        assert "is in use by another rlsae process" in err
    finally:
        holder.kill()
        holder.wait()
    with claim_output(out, "recording"):  # the kernel dropped the killed holder's lock
        assert output_kind(out) == "recording"


def test_written_files_are_world_readable(tiny_recording: Path) -> None:
    for path in (tiny_recording / "agent" / "model.safetensors", tiny_recording / "manifest.json"):
        assert path.stat().st_mode & 0o777 == 0o644
