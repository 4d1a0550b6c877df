"""`rlsae sweep`: do dead SAE features predict an agent's skill?

DuPlessie (UniReps 2026, PMLR 322:385-397) claims that the most effective DQNs give their SAEs a
consistent number of dead features. The sweep tests it on a checkpoint series (or any folder of
checkpoints): for each agent it records the same number of steps, trains an SAE per arm with the same
settings, and measures on held-out whole episodes what the claim is about (dead fraction) beside FVU,
greedy-action agreement, the spliced agent's score and label coverage. Two arms:

- ``default``: rlsae's SAE (Top-K, AuxK, input scaling, advantage-aware loss);
- ``talk``: the talk's setup, dead-prone on purpose (k=50, random init, no AuxK, no input scaling,
  plain MSE, Adam 1e-3 without schedule).

Then, per arm, Spearman correlations of each metric with the agent's score and the quadratic fit of
score on live-feature count that the paper reports, each with its p-value.

    out/<checkpoint>/recording/  out/<checkpoint>/<arm>/{sae,interpret}/  out/sweep.json  out/sweep.png

A finished stage found in ``out`` is reused, so an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.analysis.sweep_results import SweepArm, SweepResult, SweepRow, metric_name
from rlsae.common.outputs import SWEEP_JSON, SWEEP_PNG
from rlsae.common.runtime import provenance
from rlsae.config import option, require, to_dict
from rlsae.sae.evaluation import Evaluation

ARMS: dict[str, dict[str, Any]] = {
    "default": {},
    "talk": {"options": {"k": 50, "aux_coef": 0.0}, "init": "random", "scale_inputs": False, "advantage_weight": 0.0,
             "lr": 1e-3, "warmup_fraction": 0.0, "decay_fraction": 0.0},
}
# The numbers set against the agent's score (fields of SweepArm or of its evaluation; named there).
METRICS = ("dead_fraction", "fvu", "action_agreement", "score_ratio", "labeled_fraction")


@dataclass
class SweepConfig:
    checkpoints: Path = option(Path("runs/agent/series"), "a folder of agent checkpoint folders (a train-agent "
                                                           "run's series/, or one published in float16)")
    out: Path = option(Path("runs/sweep"), "output folder (finished stages found there are reused)")
    steps: int = option(200_000, "agent steps recorded per checkpoint")
    heldout_fraction: float = option(0.5, "share of recorded episodes held out for every metric")
    samples: int = option(2_000_000, "SAE training samples per arm")
    d_sae: int = option(2048, "SAE latents")
    episodes: int = option(30, "full games per condition for the spliced score (0 skips the games)")
    arms: tuple[str, ...] = option(tuple(ARMS), f"SAE settings to compare: {', '.join(ARMS)}")
    seed: int = option(1, "seed for recording, training and games")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.out, self.arms = Path(self.out), tuple(self.arms)
        require(self.steps >= 1000, f"--steps must be >= 1000, got {self.steps}")
        require(0 < self.heldout_fraction < 1, f"--heldout-fraction must be in (0, 1), got {self.heldout_fraction}")
        require(self.samples >= 4096, f"--samples must be >= 4096, got {self.samples}")
        require(self.episodes >= 0, f"--episodes must be >= 0, got {self.episodes}")
        require(self.seed >= 0, f"--seed must be >= 0, got {self.seed}")
        unknown = [a for a in self.arms if a not in ARMS]
        require(not unknown and self.arms, f"--arms must be among {', '.join(ARMS)}, got {' '.join(self.arms)}")


def checkpoint_folders(spec: Path) -> list[Path]:
    from rlsae.agents.checkpoint_series import series_folders

    return series_folders(spec)


def agent_score(folder: Path, episodes: int, seed: int) -> dict[str, Any]:
    """The checkpoint's clean full-game score: the one stored with it when it used at least as many games
    under the same protocol (the series stores 30)."""
    from rlsae.agents.checkpoint import read_manifest
    from rlsae.agents.checkpoint_series import evaluate_checkpoint

    stored = read_manifest(folder).get("evaluation")
    if stored and stored.get("episodes", 0) >= episodes and stored.get("epsilon") == 0.05:
        return stored
    return evaluate_checkpoint(folder, episodes, seed)


def _measure(folder: Path, arm: str, cfg: SweepConfig) -> SweepArm:
    """Record (once per checkpoint), then train, evaluate and interpret one arm's SAE."""
    from rlsae.analysis.interpret import InterpretConfig, interpret
    from rlsae.analysis.results import SUMMARY as INTERPRET_SUMMARY
    from rlsae.analysis.summary import InterpretSummary
    from rlsae.record import RecordConfig, record
    from rlsae.sae.evaluate import EvaluateSAEConfig, evaluate_sae
    from rlsae.sae.train import TrainSAEConfig, train_sae
    from rlsae.stages import EVALUATE, INTERPRET, RECORD, TRAIN_SAE, recorded

    base = cfg.out / folder.name  # the recording is shared by the arms; each arm has its own SAE and interpret
    run = base / arm
    recording, sae, interpreted = RECORD.path(base), TRAIN_SAE.path(run), INTERPRET.path(run)
    if not recorded(base, cfg.steps):
        record(RecordConfig(out=recording, checkpoint=folder, steps=cfg.steps, seed=cfg.seed,
                            progress=cfg.progress))
    if not TRAIN_SAE.done(run):
        train_sae(TrainSAEConfig(recording=recording, out=sae, d_sae=cfg.d_sae, samples=cfg.samples,
                                 heldout_fraction=cfg.heldout_fraction, seed=cfg.seed, progress=cfg.progress,
                                 **ARMS[arm]))
    if not EVALUATE.done(run):
        evaluate_sae(EvaluateSAEConfig(sae=sae, max_states=cfg.steps, episodes=cfg.episodes, seed=cfg.seed,
                                       progress=cfg.progress))
    if not INTERPRET.done(run):
        interpret(InterpretConfig(sae=sae, out=interpreted, seed=cfg.seed, progress=cfg.progress))
    evaluation = Evaluation.load(EVALUATE.output(run))
    labels = InterpretSummary.load(interpreted / INTERPRET_SUMMARY).features.labels
    return SweepArm(evaluation, live=round(cfg.d_sae * (1 - evaluation.dead_fraction)),
                    labeled_fraction=labels.labeled_fraction)


