"""`rlsae evaluate`: how sparse and faithful an SAE is, on held-out states and in real games.

Offline metrics (sae/metrics.py) on the recording's held-out episodes, the talk's density histogram
as a PNG, and the spliced agent's full-game score next to the clean agent and two ablations
(sae/fidelity.py), so a "fraction of fidelity recovered" can be quoted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.common.files import write_text
from rlsae.common.runtime import provenance
from rlsae.config import UserError, check_options, option
from rlsae.record.recording import Recording
from rlsae.sae.data import load_split, q_head
from rlsae.sae.io import load_sae, sae_metadata
from rlsae.sae.metrics import evaluate_reconstruction, log10_density

EVALUATION = "evaluation.json"
DENSITY_PNG = "density.png"


@dataclass
class EvaluateSAEConfig:
    sae: Path = option(Path("runs/sae"), "SAE folder written by `rlsae train-sae`")
    recording: Path | None = option(None, "recording to evaluate on (default: the SAE's training recording)")
    max_states: int = option(200_000, "held-out states used for the offline metrics", low=1)
    episodes: int = option(30, "full games per condition (clean, spliced, zero- and mean-ablated); 0 skips",
                           low=0)
    num_envs: int = option(16, "games played in parallel", low=1)
    epsilon: float = option(0.05, "probability of a random action in the games", low=0, high=1)
    seed: int = option(1, "seed of the games (the same for every condition)", low=0)
    json: Path | None = option(None, "where to write the results (default: SAE/evaluation.json)")
    png: Path | None = option(None, "where to draw the density histogram (default: SAE/density.png)")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.sae = Path(self.sae)
        check_options(self)


def density_histogram(log10_density: np.ndarray, path: Path, title: str) -> None:
    """The talk's plot: a histogram of log10 feature density; dead features counted in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alive = log10_density[np.isfinite(log10_density)]
    dead = len(log10_density) - len(alive)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax.hist(alive, bins=60, color="#3b6fb6")
    ax.set_xlabel("log10 feature density (fraction of states where the feature fires)")
    ax.set_ylabel("features")
    ax.set_title(title, fontsize=10)
    ax.text(0.02, 0.95, f"{len(alive)} alive, {dead} dead ({dead / len(log10_density):.1%})",
            transform=ax.transAxes, va="top")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def evaluate_sae(cfg: EvaluateSAEConfig) -> dict[str, Any]:
    sae = load_sae(cfg.sae)
    metadata = sae_metadata(cfg.sae)
    recording_path = cfg.recording or metadata.get("recording")
    if recording_path is None:
        raise UserError(f"'{cfg.sae}' does not name its recording: pass --recording")
    recording = Recording.open(recording_path)
    if recording.manifest["d_act"] != sae.d_in:
        raise UserError(f"recording '{recording_path}' has {recording.manifest['d_act']}-dim activations, "
                        f"the SAE expects {sae.d_in}")
    fraction = float(metadata.get("heldout_fraction", 0.1))
    heldout = load_split(recording, fraction, heldout=True, max_states=cfg.max_states)
    head = q_head(recording)
    result = evaluate_reconstruction(sae, heldout.activations, head)
    density = result.pop("density")
    log10 = log10_density(density, dead=-math.inf).numpy()
    png = cfg.png or cfg.sae / DENSITY_PNG
    density_histogram(log10, png, f"{sae.architecture} SAE, {sae.d_sae} features"
                      + (f", k={sae.k}" if sae.k else "") + f": {len(heldout)} held-out states")
    result.update(sae=str(cfg.sae), recording=str(recording_path), architecture=sae.architecture,
                  d_in=sae.d_in, d_sae=sae.d_sae, k=sae.k, density_png=str(png))
    if cfg.episodes > 0:
        from rlsae.sae.fidelity import game_fidelity

        model, manifest = recording.load_agent()
        result.update(game_fidelity(model, recording.manifest["layer"], sae, heldout.activations.mean(0),
                                    episodes=cfg.episodes, game=manifest.get("game", "ms_pacman"),
                                    num_envs=cfg.num_envs, epsilon=cfg.epsilon, seed=cfg.seed,
                                    progress=cfg.progress))
    result["provenance"] = provenance()
    out = cfg.json or cfg.sae / EVALUATION
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(result, indent=2) + "\n")
    result["json"] = str(out)
    return result


REPORT_ROWS = [("fvu", "FVU (held-out)", "{:.4f}"), ("l0", "L0", "{:.1f}"),
               ("dead_fraction", "dead features", "{:.2%}"), ("dense_fraction", "dense features", "{:.2%}"),
               ("q_rel_error", "Q-value error / Q variance", "{:.4f}"),
               ("advantage_rel_error", "advantage error / variance", "{:.4f}"),
               ("action_agreement", "greedy-action agreement", "{:.2%}"),
               ("action_agreement_large_gap", "  on large-gap states", "{:.2%}"),
               ("regret", "regret (% of Q range)", "{:.3f}"),
               ("score_clean", "score, clean agent", "{:.1f}"), ("score_spliced", "score, SAE spliced", "{:.1f}"),
               ("score_zero_ablation", "score, layer zeroed", "{:.1f}"),
               ("score_mean_ablation", "score, layer at its mean", "{:.1f}"),
               ("recovered_vs_mean_ablation", "score recovered vs mean ablation", "{:.2%}")]


def format_report(result: dict[str, Any]) -> str:
    lines = [f"{result['architecture']} SAE {result['d_in']} -> {result['d_sae']}"
             + (f", k={result['k']}" if result.get("k") else "") + f" on {result['states']} held-out states"]
    for key, name, fmt in REPORT_ROWS:
        if key in result:
            lines.append(f"  {name:<34} {fmt.format(result[key])}")
    lines.append(f"results: {result['json']}   density histogram: {result['density_png']}")
    return "\n".join(lines)
