"""The bad-input sweep: bad inputs, bad values and faults against every command, as a careful user would.

Builds tiny real outputs once with the CLI (a random-weight agent, a 320-step recording, a 32-latent SAE,
its evaluation, interpret, steer and browser outputs), then runs each case as its own `rlsae` process and
classifies it:

    good  the expected outcome: a one-line `rlsae CMD: error: ...` with exit code != 0 where the input is a
          mistake (exit 0 where it is a legitimate request), no traceback, no stray temporary files
    poor  a traceback, a message of more than one line, a mistake accepted (exit 0), a legitimate request
          refused, or temporary files left behind
    bad   data lost (any file of the shared outputs or of a case's protected folder changed), a hang
          (killed at the time limit), or a non-finite result saved with exit 0

Range cases are generated from every command's config (each field's declared range and type); the
rest are written out below. The counts and every non-good row go into BENCHMARKS.md.

    python benchmarks/bad_inputs.py [--work runs/bad_inputs] [--only SUBSTRING] [--no-report] [--again]

--again runs only the cases the last run (WORK/results.json) did not judge good, e.g. after fixing
them, and reports both passes: the first pass's counts and the re-run's.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section  # noqa: E402

TIMEOUT = 90
RUNNER = "import sys\n{fault}\nfrom rlsae.cli import main\nsys.exit(main(sys.argv[1:]))"
TEMPORARY = (".tmp", ".partial", ".probe")
METRICS = ("fvu", "mse", "l0", "dead_fraction", "q_rel_error", "score_spliced")


@dataclass
class Case:
    kind: str                      # the kind of bad input
    name: str
    argv: list[str]                # the rlsae command line; "{case}" is this case's own folder
    expect: str = "error"          # "error": a mistake to refuse; "ok": a request to carry out
    message: str = ""              # a substring the one-line error must hold (a misleading one is poor)
    says: str = ""                 # a substring stdout must hold when the request is carried out
    prepare: Callable[[Path], None] | None = None   # make the case's damaged inputs in its folder
    protect: tuple[str, ...] = ()  # folders (relative to the case folder) that must be unchanged
    fault: str = ""                # Python run in the process before rlsae (fault injection)
    tmpfs_kb: int = 0              # "{case}/full" is a tmpfs of this many KiB (< 0: read-only)
    fill: bool = False             # fill that tmpfs up to its last 2 KiB first
    concurrent: list[str] | None = None  # a process holding the same output while this case runs


@dataclass
class Result:
    case: Case
    verdict: str
    why: str
    code: int | None
    seconds: float
    stderr: str = field(repr=False, default="")
    stdout: str = field(repr=False, default="")


# ---------------------------------------------------------------- the shared tiny outputs

def rlsae(*argv: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "rlsae.cli", *argv], cwd=cwd, capture_output=True, text=True,
                          env=_env())
    if proc.returncode != 0:
        raise SystemExit(f"setup failed: rlsae {' '.join(argv)}\n{proc.stderr}")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def build_base(base: Path) -> None:
    """The shared outputs every case reads (made once; kept between runs)."""
    if (base / "done").exists():
        return
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    import torch

    from rlsae.agents.checkpoint import save_checkpoint
    from rlsae.agents.qnet import QNetwork

    torch.manual_seed(0)
    save_checkpoint(base / "agent", QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    rlsae("record", "--checkpoint", "agent", "--out", "rec", "--steps", "320", "--num-envs", "2",
          "--chunk-size", "128", "--epsilon", "0.5", "--no-progress", cwd=base)
    rlsae("train-sae", "--recording", "rec", "--out", "sae", "--d-sae", "32", "--k", "4", "--samples", "2048",
          "--batch-size", "128", "--device", "cpu", "--heldout-fraction", "0.25", "--no-progress", cwd=base)
    rlsae("evaluate", "--sae", "sae", "--episodes", "0", "--no-progress", cwd=base)
    rlsae("interpret", "--sae", "sae", "--out", "interp", "--n-top", "4", "--n-per-quantile", "1",
          "--features-per-cluster", "4", "--no-progress", cwd=base)
    rlsae("steer", "--sae", "sae", "--interpret", "interp", "--feature", "0", "--episodes", "1", "--num-envs", "1",
          "--max-steps", "30", "--gif-steps", "10", "--out", "steer", "--no-progress", cwd=base)
    rlsae("browse", "--interpret", "interp", "--out", "browser", "--workers", "1", "--no-progress", cwd=base)
    (base / "done").write_text("")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- the cases

BASE = "{base}"
# A valid, tiny command line per command: a generated value case changes one flag of it, so a value
# wrongly accepted shows up as a run that finishes (or times out), not as a different error.
TINY = {
    "train-agent": ["--out", "{case}/agent", "--total-steps", "256", "--num-envs", "2", "--rollout-steps", "8",
                    "--minibatch-size", "16", "--eval-every", "100000", "--save-every", "100000", "--device", "cpu",
                    "--no-progress"],
    "evaluate-agent": ["--checkpoint", f"{BASE}/agent", "--episodes", "1", "--num-envs", "1", "--epsilon", "1"],
    "record": ["--checkpoint", f"{BASE}/agent", "--out", "{case}/rec", "--steps", "32", "--num-envs", "2",
               "--chunk-size", "16", "--no-progress"],
    "train-sae": ["--recording", f"{BASE}/rec", "--out", "{case}/sae", "--d-sae", "32", "--k", "4",
                  "--samples", "1024", "--batch-size", "128", "--device", "cpu", "--no-progress"],
    "evaluate": ["--sae", "{case}/sae", "--episodes", "0", "--no-progress"],
    "interpret": ["--sae", f"{BASE}/sae", "--out", "{case}/interp", "--n-top", "4", "--n-per-quantile", "1",
                  "--features-per-cluster", "4", "--no-progress"],
    "steer": ["--sae", f"{BASE}/sae", "--interpret", f"{BASE}/interp", "--feature", "0", "--episodes", "1",
              "--num-envs", "1", "--max-steps", "30", "--gif-steps", "10", "--out", "{case}/steer", "--no-progress"],
    "browse": ["--interpret", f"{BASE}/interp", "--out", "{case}/browser", "--workers", "1", "--no-progress"],
    "sweep": ["--checkpoints", "{case}/none", "--out", "{case}/sweep", "--steps", "1000", "--samples", "4096",
              "--d-sae", "32", "--episodes", "1", "--no-progress"],
    "demo": ["--out", "{case}/demo", "--steps", "1000", "--samples", "4096", "--episodes", "1", "--no-progress"],
}
# The one command that writes into its input (evaluate writes into --sae): it gets a copy.
COPY_SAE = {"evaluate"}


def _config_classes() -> dict[str, type]:
    from rlsae.cli import COMMANDS

    return {c.name: c.config() for c in COMMANDS}


def _scalar_type(hint: object) -> type | None:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return _scalar_type(args[0]) if len(args) == 1 else None
    return hint if hint in (int, float) else None


def _copy_sae(case: Path) -> None:
    shutil.copytree(case.parent.parent / "base" / "sae", case / "sae")


def value_cases() -> list[Case]:
    """One case per bound and per NaN float of every numeric option of every command; inf and a non-number
    for one option of each command (argparse and the finiteness check treat every option alike)."""
    cases = []
    for command, cls in _config_classes().items():
        hints = typing.get_type_hints(cls)
        once: set[str] = set()
        for f in dataclasses.fields(cls):
            kind, meta = _scalar_type(hints[f.name]), f.metadata
            if kind is None:
                continue
            flag = "--" + f.name.replace("_", "-")
            bad: list[str] = []  # each refused with a one-line error naming the flag
            if "low" in meta or "gt" in meta:
                below = meta["low"] - 1 if "low" in meta else meta["gt"]
                bad.append(str(kind(below)) if kind is int else repr(float(below)))
            if "high" in meta or "lt" in meta:
                bad.append(str(kind(meta["high"] + 1 if "high" in meta else meta["lt"])))
            if kind is float:
                bad.append("nan")
                if "inf" not in once:
                    bad.append("inf")
                    once.add("inf")
            if "word" not in once:
                bad.append("twelve")
                once.add("word")
            prepare = _copy_sae if command in COPY_SAE else None
            for value in bad:
                argv = [command, *_without(TINY[command], flag), flag, value]
                cases.append(Case("value", f"{command} {flag} {value}", argv, message=flag, prepare=prepare))
    # Commands that validate in __post_init__ rather than declaring ranges: their meaningless values by hand.
    for command, flag, value in (("demo", "steps", "-5"), ("demo", "samples", "0"), ("demo", "num-envs", "0"),
                                 ("demo", "k", "0"), ("demo", "expansion-factor", "0"), ("demo", "episodes", "-1"),
                                 ("demo", "steer-top", "-3"), ("demo", "steer-episodes", "0"), ("demo", "seed", "-1"),
                                 ("sweep", "steps", "-5"), ("sweep", "samples", "0"), ("sweep", "d-sae", "0"),
                                 ("sweep", "episodes", "-1"), ("sweep", "heldout-fraction", "nan"),
                                 ("sweep", "seed", "-1"), ("sweep", "arms", "nonsense")):
        argv = [command, *_without(TINY[command], "--" + flag), "--" + flag, value]
        cases.append(Case("value", f"{command} --{flag} {value}", argv, message=flag.split("-")[0]))
    return cases


def _without(argv: list[str], flag: str) -> list[str]:
    out, skip = [], False
    for i, token in enumerate(argv):
        if skip:
            skip = False
            continue
        if token == flag:
            skip = i + 1 < len(argv) and not argv[i + 1].startswith("--")
            continue
        out.append(token)
    return out


def _with(command: str, **flags: str) -> list[str]:
    argv = TINY[command]
    for flag in flags:
        argv = _without(argv, "--" + flag.replace("_", "-"))
    return [command, *argv, *[t for k, v in flags.items() for t in ("--" + k.replace("_", "-"), v)]]


def _writer(relative: str, data: bytes | str | Callable[[bytes], bytes], source: str = "") -> Callable[[Path], None]:
    """prepare: copy base/SOURCE to the case folder (if given), then replace RELATIVE's content."""
    def prepare(case: Path) -> None:
        if source:
            shutil.copytree(case.parent.parent / "base" / source, case / source)
        path = case / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_bytes() if path.exists() else b""
        new = data(old) if callable(data) else data
        path.write_bytes(new.encode() if isinstance(new, str) else new)
    return prepare


