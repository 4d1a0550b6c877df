"""The bad-input sweep's value cases, generated from every command's config (each field's range and type),
and the tiny valid command line each one changes."""

from __future__ import annotations

import shutil
import types
import typing
from pathlib import Path

from bad_input_base import BASE, Case
from rlsae.config import flag_fields

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


def copy_sae(case: Path) -> None:
    shutil.copytree(case.parent.parent / "base" / "sae", case / "sae")


def value_cases() -> list[Case]:
    """One case per bound and per NaN float of every numeric option of every command; inf and a non-number
    for one option of each command (argparse and the finiteness check treat every option alike)."""
    cases = []
    for command, cls in _config_classes().items():
        once: set[str] = set()
        for f, hint in flag_fields(cls):  # a block's shared options (train-sae's --k) are flags too
            kind, meta = _scalar_type(hint), f.metadata
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
            prepare = copy_sae if command in COPY_SAE else None
            for value in bad:
                argv = [command, *without(TINY[command], flag), flag, value]
                cases.append(Case("value", f"{command} {flag} {value}", argv, message=flag, prepare=prepare))
    # Commands that validate in __post_init__ rather than declaring ranges: their meaningless values by hand.
    for command, flag, value in (("demo", "steps", "-5"), ("demo", "samples", "0"), ("demo", "num-envs", "0"),
                                 ("demo", "k", "0"), ("demo", "expansion-factor", "0"), ("demo", "episodes", "-1"),
                                 ("demo", "steer-top", "-3"), ("demo", "steer-episodes", "0"), ("demo", "seed", "-1"),
                                 ("sweep", "steps", "-5"), ("sweep", "samples", "0"), ("sweep", "d-sae", "0"),
                                 ("sweep", "episodes", "-1"), ("sweep", "heldout-fraction", "nan"),
                                 ("sweep", "seed", "-1"), ("sweep", "arms", "nonsense")):
        argv = [command, *without(TINY[command], "--" + flag), "--" + flag, value]
        cases.append(Case("value", f"{command} --{flag} {value}", argv, message=flag.split("-")[0]))
    return cases


def without(argv: list[str], flag: str) -> list[str]:
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


def tiny(command: str, **flags: str) -> list[str]:
    argv = TINY[command]
    for flag in flags:
        argv = without(argv, "--" + flag.replace("_", "-"))
    return [command, *argv, *[t for k, v in flags.items() for t in ("--" + k.replace("_", "-"), v)]]

