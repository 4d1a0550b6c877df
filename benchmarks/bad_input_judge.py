"""Running one bad-input case as its own `rlsae` process and judging what it did."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bad_input_base import BASE, METRICS, RUNNER, TEMPORARY, TIMEOUT, Case, Result, child_env, digest


@contextlib.contextmanager
def tmpfs(folder: Path, kb: int) -> Iterator[bool]:
    """A small (kb > 0) or read-only (kb < 0) file system at ``folder``; False when mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={abs(kb)}k" + (",ro" if kb < 0 else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _fill(folder: Path) -> None:
    """Leave ~2 KiB free on the small file system, so even a small result no longer fits."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with contextlib.suppress(OSError):
        (folder / ".filler").write_bytes(b"\0" * max(free - 2048, 0))


def run_case(case: Case, work: Path, index: int) -> Result:
    folder = work / "cases" / f"{index:03d}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    fill = lambda s: s.replace("{case}", str(folder)).replace(BASE, str(work / "base"))  # noqa: E731
    argv = [fill(a) for a in case.argv]
    if case.prepare is not None:
        case.prepare(folder)
    protected = {name: digest(folder / name) for name in case.protect}
    holder = None
    start = time.perf_counter()
    with tmpfs(folder / "full", case.tmpfs_kb) if case.tmpfs_kb else contextlib.nullcontext(True) as mounted:
        if not mounted:
            return Result(case, "skipped", "cannot mount a tmpfs here", None, 0.0)
        if case.fill:
            _fill(folder / "full")
        if case.concurrent:
            holder = subprocess.Popen([sys.executable, *[fill(a) for a in case.concurrent]], stdout=subprocess.PIPE,
                                      text=True, env=child_env(), start_new_session=True)
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        proc = subprocess.Popen([sys.executable, "-c", RUNNER.format(fault=case.fault), *argv], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            code = None
        finally:
            if holder is not None:
                os.killpg(holder.pid, signal.SIGKILL)
                holder.wait()
        seconds = time.perf_counter() - start
        stray = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                       if p.name.endswith(TEMPORARY) or ".probe" in p.name)
    verdict, why = judge(case, code, stdout, stderr, stray,
                         {n: digest(folder / n) != d for n, d in protected.items()}, folder)
    return Result(case, verdict, why, code, seconds, stderr, stdout)


def _nonfinite_saved(folder: Path) -> bool:
    """An SAE or evaluation whose headline metrics are NaN/inf (other outputs use NaN for 'undefined')."""
    def bad(value: object) -> bool:
        if isinstance(value, dict):
            return any(bad(v) if isinstance(v, dict) else k in METRICS and isinstance(v, float)
                       and not math.isfinite(v) for k, v in value.items())
        return False
    for path in [*folder.rglob("cfg.json"), *folder.rglob("evaluation.json")]:
        with contextlib.suppress(OSError, ValueError):
            if bad(json.loads(path.read_text())):
                return True
    return False


def judge(case: Case, code: int | None, stdout: str, stderr: str, stray: list[str], changed: dict[str, bool],
          folder: Path) -> tuple[str, str]:
    lost = [name for name, moved in changed.items() if moved]
    if lost:
        return "bad", f"changed {', '.join(lost)}"
    if code is None:
        return "bad", f"still running after {TIMEOUT} s (killed)"
    if code == 0 and _nonfinite_saved(folder):
        return "bad", "saved NaN/inf results with exit 0"
    # progress bars are not messages
    # progress bars and argparse's usage lines (before its one error line) are not messages
    lines = [line for line in stderr.replace("\r", "\n").splitlines()
             if line.strip() and "|" not in line and not line.startswith(("usage:", " "))]
    errors = [line for line in lines if ": error:" in line]
    if "Traceback" in stderr:
        tail = lines[-1] if lines else ""
        return "poor", f"traceback: {tail[:150]}"
    if case.expect == "error":
        if code == 0:
            return "poor", "accepted (exit 0)"
        if not errors:
            return "poor", f"exit {code} without a one-line error: {(lines or [''])[-1][:150]}"
        if len(errors) != 1 or len([ln for ln in lines if not ln.startswith("usage:")]) > 1:
            return "poor", f"more than one line: {' | '.join(lines)[:150]}"
        if case.message and case.message.lower() not in errors[0].lower():
            return "poor", f"message lacks '{case.message}': {errors[0][:150]}"
    elif code != 0:
        return "poor", f"refused: {(errors or lines or [''])[-1][:150]}"
    elif case.says and case.says not in stdout:
        return "poor", f"did not say '{case.says}': {stdout.strip()[-150:]}"
    if stray:
        return "poor", f"left {', '.join(stray[:3])}"
    return "good", errors[0][:150] if errors else "ok"
