"""`rlsae demo`: the whole pipeline on the shipped agent, sized for a 2-core laptop (~10 minutes, 15 CPU-minutes).

    record -> train-sae -> evaluate -> interpret -> steer-bench (the game's demo goals) -> browse

Each stage is the same code as its own subcommand, writing into one folder::

    out/recording/  out/sae/  out/interpret/  out/steer-bench/  out/browser/index.html  out/summary.json

(``--steer-top N`` adds the older steer stage, ``out/steer/``: the N best-labeled features clamped at 10x.)

A stage whose output is already complete is skipped, so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rlsae.analysis.results import load_result
from rlsae.analysis.steer_bench_results import SteerBenchRun
from rlsae.analysis.summary import InterpretSummary
from rlsae.analysis.talk import format_talk_features
from rlsae.common.records import Record, described, show
from rlsae.common.runtime import provenance
from rlsae.config import option, require
from rlsae.sae.evaluation import Evaluation

T = TypeVar("T")
SUMMARY = "summary.json"


@dataclass
class DemoConfig:
    out: Path = option(Path("runs/demo"), "output folder (a finished stage found there is reused)")
    checkpoint: Path | None = option(None, "agent checkpoint folder (default: the shipped agent)")
    steps: int = option(80_000, "agent steps to record")
    num_envs: int = option(16, "games played in parallel while recording")
    samples: int = option(2_000_000, "SAE training samples")
    expansion_factor: int = option(4, "SAE latents per neuron (512 -> 2048)")
    k: int = option(32, "active SAE latents per state")
    episodes: int = option(16, "full games per condition (clean, spliced, two ablations)")
    bench: bool = option(True, "benchmark steering handles on the game's demo goals (a small rlsae steer-bench)")
    bench_starts: int = option(12, "held-out starts per benchmarked goal (and a third as many fit starts)", low=3)
    steer_top: int = option(0, "also clamp this many of the best-labeled features at 10x (rlsae steer)")
    # 16 a side tells a change of ~300 points (two standard errors at the clean agent's std of ~400) from chance
    steer_episodes: int = option(16, "games per steering condition (clean, and each steered feature)")
    seed: int = option(1, "seed for recording, training and games")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        require(self.steps >= 1000, f"--steps must be >= 1000 to hold out whole episodes, got {self.steps}")
        require(self.samples >= 4096, f"--samples must be >= 4096, got {self.samples}")
        require(self.steer_top >= 0 and self.episodes >= 1, "--steer-top must be >= 0 and --episodes >= 1")
        require(self.steer_episodes >= 1, f"--steer-episodes must be >= 1, got {self.steer_episodes}")


class Stages:
    """Runs named stages in order, timing each and skipping those whose output already exists."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, name: str, done: bool, fn: Callable[[], T]) -> T | None:
        """``fn()``, timed; None without running it when ``done``."""
        if done:
            print(f"[{name}] already done: reusing its output")
            return None
        print(f"[{name}]")
        start = time.perf_counter()
        result = fn()
        self.seconds[name] = round(time.perf_counter() - start, 1)
        return result


