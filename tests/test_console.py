"""What the real `rlsae` prints: bars on a terminal, one plain line per stage in a log."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from rlsae.common.progress import ProgressBar

REDRAW = ("\r", "\x1b[")  # a bar redraws with carriage returns and cursor codes


def _rlsae(args: list[str], **streams: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rlsae.cli", *args], env=env, timeout=300, check=True,
                          **streams)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def piped_pipeline(tiny_recording: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """record then train-sae, as in `rlsae ... 2>&1 | tee log`: stdout and stderr piped into one stream."""
    root = tmp_path_factory.mktemp("console")
    agent = tiny_recording.parent / "agent"
    log = ""
    for args in (["record", "--checkpoint", str(agent), "--out", str(root / "rec"), "--steps", "256",
                  "--num-envs", "2", "--chunk-size", "128"],
                 ["train-sae", "--recording", str(root / "rec"), "--out", str(root / "sae"), "--d-sae", "64",
                  "--k", "4", "--samples", "20000", "--device", "cpu"]):
        log += _rlsae(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    return root, log


def test_a_piped_run_prints_no_redraws_and_one_timed_line_per_stage(piped_pipeline: tuple[Path, str]) -> None:
    _, log = piped_pipeline
    assert not any(code in log for code in REDRAW), repr(log[:400])
    lines = log.splitlines()
    recording = [line for line in lines if line.startswith("recording: ")]
    training = [line for line in lines if line.startswith("train-sae topk: ")]
    assert len(recording) == 1 and recording[0].startswith("recording: 256 steps in "), lines
    assert len(training) == 1 and training[0].endswith(" s"), lines


def test_the_same_stage_on_a_terminal_draws_a_bar(piped_pipeline: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = piped_pipeline
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm fits a 0-column one
    try:
        _rlsae(["train-sae", "--recording", str(root / "rec"), "--out", str(tmp_path / "sae"), "--d-sae", "64",
                "--k", "4", "--samples", "20000", "--device", "cpu"],
               stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)
    text = shown.decode(errors="replace")
    assert "\rtrain-sae topk: 100%" in text and " steps in " not in text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # Linux reports a closed terminal's end as EIO
        return b""


def test_an_interrupted_bar_says_how_far_it_got(capsys: pytest.CaptureFixture[str]) -> None:
    bar = ProgressBar(total=10, desc="playing", unit="game")
    bar.update(3)
    bar.close()
    bar.close()
    assert capsys.readouterr().err.splitlines()[0].startswith("playing: 3 of 10 games in ")
    ProgressBar(total=4, desc="quiet", unit="game", disable=True).close()
    assert capsys.readouterr().err == ""


def test_a_log_holds_stdout_and_stderr_lines_in_the_order_they_were_written(tmp_path: Path) -> None:
    """The demo prints a stage's name (stdout) before the stage's own lines (stderr); piped into one log
    without PYTHONUNBUFFERED, stdout used to arrive last."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.run([sys.executable, "-m", "rlsae.cli", "demo", "--out", str(tmp_path / "demo"),
                           "--checkpoint", str(tmp_path / "none"), "--no-progress"],
                          env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300)
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 2 and lines[0] == "[record]" and lines[1].startswith("rlsae demo: error: no agent")
