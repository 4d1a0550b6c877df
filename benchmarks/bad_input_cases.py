"""The bad-input sweep's written-out cases: damaged outputs and inputs, resumes and injected faults."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bad_input_base import BASE, Case, child_env
from bad_input_values import COPY_SAE, TINY, copy_sae, tiny, value_cases, without


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
            Case("output", f"{command} --out is a file", tiny(command, out="{case}/notes.txt"),
                 message="is a file", prepare=notes),
            Case("output", f"{command} --out holds a recording", tiny(command, out="{case}/rec"),
                 message="holds recording output" if command != "record" else "", prepare=_copy("rec"),
                 protect=("rec",), expect="ok" if command == "record" else "error"),
            Case("output", f"{command} --out is a non-empty foreign folder", tiny(command, out=flag_out),
                 message="holds no rlsae output", prepare=_writer(f"{name}/thesis.tex", "mine"), protect=(name,)),
            Case("output", f"{command} --out under a file", tiny(command, out="{case}/notes.txt/sub"),
                 message="notes.txt", prepare=notes),
            Case("output", f"{command} --out on a read-only file system",
                 tiny(command, out="{case}/full/out"), message="Read-only", tmpfs_kb=-64),
        ]
    for command, flag in (("evaluate-agent", "json"), ("evaluate", "json"), ("evaluate", "png"), ("steer", "json")):
        prepare = _both(copy_sae, notes) if command in COPY_SAE else notes
        cases += [
            Case("output", f"{command} --{flag} is a folder", tiny(command, **{flag: "{case}"}), message="is a folder",
                 prepare=prepare),
            Case("output", f"{command} --{flag} under a file", tiny(command, **{flag: "{case}/notes.txt/r"}),
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
        cases.append(Case("corrupt input", f"train-sae: {name}", tiny("train-sae", recording="{case}/rec"),
                          message=message, prepare=prepare))
        cases.append(Case("corrupt input", f"interpret: {name}", tiny("interpret", recording="{case}/rec"),
                          message=message, prepare=prepare))
    for name, prepare, message in _sae_damage():
        for command in ("evaluate", "interpret", "steer"):
            cases.append(Case("corrupt input", f"{command}: {name}", tiny(command, sae="{case}/sae"),
                              message=message, prepare=prepare))
    for name, prepare, message in _agent_damage():
        cases.append(Case("corrupt input", f"record: {name}", tiny("record", checkpoint="{case}/agent"),
                          message=message, prepare=prepare))
        cases.append(Case("corrupt input", f"evaluate-agent: {name}",
                          tiny("evaluate-agent", checkpoint="{case}/agent"), message=message, prepare=prepare))
    for name, prepare, message in _interpret_damage():
        for command in ("steer", "browse"):
            cases.append(Case("corrupt input", f"{command}: {name}", tiny(command, interpret="{case}/interp"),
                              message=message, prepare=prepare))
    cases += [
        Case("corrupt input", "steer --feature beyond the SAE", tiny("steer", feature="999"), message="999"),
        Case("corrupt input", "interpret --recording of another width",
             ["interpret", "--sae", "{case}/sae", "--out", "{case}/i", "--no-progress"], message="512",
             prepare=_wide_sae),
        Case("corrupt input", "train-sae --recording is a file", tiny("train-sae", recording="{case}/notes.txt"),
             prepare=_writer("notes.txt", "mine")),
        Case("corrupt input", "browse --evaluation not JSON", tiny("browse", evaluation="{case}/e.json"),
             message="e.json", prepare=_writer("e.json", "{oops")),
        Case("corrupt input", "evaluate-agent --checkpoint missing", tiny("evaluate-agent", checkpoint="{case}/none"),
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
        Case("resume", "record re-run on a finished recording", tiny("record", out="{case}/rec", steps="320",
             chunk_size="128", epsilon="0.5"), expect="ok", says="is complete", prepare=_copy("rec"),
             protect=("rec",)),
        Case("resume", "record re-run with another --epsilon", tiny("record", out="{case}/rec", steps="320",
             chunk_size="128", epsilon="0.2"), expect="ok", says="recorded with --epsilon 0.5", prepare=_copy("rec"),
             protect=("rec",)),
        Case("resume", "record re-run with another --num-envs", tiny("record", out="{case}/rec", steps="320",
             chunk_size="128", epsilon="0.5", num_envs="4"), expect="ok", says="recorded with --num-envs 2",
             prepare=_copy("rec"), protect=("rec",)),
        Case("resume", "train-sae re-run on a finished SAE", ["train-sae", "--out", "{case}/sae", *sae], expect="ok",
             prepare=_copy("sae"), protect=("sae",)),
        Case("resume", "train-sae re-run with another --k", ["train-sae", "--out", "{case}/sae",
             *without(sae, "--k"), "--k", "8"], message="k", prepare=_copy("sae"), protect=("sae",)),
        Case("resume", "train-sae re-run with another --architecture", ["train-sae", "--out", "{case}/sae", *sae,
             "--architecture", "relu"], message="architecture", prepare=_copy("sae"), protect=("sae",)),
        Case("resume", "train-sae re-run on another recording", ["train-sae", "--out", "{case}/sae",
             *without(sae, "--recording"), "--recording", "{case}/rec2"], message="recording",
             prepare=_both(_copy("sae"), _copy_as("rec", "rec2")), protect=("sae",)),
        Case("resume", "steer re-run with another --mode", tiny("steer", out="{case}/steer", mode="ablate"),
             message="mode", prepare=_copy("steer"), protect=("steer",)),
        Case("resume", "steer re-run, same settings", tiny("steer", out="{case}/steer"), expect="ok",
             prepare=_copy("steer")),
        Case("resume", "interpret re-run into its own output", tiny("interpret", out="{case}/interp"), expect="ok",
             prepare=_copy("interp")),
        Case("resume", "browse re-run into its own output", tiny("browse", out="{case}/browser"), expect="ok",
             prepare=_copy("browser")),
        Case("resume", "evaluate --episodes 0 over an evaluation with game scores", tiny("evaluate"),
             message="--episodes", prepare=_both(copy_sae, _json_edit("sae/evaluation.json", "", lambda e: {
                 **e, "sae_weights_sha256": "other", "score_clean": 500.0, "score_spliced": 450.0})),
             protect=("sae",)),
        Case("resume", "train-agent re-run with another --algorithm", ["train-agent", "--out", "{case}/agent",
             "--algorithm", "dqn", "--total-steps", "256", "--device", "cpu", "--no-progress"],
             message="algorithm", prepare=_trained_agent, protect=("agent",)),
        Case("resume", "train-agent re-run with --no-layer-norm", [*tiny("train-agent"), "--no-layer-norm"],
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
                          env=child_env(), cwd=case)
    if proc.returncode != 0:
        raise RuntimeError(f"could not train the tiny agent: {proc.stderr[-500:]}")


def fault_cases() -> list[Case]:
    """A full disk, and two processes on one output folder."""
    full = 160  # KiB: holds the marker and small files, not a chunk or a state
    cases = [
        Case("disk full", "record onto a full disk", tiny("record", out="{case}/full/rec", chunk_size="512",
             steps="1024"), message="disk full", tmpfs_kb=full),
        Case("disk full", "train-sae onto a full disk", tiny("train-sae", out="{case}/full/sae", d_sae="2048",
             samples="512"), message="disk full", tmpfs_kb=full),
        Case("disk full", "interpret onto a full disk", tiny("interpret", out="{case}/full/interp"),
             message="disk full", tmpfs_kb=24),
        Case("disk full", "browse onto a full disk", tiny("browse", out="{case}/full/browser"), message="disk full",
             tmpfs_kb=24),
        Case("disk full", "steer onto a full disk", tiny("steer", out="{case}/full/steer"), message="disk full",
             tmpfs_kb=8),
        Case("disk full", "evaluate --json onto a full disk", tiny("evaluate", json="{case}/full/e.json",
             png="{case}/full/d.png"), message="disk full", prepare=copy_sae, tmpfs_kb=64, fill=True),
        Case("disk full", "train-agent onto a full disk", tiny("train-agent", out="{case}/full/agent"),
             message="disk full", tmpfs_kb=full),
        Case("disk full", "evaluate-agent --json onto a full disk", tiny("evaluate-agent", json="{case}/full/e.json"),
             message="disk full", tmpfs_kb=64, fill=True),
    ]
    hold = ("import sys, time; from rlsae.common.outputs import claim_output\n"
            "with claim_output(sys.argv[1], sys.argv[2]):\n    print('held', flush=True); time.sleep(120)")
    for command, name, kind in (("record", "rec", "recording"), ("train-sae", "sae", "sae"),
                                ("interpret", "interp", "interpret"), ("steer", "steer", "steer"),
                                ("browse", "browser", "browser"), ("train-agent", "agent", "agent")):
        cases.append(Case("two processes", f"{command} while another process writes its --out",
                          tiny(command, out=f"{{case}}/{name}"), message="in use",
                          concurrent=["-c", hold, f"{{case}}/{name}", kind]))
    return cases


def all_cases() -> list[Case]:
    return [*output_cases(), *input_cases(), *resume_cases(), *fault_cases(), *value_cases()]

