"""`rlsae sweep`: do dead SAE features predict an agent's skill?

DuPlessie (UniReps 2026, PMLR 322:385-397) claims that the most effective DQNs give their SAEs a
consistent number of dead features. The sweep tests it on one or several runs' checkpoint series (or any
folders of checkpoints, one run each): for each agent it records the same number of steps, trains an SAE
per arm with the same settings, and measures on held-out whole episodes what the claim is about (dead
fraction) beside FVU, greedy-action agreement, the spliced agent's score and label coverage. Two arms:

- ``default``: rlsae's SAE (Top-K, AuxK, input scaling, advantage-aware loss);
- ``talk``: the talk's setup, dead-prone on purpose (k=50, random init, no AuxK, no input scaling,
  plain MSE, Adam 1e-3 without schedule).

Then, per arm, Spearman correlations of each metric with the agent's score and the quadratic fit of
score on live-feature count that the paper reports, each with its p-value; and, since within one run score
and training time rise together, whether the live-feature share follows score or steps across the runs
(:mod:`rlsae.analysis.dead_vs_skill`: partial correlations, a run-intercept model, per-run trends, bootstrap
intervals over runs), summed up in one sentence, the verdict.

    out/<checkpoint>/recording/  out/<checkpoint>/<arm>/{sae,interpret}/     (one run)
    out/<run>/<checkpoint>/...                                               (several runs)
    out/sweep.json  out/sweep.png  out/sweep_<arm>.png (live share vs score and vs steps, runs coloured)

A finished stage found in ``out`` is reused, so an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.analysis.dead_vs_skill import Point, analyse_arm
from rlsae.analysis.sweep_results import ArmAnalysis, SweepArm, SweepResult, SweepRow, metric_name
from rlsae.common.errors import UserError
from rlsae.common.outputs import SWEEP_JSON, SWEEP_PNG
from rlsae.common.runtime import provenance
from rlsae.config import option, require, to_dict
from rlsae.sae.evaluation import Evaluation

ARMS: dict[str, dict[str, Any]] = {
    "default": {},
    "talk": {"options": {"k": 50, "aux_coef": 0.0}, "init": "random", "scale_inputs": False, "advantage_weight": 0.0,
             "lr": 1e-3, "warmup_fraction": 0.0, "decay_fraction": 0.0},
}
# How the verdict names each arm.
RECIPES = {"default": "With our recipe", "talk": "With the talk's recipe"}
# The numbers set against the agent's score (fields of SweepArm or of its evaluation; named there).
METRICS = ("dead_fraction", "fvu", "action_agreement", "score_ratio", "labeled_fraction")


def arm_plot(arm: str) -> str:
    """The file name of one arm's plot of live share against score and steps, runs coloured."""
    return f"sweep_{arm}.png"


@dataclass
class SweepConfig:
    checkpoints: tuple[Path, ...] = option((Path("runs/agent/series"),), "folders of agent checkpoints, one per "
                                           "training run (a run's series/); several runs tell score from steps")
    out: Path = option(Path("runs/sweep"), "output folder (finished stages found there are reused)")
    steps: int = option(200_000, "agent steps recorded per checkpoint")
    heldout_fraction: float = option(0.5, "share of recorded episodes held out for every metric")
    samples: int = option(2_000_000, "SAE training samples per arm")
    d_sae: int = option(2048, "SAE latents")
    episodes: int = option(30, "full games per condition for the spliced score (0 skips the games)")
    score_episodes: int = option(30, "full games that score each agent (its clean score, the x of every trend)")
    arms: tuple[str, ...] = option(tuple(ARMS), f"SAE settings to compare: {', '.join(ARMS)}")
    seed: int = option(1, "seed for recording, training and games")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.out, self.arms = Path(self.out), tuple(self.arms)
        self.checkpoints = tuple(Path(p) for p in self.checkpoints)
        require(bool(self.checkpoints), "--checkpoints needs at least one folder")
        require(self.steps >= 1000, f"--steps must be >= 1000, got {self.steps}")
        require(0 < self.heldout_fraction < 1, f"--heldout-fraction must be in (0, 1), got {self.heldout_fraction}")
        require(self.samples >= 4096, f"--samples must be >= 4096, got {self.samples}")
        require(self.episodes >= 0, f"--episodes must be >= 0, got {self.episodes}")
        require(self.score_episodes >= 1, f"--score-episodes must be >= 1, got {self.score_episodes}")
        require(self.seed >= 0, f"--seed must be >= 0, got {self.seed}")
        unknown = [a for a in self.arms if a not in ARMS]
        require(not unknown and self.arms, f"--arms must be among {', '.join(ARMS)}, got {' '.join(self.arms)}")