def trend_statistics(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Spearman's rho of ``y`` on ``x`` and the quadratic least-squares fit y ~ a + b x + c x^2, each with
    its p-value (the quadratic's from the F-test against a constant)."""
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    out: dict[str, Any] = {"n": n}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    rho, p = stats.spearmanr(x, y)
    out.update(spearman=float(rho), spearman_p=float(p))
    if n >= 4:
        coef = np.polyfit(x, y, 2)
        residual = float(((y - np.polyval(coef, x)) ** 2).sum())
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1 - residual / total
        f = (r2 / 2) / ((1 - r2) / (n - 3)) if r2 < 1 else math.inf
        out.update(quadratic=[float(c) for c in coef], quadratic_r2=r2,
                   quadratic_p=float(stats.f.sf(f, 2, n - 3)) if math.isfinite(f) else 0.0,
                   quadratic_peak=float(-coef[1] / (2 * coef[0])) if coef[0] else None)
    return out


def analyse(rows: list[SweepRow], arms: tuple[str, ...]) -> dict[str, Any]:
    """Per arm: each metric against the agent's score, and the paper's score-on-live-count fit."""
    result: dict[str, Any] = {}
    for arm in arms:
        measured = [r for r in rows if arm in r.arms]
        score = np.array([r.score for r in measured], float)
        per_metric = {key: trend_statistics(np.array([np.nan if r.arms[arm].value(key) is None
                                                      else r.arms[arm].value(key) for r in measured], float), score)
                      for key in METRICS}
        live = np.array([r.arms[arm].live for r in measured], float)
        result[arm] = {"vs_score": per_metric, "score_on_live": trend_statistics(live, score)}
    return result


def plot(rows: list[SweepRow], arms: tuple[str, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.6), dpi=100)
    for ax, key in zip(axes, METRICS):
        for arm, marker in zip(arms, "os^"):
            points = [(r.score, r.arms[arm].value(key)) for r in rows if arm in r.arms]
            points = [(s, v) for s, v in points if v is not None]
            if points:
                ax.plot(*zip(*points), marker=marker, linestyle="", label=arm)
        ax.set_xlabel("agent's mean full-game score")
        ax.set_title(metric_name(key), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_sweep(cfg: SweepConfig) -> SweepResult:
    from rlsae.agents.checkpoint import read_manifest

    cfg.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for folder in checkpoint_folders(cfg.checkpoints):
        score = agent_score(folder, max(cfg.episodes, 1), cfg.seed)
        arms = {}
        for arm in cfg.arms:
            print(f"[sweep] {folder.name} ({score['mean_score']:.0f} points): {arm} SAE")
            arms[arm] = _measure(folder, arm, cfg)
        rows.append(SweepRow(folder.name, str(folder), read_manifest(folder).get("step"), score["mean_score"],
                             score["std_score"], score["episodes"], arms))
    result = SweepResult(rows, analyse(rows, cfg.arms), to_dict(cfg), provenance())
    result.save(cfg.out / SWEEP_JSON)
    plot(rows, cfg.arms, cfg.out / SWEEP_PNG)
    return result


def format_result(result: SweepResult) -> str:
    lines = []
    for arm, stats in result.statistics.items():
        lines.append(f"{arm} SAE, {stats['score_on_live']['n']} agents:")
        for key in METRICS:
            s = stats["vs_score"][key]
            if "spearman" in s:
                lines.append(f"  {metric_name(key):<32} Spearman vs score {s['spearman']:+.2f} "
                             f"(p {s['spearman_p']:.3f})")
        fit = stats["score_on_live"]
        if "quadratic_r2" in fit:
            lines.append(f"  score ~ quadratic(live features): R^2 {fit['quadratic_r2']:.2f} "
                         f"(p {fit['quadratic_p']:.3f})")
    return "\n".join(lines)


def main(cfg: SweepConfig) -> None:
    result = run_sweep(cfg)
    print(format_result(result))
    print(f"results: {cfg.out / SWEEP_JSON}   plot: {cfg.out / SWEEP_PNG}")