def _remove(relative: str, source: str) -> Callable[[Path], None]:
    def prepare(case: Path) -> None:
        shutil.copytree(case.parent.parent / "base" / source, case / source)
        target = case / relative
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return prepare


def _json_edit(relative: str, source: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    return _writer(relative, lambda old: json.dumps(edit(json.loads(old))), source)


def _nan_rows(case: Path) -> None:
    import numpy as np

    shutil.copytree(case.parent.parent / "base" / "rec", case / "rec")
    path = case / "rec" / "chunks" / "000001" / "activations.npy"
    array = np.load(path)
    array[[3, 40]] = np.nan
    array[7, 5] = np.inf
    np.save(path, array)


def _nan_sae(case: Path) -> None:
    from safetensors.torch import load_file, save_file

    shutil.copytree(case.parent.parent / "base" / "sae", case / "sae")
    weights = load_file(str(case / "sae" / "sae_weights.safetensors"))
    weights["W_dec"][2, 3] = float("nan")
    save_file(weights, str(case / "sae" / "sae_weights.safetensors"))


def _both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def prepare(case: Path) -> None:
        for step in steps:
            step(case)
    return prepare


def _copy(*names: str) -> Callable[[Path], None]:
    def prepare(case: Path) -> None:
        for name in names:
            shutil.copytree(case.parent.parent / "base" / name, case / name)
    return prepare


def _truncate(old: bytes) -> bytes:
    return old[: len(old) // 2]


def _garbage(old: bytes) -> bytes:
    return os.urandom(max(len(old), 64))


def output_cases() -> list[Case]:
    """--out / --json / --png: files for folders, folders for files, other kinds, unwritable, full, busy."""
    cases = []
    outs = {"train-agent": "agent", "record": "rec", "train-sae": "sae", "interpret": "interp", "steer": "steer",
            "browse": "browser", "sweep": "sweep", "demo": "demo"}
    notes = _writer("notes.txt", "mine")
    for command, name in outs.items():
        flag_out = f"{{case}}/{name}"
        cases += [
            Case("output", f"{command} --out is a file", _with(command, out="{case}/notes.txt"),
                 message="is a file", prepare=notes),
            Case("output", f"{command} --out holds a recording", _with(command, out="{case}/rec"),
                 message="holds recording output" if command != "record" else "", prepare=_copy("rec"),
                 protect=("rec",), expect="ok" if command == "record" else "error"),
            Case("output", f"{command} --out is a non-empty foreign folder", _with(command, out=flag_out),
                 message="holds no rlsae output", prepare=_writer(f"{name}/thesis.tex", "mine"), protect=(name,)),
            Case("output", f"{command} --out under a file", _with(command, out="{case}/notes.txt/sub"),
                 message="notes.txt", prepare=notes),
            Case("output", f"{command} --out on a read-only file system",
                 _with(command, out="{case}/full/out"), message="Read-only", tmpfs_kb=-64),
        ]
    for command, flag in (("evaluate-agent", "json"), ("evaluate", "json"), ("evaluate", "png"), ("steer", "json")):
        prepare = _both(_copy_sae, notes) if command in COPY_SAE else notes
        cases += [
            Case("output", f"{command} --{flag} is a folder", _with(command, **{flag: "{case}"}), message="is a folder",
                 prepare=prepare),
            Case("output", f"{command} --{flag} under a file", _with(command, **{flag: "{case}/notes.txt/r"}),
                 message="notes.txt", prepare=prepare),
        ]
    cases.append(Case("output", "evaluate --sae is a recording", ["evaluate", "--sae", f"{BASE}/rec", "--episodes",
                                                                   "0"], message="holds recording output"))
    return cases


def _recording_damage() -> list[tuple[str, Callable[[Path], None], str]]:
    chunk = "rec/chunks/000001"
    return [
        ("recording manifest is not JSON", _writer("rec/manifest.json", "{oops", "rec"), "JSON"),
        ("recording manifest is a list", _writer("rec/manifest.json", "[1, 2]", "rec"), "manifest"),
        ("recording manifest format_version 99",
         _json_edit("rec/manifest.json", "rec", lambda m: {**m, "format_version": 99}), "upgrade"),
        ("recording manifest d_act is a string",
         _json_edit("rec/manifest.json", "rec", lambda m: {**m, "d_act": "512"}), "d_act"),
        ("recording manifest missing", _remove("rec/manifest.json", "rec"), "manifest"),
        ("recording chunk activations truncated", _writer(f"{chunk}/activations.npy", _truncate, "rec"), "000001"),
        ("recording chunk activations random bytes", _writer(f"{chunk}/activations.npy", _garbage, "rec"),
         "000001"),
        ("recording chunk snapshots.bin missing", _remove(f"{chunk}/snapshots.bin", "rec"), "snapshots.bin"),
        ("recording chunk episodes.parquet garbage", _writer(f"{chunk}/episodes.parquet", _garbage, "rec"),
         "000001"),
        ("recording chunk folder missing", _remove(chunk, "rec"), ""),
        ("recording with NaN and inf activations", _nan_rows, "000001"),
        ("recording is an empty folder", _writer("rec/.keep", ""), ""),
    ]


def _sae_damage() -> list[tuple[str, Callable[[Path], None], str]]:
    weights = "sae/sae_weights.safetensors"
    return [
        ("SAE cfg.json not JSON", _writer("sae/cfg.json", "{oops", "sae"), "JSON"),
        ("SAE cfg.json a list", _writer("sae/cfg.json", "[]", "sae"), "SAE config"),
        ("SAE cfg.json unknown architecture",
         _json_edit("sae/cfg.json", "sae", lambda c: {**c, "architecture": "gated"}), "not supported"),
        ("SAE cfg.json d_sae disagrees with weights",
         _json_edit("sae/cfg.json", "sae", lambda c: {**c, "d_sae": 64}), "shape"),
        ("SAE cfg.json d_in a string", _json_edit("sae/cfg.json", "sae", lambda c: {**c, "d_in": "512"}), "d_in"),
        ("SAE weights empty", _writer(weights, b"", "sae"), "safetensors"),
        ("SAE weights truncated", _writer(weights, _truncate, "sae"), "safetensors"),
        ("SAE weights random bytes", _writer(weights, _garbage, "sae"), "safetensors"),
        ("SAE weights missing", _remove(weights, "sae"), "missing"),
        ("SAE weights hold NaN", _nan_sae, "NaN"),
    ]


def _agent_damage() -> list[tuple[str, Callable[[Path], None], str]]:
    weights = "agent/model.safetensors"
    return [
        ("agent weights empty", _writer(weights, b"", "agent"), "safetensors"),
        ("agent weights truncated", _writer(weights, _truncate, "agent"), "safetensors"),
        ("agent weights random bytes", _writer(weights, _garbage, "agent"), "safetensors"),
        ("agent manifest a list", _writer("agent/manifest.json", "[]", "agent"), "manifest"),
        ("agent manifest n_actions a string",
         _json_edit("agent/manifest.json", "agent", lambda m: {**m, "n_actions": "9"}), "n_actions"),
        ("agent with more actions than its game",
         _json_edit("agent/manifest.json", "agent", lambda m: {**m, "game": "breakout"}), "actions"),
        ("agent weights missing", _remove(weights, "agent"), ""),
        ("agent folder empty", _writer("agent/.keep", ""), ""),
    ]


def _interpret_damage() -> list[tuple[str, Callable[[Path], None], str]]:
    return [
        ("interpret manifest missing", _remove("interp/manifest.json", "interp"), ""),
        ("interpret manifest not JSON", _writer("interp/manifest.json", "{oops", "interp"), "JSON"),
        ("interpret features.npz truncated", _writer("interp/features.npz", _truncate, "interp"), "features.npz"),
        ("interpret features.json a list", _writer("interp/features.json", "[]", "interp"), "features.json"),
        ("interpret summary.json missing", _remove("interp/summary.json", "interp"), ""),
    ]


def input_cases() -> list[Case]:
    """Damaged or mismatched inputs, each fed to every command that reads that kind of input."""
    cases = []
    for name, prepare, message in _recording_damage():
        cases.append(Case("corrupt input", f"train-sae: {name}", _with("train-sae", recording="{case}/rec"),
                          message=message, prepare=prepare))
        cases.append(Case("corrupt input", f"interpret: {name}", _with("interpret", recording="{case}/rec"),
                          message=message, prepare=prepare))
    for name, prepare, message in _sae_damage():
        for command in ("evaluate", "interpret", "steer"):
            cases.append(Case("corrupt input", f"{command}: {name}", _with(command, sae="{case}/sae"),
                              message=message, prepare=prepare))
    for name, prepare, message in _agent_damage():
        cases.append(Case("corrupt input", f"record: {name}", _with("record", checkpoint="{case}/agent"),
                          message=message, prepare=prepare))
        cases.append(Case("corrupt input", f"evaluate-agent: {name}",
                          _with("evaluate-agent", checkpoint="{case}/agent"), message=message, prepare=prepare))
    for name, prepare, message in _interpret_damage():
        for command in ("steer", "browse"):
            cases.append(Case("corrupt input", f"{command}: {name}", _with(command, interpret="{case}/interp"),
                              message=message, prepare=prepare))
    cases += [
        Case("corrupt input", "steer --feature beyond the SAE", _with("steer", feature="999"), message="999"),
        Case("corrupt input", "interpret --recording of another width",
             ["interpret", "--sae", "{case}/sae", "--out", "{case}/i", "--no-progress"], message="512",
             prepare=_wide_sae),
        Case("corrupt input", "train-sae --recording is a file", _with("train-sae", recording="{case}/notes.txt"),
             prepare=_writer("notes.txt", "mine")),
        Case("corrupt input", "browse --evaluation not JSON", _with("browse", evaluation="{case}/e.json"),
             message="e.json", prepare=_writer("e.json", "{oops")),
        Case("corrupt input", "evaluate-agent --checkpoint missing", _with("evaluate-agent", checkpoint="{case}/none"),
             message="none"),
    ]
    return cases


def _wide_sae(case: Path) -> None:
    from rlsae.sae import build_sae, save_sae

    recording = case.parent.parent / "base" / "rec"
    save_sae(case / "sae", build_sae("topk", 256, 32, k=4), metadata={"recording": str(recording)})


def resume_cases() -> list[Case]:
    """Re-runs and resumes: finished runs say so, changed settings are named, nothing is mixed or appended."""
    sae = ["--recording", f"{BASE}/rec", "--d-sae", "32", "--k", "4", "--samples", "2048", "--batch-size", "128",
           "--device", "cpu", "--heldout-fraction", "0.25", "--no-progress"]
    return [
        Case("resume", "record re-run on a finished recording", _with("record", out="{case}/rec", steps="320",
             chunk_size="128", epsilon="0.5"), expect="ok", says="is complete", prepare=_copy("rec"),
             protect=("rec",)),
        Case("resume", "record re-run with another --epsilon", _with("record", out="{case}/rec", steps="320",
             chunk_size="128", epsilon="0.2"), expect="ok", says="recorded with --epsilon 0.5", prepare=_copy("rec"),
             protect=("rec",)),
        Case("resume", "record re-run with another --num-envs", _with("record", out="{case}/rec", steps="320",
             chunk_size="128", epsilon="0.5", num_envs="4"), expect="ok", says="recorded with --num-envs 2",
             prepare=_copy("rec"), protect=("rec",)),
        Case("resume", "train-sae re-run on a finished SAE", ["train-sae", "--out", "{case}/sae", *sae], expect="ok",
             prepare=_copy("sae"), protect=("sae",)),
        Case("resume", "train-sae re-run with another --k", ["train-sae", "--out", "{case}/sae",
             *_without(sae, "--k"), "--k", "8"], message="k", prepare=_copy("sae"), protect=("sae",)),
        Case("resume", "train-sae re-run with another --architecture", ["train-sae", "--out", "{case}/sae", *sae,
             "--architecture", "relu"], message="architecture", prepare=_copy("sae"), protect=("sae",)),
        Case("resume", "train-sae re-run on another recording", ["train-sae", "--out", "{case}/sae",
             *_without(sae, "--recording"), "--recording", "{case}/rec2"], message="recording",
             prepare=_both(_copy("sae"), _copy_as("rec", "rec2")), protect=("sae",)),
        Case("resume", "steer re-run with another --mode", _with("steer", out="{case}/steer", mode="ablate"),
             message="mode", prepare=_copy("steer"), protect=("steer",)),
        Case("resume", "steer re-run, same settings", _with("steer", out="{case}/steer"), expect="ok",
             prepare=_copy("steer")),
        Case("resume", "interpret re-run into its own output", _with("interpret", out="{case}/interp"), expect="ok",
             prepare=_copy("interp")),
        Case("resume", "browse re-run into its own output", _with("browse", out="{case}/browser"), expect="ok",
             prepare=_copy("browser")),
        Case("resume", "evaluate --episodes 0 over an evaluation with game scores", _with("evaluate"),
             message="--episodes", prepare=_both(_copy_sae, _json_edit("sae/evaluation.json", "", lambda e: {
                 **e, "sae_weights_sha256": "other", "score_clean": 500.0, "score_spliced": 450.0})),
             protect=("sae",)),
        Case("resume", "train-agent re-run with another --algorithm", ["train-agent", "--out", "{case}/agent",
             "--algorithm", "dqn", "--total-steps", "256", "--device", "cpu", "--no-progress"],
             message="algorithm", prepare=_trained_agent, protect=("agent",)),
        Case("resume", "train-agent re-run with --no-layer-norm", [*_with("train-agent"), "--no-layer-norm"],
             message="layer", prepare=_trained_agent, protect=("agent",)),
    ]


def _copy_as(name: str, new: str) -> Callable[[Path], None]:
    def prepare(case: Path) -> None:
        shutil.copytree(case.parent.parent / "base" / name, case / new)
        manifest = json.loads((case / new / "manifest.json").read_text())
        manifest["n_steps_note"] = "a copy"
        (case / new / "manifest.json").write_text(json.dumps(manifest))
    return prepare


def _trained_agent(case: Path) -> None:
    argv = [arg.replace("{case}", str(case)) for arg in TINY["train-agent"]]
    proc = subprocess.run([sys.executable, "-m", "rlsae.cli", "train-agent", *argv], capture_output=True, text=True,
                          env=_env(), cwd=case)
    if proc.returncode != 0:
        raise RuntimeError(f"could not train the tiny agent: {proc.stderr[-500:]}")


def fault_cases() -> list[Case]:
    """A full disk, and two processes on one output folder."""
    full = 160  # KiB: holds the marker and small files, not a chunk or a state
    cases = [
        Case("disk full", "record onto a full disk", _with("record", out="{case}/full/rec", chunk_size="512",
             steps="1024"), message="disk full", tmpfs_kb=full),
        Case("disk full", "train-sae onto a full disk", _with("train-sae", out="{case}/full/sae", d_sae="2048",
             samples="512"), message="disk full", tmpfs_kb=full),
        Case("disk full", "interpret onto a full disk", _with("interpret", out="{case}/full/interp"),
             message="disk full", tmpfs_kb=24),
        Case("disk full", "browse onto a full disk", _with("browse", out="{case}/full/browser"), message="disk full",
             tmpfs_kb=24),
        Case("disk full", "steer onto a full disk", _with("steer", out="{case}/full/steer"), message="disk full",
             tmpfs_kb=8),
        Case("disk full", "evaluate --json onto a full disk", _with("evaluate", json="{case}/full/e.json",
             png="{case}/full/d.png"), message="disk full", prepare=_copy_sae, tmpfs_kb=64, fill=True),
        Case("disk full", "train-agent onto a full disk", _with("train-agent", out="{case}/full/agent"),
             message="disk full", tmpfs_kb=full),
        Case("disk full", "evaluate-agent --json onto a full disk", _with("evaluate-agent", json="{case}/full/e.json"),
             message="disk full", tmpfs_kb=64, fill=True),
    ]
    hold = ("import sys, time; from rlsae.common.outputs import claim_output\n"
            "with claim_output(sys.argv[1], sys.argv[2]):\n    print('held', flush=True); time.sleep(120)")
    for command, name, kind in (("record", "rec", "recording"), ("train-sae", "sae", "sae"),
                                ("interpret", "interp", "interpret"), ("steer", "steer", "steer"),
                                ("browse", "browser", "browser"), ("train-agent", "agent", "agent")):
        cases.append(Case("two processes", f"{command} while another process writes its --out",
                          _with(command, out=f"{{case}}/{name}"), message="in use",
                          concurrent=["-c", hold, f"{{case}}/{name}", kind]))
    return cases


def all_cases() -> list[Case]:
    return [*output_cases(), *input_cases(), *resume_cases(), *fault_cases(), *value_cases()]


# ---------------------------------------------------------------- running and judging

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
                                      text=True, env=_env(), start_new_session=True)
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        proc = subprocess.Popen([sys.executable, "-c", RUNNER.format(fault=case.fault), *argv], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
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


def report(rows: list[dict], seconds: float, rerun: int, first: Counter | None) -> None:
    """Counts per kind and every non-good row; ``rows`` hold each case's latest verdict."""
    counts = Counter(r["verdict"] for r in rows)
    tried = sum(counts[v] for v in ("good", "poor", "bad"))
    by_kind: dict[str, Counter] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], Counter())[r["verdict"]] += 1
    table = [[kind, str(c["good"] + c["poor"] + c["bad"]), str(c["good"]), str(c["poor"]), str(c["bad"])]
             for kind, c in by_kind.items()]
    table.append(["**all**", str(tried), str(counts["good"]), str(counts["poor"]), str(counts["bad"])])
    how = (f"{tried} cases on tiny real outputs, each its own `rlsae` process ({seconds / 60:.1f} min)"
           if first is None else
           f"{tried} cases on tiny real outputs, each its own `rlsae` process. First pass: "
           f"{sum(first[v] for v in ('good', 'poor', 'bad'))} tried, {first['good']} good, {first['poor']} poor, "
           f"{first['bad']} bad; after fixes, the cases not judged good (and new ones) were run again "
           f"(`--again`; the last re-run: {rerun} cases, {seconds / 60:.1f} min): the table holds each case's "
           "latest verdict")
    notes = [how + (f"; {counts['skipped']} skipped (no tmpfs could be mounted)" if counts["skipped"] else "")
             + ". Good: the expected one-line error (or the request carried out), no traceback, nothing changed "
             "that the command did not write, no temporary files left. Every case not judged good:", "",
             "| verdict | kind | case | what happened |", "|---|---|---|---|"]
    notes += [f"| {r['verdict']} | {r['kind']} | {r['case']} | {r['why'].replace('|', '/')} |"
              for r in rows if r["verdict"] in ("poor", "bad")] or ["| - | - | (none) | - |"]
    append_section("Bad-input sweep", ["kind", "tried", "good", "poor", "bad"], table, "\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("runs/bad_inputs"))
    parser.add_argument("--only", default="", help="run only the cases whose name holds this")
    parser.add_argument("--no-report", action="store_true", help="do not write BENCHMARKS.md")
    parser.add_argument("--again", action="store_true", help="re-run only the last run's cases not judged good")
    args = parser.parse_args()
    work = args.work.resolve()
    build_base(work / "base")
    before = digest(work / "base")
    cases = [c for c in all_cases() if args.only in c.name]
    earlier: dict[str, dict] = {}
    first_pass = work / "results.first.json"  # the last full run's verdicts, kept for the report of re-runs
    if args.again:
        earlier = {r["case"]: r for r in json.loads((work / "results.json").read_text())}
        cases = [c for c in cases if earlier.get(c.name, {}).get("verdict") != "good"]
        if not first_pass.exists():
            shutil.copy(work / "results.json", first_pass)
    elif not args.only:
        first_pass.unlink(missing_ok=True)
    start = time.perf_counter()
    results = []
    for i, case in enumerate(cases):
        result = run_case(case, work, i)
        if digest(work / "base") != before:
            result.verdict, result.why = "bad", "changed the shared outputs it read"
            shutil.rmtree(work / "base")
            build_base(work / "base")
            before = digest(work / "base")
        results.append(result)
        print(f"[{i + 1}/{len(cases)}] {result.verdict:<7} {case.name}: {result.why} ({result.seconds:.1f} s)",
              flush=True)
    rows = {**earlier, **{r.case.name: {"kind": r.case.kind, "case": r.case.name, "verdict": r.verdict, "why": r.why,
                                        "code": r.code, "stderr": r.stderr[-2000:]} for r in results}}
    (work / "results.json").write_text(json.dumps(list(rows.values()), indent=1))
    counts = Counter(r.verdict for r in results)
    print(f"tried {sum(counts[v] for v in ('good', 'poor', 'bad'))}: {dict(counts)}")
    if not args.no_report and not args.only:
        first = Counter(r["verdict"] for r in json.loads(first_pass.read_text())) if args.again else None
        report(list(rows.values()), time.perf_counter() - start, len(results), first)


if __name__ == "__main__":
    main()