def run_demo(cfg: DemoConfig) -> DemoSummary:
    from rlsae.analysis.interpret import InterpretConfig, interpret
    from rlsae.analysis.steer import SteerConfig, steer
    from rlsae.analysis.steer_bench import SteerBenchConfig, steer_bench
    from rlsae.browser.build import BrowseConfig, browse
    from rlsae.envs.games import game_spec
    from rlsae.record import RecordConfig, record
    from rlsae.sae.evaluate import EvaluateSAEConfig, evaluate_sae
    from rlsae.sae.train import TrainSAEConfig, train_sae
    from rlsae.stages import BROWSE, EVALUATE, INTERPRET, RECORD, STEER, STEER_BENCH, TRAIN_SAE, recorded

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages()
    started = time.perf_counter()
    recording, sae, interpreted, steered = RECORD.path(out), TRAIN_SAE.path(out), INTERPRET.path(out), STEER.path(out)

    stages.run(RECORD.name, recorded(out, cfg.steps), lambda: record(RecordConfig(
        out=recording, checkpoint=cfg.checkpoint, steps=cfg.steps, num_envs=cfg.num_envs, seed=cfg.seed,
        progress=cfg.progress)))
    stages.run(TRAIN_SAE.name, TRAIN_SAE.done(out), lambda: train_sae(TrainSAEConfig(
        recording=recording, out=sae, expansion_factor=cfg.expansion_factor, options={"k": cfg.k},
        samples=cfg.samples, seed=cfg.seed, progress=cfg.progress)))
    stages.run(EVALUATE.name, EVALUATE.done(out), lambda: evaluate_sae(EvaluateSAEConfig(
        sae=sae, episodes=cfg.episodes, seed=cfg.seed, progress=cfg.progress)))
    stages.run(INTERPRET.name, INTERPRET.done(out), lambda: interpret(InterpretConfig(
        sae=sae, out=interpreted, seed=cfg.seed, progress=cfg.progress)))
    if cfg.steer_top:
        stages.run(STEER.name, STEER.done(out), lambda: steer(SteerConfig(
            sae=sae, top=cfg.steer_top, interpret=interpreted, episodes=cfg.steer_episodes, out=steered,
            seed=cfg.seed, progress=cfg.progress)))
    benched = STEER_BENCH.path(out)
    if cfg.bench:
        goals = game_spec(json.loads(RECORD.output(out).read_text())["game"]).demo_steering_goals
        stages.run(STEER_BENCH.name, False, lambda: steer_bench(SteerBenchConfig(
            sae=sae, interpret=interpreted, goals=goals, fit_starts=max(1, cfg.bench_starts // 3),
            held_starts=cfg.bench_starts, out=benched, seed=cfg.seed, progress=cfg.progress)))
    bench_done = cfg.bench and STEER_BENCH.output(out).is_file()  # a goal without starts is skipped
    index, _ = stages.run(BROWSE.name, False, lambda: browse(BrowseConfig(
        interpret=interpreted, out=BROWSE.path(out), evaluation=EVALUATE.output(out),
        steering=(steered,) if cfg.steer_top else (), steer_bench=benched if bench_done else None,
        progress=cfg.progress)))
    summary = _summary(out, index, STEER.output(out) if cfg.steer_top else None,
                       STEER_BENCH.output(out) if bench_done else None, stages.seconds, time.perf_counter() - started)
    summary.save(out / SUMMARY)
    return summary


@dataclass(frozen=True)
class DemoSteered:
    """A steered feature as the demo reports it (the full record is in steer/steering.json)."""

    feature: int
    label: str | None
    mode: str
    strength: float
    tv_distance: float
    scores_clean: list[float]
    scores_steered: list[float]


@dataclass(frozen=True)
class DemoGoal:
    """A benchmarked steering goal as the demo reports it: the handle that reached it most often from the
    held-out starts (the full record, every handle and control, is in steer-bench/steer_bench.json)."""

    goal: str
    clean_success: float
    handle: str
    unit: int | None
    success: float
    p_clean: float
    policy_tv: float
    feature_beats_all: bool
    """The best feature beat every control and the best neuron (paired p < 0.05), moving the policy less."""


def best_handles(run: SteerBenchRun) -> list[DemoGoal]:
    """Per goal, at the largest edit size, the handle with the highest held-out success (the first in the
    benchmark's handle order on a tie: features before neurons, directions and controls)."""
    from rlsae.analysis.steer_bench import HANDLE_ORDER, at_largest, beats_all

    out = []
    for goal in run.goals:
        at = at_largest(goal)
        best = max((at[h] for h in HANDLE_ORDER if h in at), key=lambda s: s.success)
        out.append(DemoGoal(goal.goal, goal.clean_success, best.handle, best.unit, best.success, best.p_clean,
                            best.policy_tv, beats_all(goal)))
    return out


@dataclass(frozen=True)
class DemoSummary(Record):
    """What `rlsae demo` found, in one file: the evaluation, interpret's summary (the labels against the neuron
    baseline), steering."""

    KIND = "rlsae-demo-summary"
    # 2: interpret's summary record whole, instead of a copy of some of its numbers; 3: its version 2;
    # 4: the steering benchmark's best handle per goal
    VERSION = 4
    WRITER = "rlsae demo"

    evaluation: Evaluation
    interpret: InterpretSummary
    steering: list[DemoSteered] = field(default_factory=list)
    steering_goals: list[DemoGoal] = field(default_factory=list)
    browser: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    wall_time_s: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)