def run_names(folders: tuple[Path, ...]) -> list[str]:
    """Each run's name: its folder's, or the folder's parent's with it when that is a series/ (a train-agent
    run's), so two runs' series are told apart; two runs of one name are a user error."""
    names = [f"{p.parent.name}/{p.name}" if p.name == "series" and p.parent.name else p.name
             for p in (q.resolve() for q in folders)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"--checkpoints: two runs are both named {twice[0]!r}; give folders with distinct names")
    return names


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


def _measure(folder: Path, arm: str, cfg: SweepConfig, base: Path) -> SweepArm:
    """Record (once per checkpoint, into ``base``), then train, evaluate and interpret one arm's SAE."""
    from rlsae.analysis.interpret import InterpretConfig, interpret
    from rlsae.analysis.results import SUMMARY as INTERPRET_SUMMARY
    from rlsae.analysis.summary import InterpretSummary
    from rlsae.record import RecordConfig, record
    from rlsae.sae.evaluate import EvaluateSAEConfig, evaluate_sae
    from rlsae.sae.train import TrainSAEConfig, train_sae
    from rlsae.stages import EVALUATE, INTERPRET, RECORD, TRAIN_SAE, recorded

    run = base / arm  # the recording is shared by the arms; each arm has its own SAE and interpret
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


def analyse_runs(rows: list[SweepRow], arms: tuple[str, ...], d_sae: int, seed: int) -> dict[str, ArmAnalysis]:
    """Per arm: does the live-feature share follow score or training steps, over the runs?"""
    return {arm: analyse_arm([Point(r.run, float(r.step or 0), r.score, r.arms[arm].live / d_sae)
                              for r in rows if arm in r.arms], RECIPES.get(arm, f"With the {arm} arm"), seed)
            for arm in arms}


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


def plot_runs(rows: list[SweepRow], arm: str, d_sae: int, verdict: str, path: Path) -> None:
    """One arm: live share against score and against training steps, one colour per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(dict.fromkeys(r.run for r in rows))
    colours = plt.get_cmap("tab10" if len(runs) <= 10 else "tab20")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for i, run in enumerate(runs):
        own = sorted((r for r in rows if r.run == run and arm in r.arms), key=lambda r: r.step or 0)
        share = [r.arms[arm].live / d_sae for r in own]
        for ax, x in zip(axes, ([r.score for r in own], [r.step or 0 for r in own])):
            ax.plot(x, share, marker="o", color=colours(i % colours.N), label=run)
    axes[0].set_xlabel("agent's mean full-game score")
    axes[1].set_xlabel("training steps")
    for ax in axes:
        ax.set_ylabel("live share of the SAE's features")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(verdict.replace(" (partial", "\n(partial", 1), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_sweep(cfg: SweepConfig) -> SweepResult:
    from rlsae.agents.checkpoint import read_manifest

    cfg.out.mkdir(parents=True, exist_ok=True)
    names = run_names(cfg.checkpoints)
    runs = [(name, checkpoint_folders(spec)) for name, spec in zip(names, cfg.checkpoints)]
    rows = []
    for name, folders in runs:
        for folder in folders:
            score = agent_score(folder, cfg.score_episodes, cfg.seed)
            # One run keeps the layout of earlier sweeps (out/<checkpoint>), so their stages are reused.
            base = cfg.out / folder.name if len(runs) == 1 else cfg.out / name / folder.name
            arms = {}
            for arm in cfg.arms:
                print(f"[sweep] {name} {folder.name} ({score['mean_score']:.0f} points): {arm} SAE")
                arms[arm] = _measure(folder, arm, cfg, base)
            rows.append(SweepRow(folder.name, str(folder), read_manifest(folder).get("step"), score["mean_score"],
                                 score["std_score"], score["episodes"], arms, name))
    analysis = analyse_runs(rows, cfg.arms, cfg.d_sae, cfg.seed)
    verdict = "; ".join(a.verdict for a in analysis.values()) + "."
    result = SweepResult(rows, analyse(rows, cfg.arms), analysis, verdict, to_dict(cfg), provenance())
    result.save(cfg.out / SWEEP_JSON)
    plot(rows, cfg.arms, cfg.out / SWEEP_PNG)
    for arm, a in analysis.items():
        plot_runs(rows, arm, cfg.d_sae, a.verdict, cfg.out / arm_plot(arm))
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
        a = result.analysis[arm]
        lines.append(f"  live share, {a.runs} runs: partial r with score given steps {a.partial_score.shown()}, "
                     f"with steps given score {a.partial_steps.shown()}")
        lines.append(f"  live share ~ run intercept + score + steps (ranks): score {a.model_score.shown()}, "
                     f"steps {a.model_steps.shown()}")
    lines.append(f"verdict: {result.verdict}")
    return "\n".join(lines)


def main(cfg: SweepConfig) -> None:
    result = run_sweep(cfg)
    print(format_result(result))
    plots = " ".join(str(cfg.out / arm_plot(arm)) for arm in cfg.arms)
    print(f"results: {cfg.out / SWEEP_JSON}   plots: {cfg.out / SWEEP_PNG} {plots}")
