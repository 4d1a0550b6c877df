"""Shared fixtures: a deterministic seed and a small random-weight agent checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from rlsae.agents.checkpoint import save_checkpoint
from rlsae.agents.qnet import QNetwork


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def random_agent(tmp_path: Path) -> Path:
    """A checkpoint folder holding an untrained Ms. Pac-Man Q-network."""
    folder = tmp_path / "agent"
    save_checkpoint(folder, QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    return folder


@pytest.fixture(scope="session")
def tiny_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real recording of an untrained agent: 640 steps of 4 games in parallel, made once per session."""
    from rlsae.record.recorder import RecordConfig, record

    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    agent = root / "agent"
    save_checkpoint(agent, QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    return record(RecordConfig(out=root / "recording", checkpoint=agent, steps=640, num_envs=4, epsilon=0.5,
                               chunk_size=256, progress=False))


@pytest.fixture(scope="session")
def small_pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real recording (random-weight agent, random actions, complete games), a tiny Top-K SAE on it
    (512 -> 64, k = 4; untrained, so its features are random but live) and its interpret output."""
    import numpy as np

    from rlsae.analysis.interpret import InterpretConfig, interpret
    from rlsae.record.recorder import RecordConfig, record
    from rlsae.sae import build_sae, save_sae

    root = tmp_path_factory.mktemp("pipeline")
    torch.manual_seed(0)
    agent = root / "agent"
    save_checkpoint(agent, QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    recording = record(RecordConfig(out=root / "rec", checkpoint=agent, steps=1400, num_envs=2, epsilon=1.0,
                                    chunk_size=512, snapshot_every=8, progress=False))
    from rlsae.record import Recording

    x = torch.from_numpy(np.asarray(Recording.open(recording).activations, np.float32))
    sae = build_sae("topk", 512, 64, k=4)
    with torch.no_grad():
        sae.b_dec.copy_(x.mean(0))
    save_sae(root / "sae", sae, metadata={"recording": str(recording)})
    interpret(InterpretConfig(sae=root / "sae", out=root / "interpret", n_top=6, n_per_quantile=2,
                              features_per_cluster=8, progress=False))
    return {"recording": recording, "sae": root / "sae", "interpret": root / "interpret", "root": root}


@pytest.fixture(scope="session")
def other_seed_pipeline(small_pipeline: dict[str, Path]) -> dict[str, Any]:
    """small_pipeline's SAE interpreted against a planted "other seed" (``--other-sae``): the same decoder rows
    shuffled, every third one reversed, so feature f is found again, as the other SAE's feature at[f] with
    cosine 1, exactly when its row kept its sign (a reversed row has cosine -1 there and about 0 elsewhere)."""
    import numpy as np

    from rlsae.analysis.interpret import InterpretConfig, interpret
    from rlsae.sae import load_sae, save_sae

    root = small_pipeline["root"]
    sae = load_sae(small_pipeline["sae"])
    order = np.random.default_rng(4).permutation(sae.d_sae)  # the other SAE's feature j is ours order[j]
    sign = np.where(np.arange(sae.d_sae) % 3 == 0, -1.0, 1.0)
    with torch.no_grad():
        sae.W_dec.copy_(torch.as_tensor(sign[:, None], dtype=torch.float32) * sae.W_dec[order])
    save_sae(root / "other_seed", sae, metadata={"recording": str(small_pipeline["recording"])})
    at = np.argsort(order)
    interpret(InterpretConfig(sae=small_pipeline["sae"], out=root / "interpret_seed", other_sae=root / "other_seed",
                              n_top=6, n_per_quantile=2, features_per_cluster=8, progress=False))
    return {"sae": small_pipeline["sae"], "other": root / "other_seed", "interpret": root / "interpret_seed",
            "at": at, "found": sign[at] > 0}


_TYPES = {"integer": int, "number": (int, float), "string": str, "boolean": bool, "null": type(None),
          "array": list, "object": dict}


def _conforms(value: Any, rule: dict[str, Any]) -> bool:
    """A small JSON-schema check: type, const, anyOf, required and known properties, items."""
    if "anyOf" in rule:
        return any(_conforms(value, r) for r in rule["anyOf"])
    if "const" in rule:
        return value == rule["const"]
    kind = rule.get("type")
    if kind is not None and (not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))):
        return False
    if kind == "array":
        return all(_conforms(v, rule.get("items", {})) for v in value)
    if kind == "object":
        props = rule.get("properties", {})
        if any(key not in value for key in rule.get("required", [])):
            return False
        if rule.get("additionalProperties") is False and any(key not in props for key in value):
            return False
        extra = rule.get("additionalProperties") if isinstance(rule.get("additionalProperties"), dict) else {}
        return all(_conforms(v, props.get(k, extra)) for k, v in value.items())
    return True


@pytest.fixture
def conforms() -> Any:
    """``conforms(value, schema)``: whether a parsed JSON value fits a JSON schema made by rlsae.common.records."""
    return _conforms


@pytest.fixture
def steer_bench_record() -> Any:
    """A small, hand-made `rlsae steer-bench` record (no games played): one goal where the best feature reaches
    the goal from all 8 held-out starts, every other handle and the clean agent from none."""
    import numpy as np

    from rlsae.analysis.steer_bench import mcnemar, wilson
    from rlsae.analysis.steer_bench_results import CONTROLS, GoalBench, HandleScore, Screened, SteerBenchRun

    handles = ("best feature", "best neuron", "probe", "difference of means", *CONTROLS)
    clean = [False] * 8

    def score(name: str, ratio: float) -> HandleScore:
        reached = [name == "best feature"] * 8
        gained, lost, p = mcnemar(np.array(reached), np.array(clean))
        low, high = wilson(sum(reached), len(reached))
        return HandleScore(name, 7 if "feature" in name else 3 if name == "best neuron" else None, 2.0 * ratio,
                           ratio, sum(reached) / 8, low, high, reached, gained, lost, p, -10.0,
                           0.3 if name in CONTROLS else 0.1)

    goal = GoalBench("eat_pill_top_left", "not pill_top_left", 200, "once", [1, 2], list(range(10, 18)), 0.0, clean,
                     120.0, [Screened(7, 1, 0.3, 3, 2)], [Screened(3, -1, 0.2, 1, None)], 0.8,
                     [score(h, r) for r in (0.5, 1.0) for h in handles], dict.fromkeys(handles[1:], 2 / 2 ** 8))
    return SteerBenchRun("/sae", "/recording", 2.0, {"sizes": [0.5, 1.0]}, {"commit": "test"}, [goal])