def _summary(out: Path, index: Path, steering: Path | None, bench: Path | None, seconds: dict[str, float],
             total: float) -> DemoSummary:
    from rlsae.analysis.steer_results import SteeringRun
    from rlsae.stages import EVALUATE, INTERPRET

    result = load_result(INTERPRET.path(out))
    steered = [DemoSteered(r.feature, result.label[r.feature], r.mode, r.strength, r.tv_distance, r.scores_clean,
                           r.scores_steered) for r in (SteeringRun.load(steering).results if steering else [])]
    return DemoSummary(
        evaluation=Evaluation.load(EVALUATE.output(out)), interpret=result.summary, steering=steered,
        steering_goals=best_handles(SteerBenchRun.load(bench)) if bench else [],
        browser=str(index.resolve()), stage_seconds=seconds, wall_time_s=round(total, 1),
        provenance=provenance())


def _format_steering(results: list[DemoSteered]) -> str:
    """Two lines per steered feature: what was done and how far the actions moved, then the score change with
    its standard error and whether that many games tell it from chance."""
    from rlsae.browser.build import score_change

    return "\n".join(f"#{r.feature} ({r.label or 'no label'}) {r.mode} x{r.strength:g}: action "
                     f"distribution moved by {r.tv_distance:.2f} (total variation)\n"
                     f"  {score_change(r.scores_clean, r.scores_steered)}" for r in results)


def _format_goals(goals: list[DemoGoal]) -> str:
    """One line per benchmarked goal: the clean agent's success, then the best handle's, its paired p and how
    much it moved the policy elsewhere."""
    return "\n".join(f"{g.goal}: clean {g.clean_success:.0%}; best handle: {g.handle}"
                     f"{'' if g.unit is None else f' #{g.unit}'} {g.success:.0%} (paired p {g.p_clean:.2g} "
                     f"against clean; changes {g.policy_tv:.0%} of the actions elsewhere)"
                     f"{'; the best feature beats every control and the best neuron' if g.feature_beats_all else ''}"
                     for g in goals)


def format_summary(s: DemoSummary) -> str:
    e, i = s.evaluation, s.interpret

    def shown(record: Any, *keys: str) -> str:
        return ", ".join(f"{row.name} {row.shown}" for row in described(record, keys))

    labels = ("n_units", "n_labeled", "labeled_fraction", "mean_label_precision")
    rows = [
        ("SAE", f"{i.n_features} features, {i.density.dead} dead (never fire on "
                f"{i.density.dead_over_states:,} states); {show(e.dead_fraction, '{:.1%}')} silent on the "
                f"{e.states:,} held-out states of the evaluation"),
        ("reconstruction", shown(e, "fvu", "l0")),
        ("agent's choices", shown(e, "action_agreement", "action_agreement_large_gap", "advantage_rel_error",
                                  "regret")),
        ("game score", shown(e, "score_clean", "score_spliced", "score_mean_ablation", "episodes")),
        ("labels", f"features: {shown(i.features.labels, *labels)}; neurons: {shown(i.neurons.labels, *labels)} "
                   f"(rule: {i.label_rule})"),
        ("facts found", f"features: {shown(i.features.facts, 'mean_best_f1')}; neurons: "
                        f"{shown(i.neurons.facts, 'mean_best_f1')}"),
    ]
    explained = ("n_units", "n_explained", "explained_fraction", "mean_f1")
    if i.features.explanations is not None and i.neurons.explanations is not None:
        rows.append(("explanations", f"features: {shown(i.features.explanations, *explained)}; neurons: "
                                     f"{shown(i.neurons.explanations, *explained)} (rule: {i.explain_rule})"))
    talk = format_talk_features(i.talk_features)
    if talk:
        rows.append(("talk's features", talk.replace("\n", "\n" + " " * 4)))
    if s.steering_goals:
        rows.append(("steering goals", _format_goals(s.steering_goals).replace("\n", "\n" + " " * 4)))
    if s.steering:
        rows.append(("steering", _format_steering(s.steering).replace("\n", "\n" + " " * 4)))
    rows.append(("time", f"{s.wall_time_s:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in
                                                                s.stage_seconds.items()) + ")"))
    width = max(len(name) for name, _ in rows)
    return "\n".join([*(f"  {name:<{width}}  {text}" for name, text in rows), "",
                      f"open the feature browser: {s.browser}"])


def main(cfg: DemoConfig) -> None:
    print(format_summary(run_demo(cfg)))
