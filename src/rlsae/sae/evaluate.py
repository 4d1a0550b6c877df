"""`rlsae evaluate`: how sparse and faithful an SAE is, on held-out states and in real games.

Offline metrics (sae/metrics.py) on the recording's held-out episodes, the talk's density histogram
as a PNG, and the spliced agent's full-game score next to the clean agent and two ablations
(sae/fidelity.py), so a "fraction of fidelity recovered" can be quoted.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.agents.evaluate import ACT_HELP, ACTS, check_act
from rlsae.agents.protocol import AGENT_HELP
from rlsae.common.errors import UserError
from rlsae.common.files import write_bytes
from rlsae.common.outputs import write_results
from rlsae.common.records import described
from rlsae.common.runtime import provenance
from rlsae.config import check_options, option, require
from rlsae.envs.atari import DEFAULT_GAME
from rlsae.record.recording import Recording
from rlsae.sae.data import load_split, q_head
from rlsae.sae.evaluation import EVALUATION, GAME_KEYS, Evaluation
from rlsae.sae.io import SHIPPED, WEIGHTS, load_sae, sae_metadata, shipped_sae
from rlsae.sae.metrics import evaluate_reconstruction, log10_density

__all__ = ["EVALUATION", "EvaluateSAEConfig", "Evaluation", "evaluate_sae", "format_report"]
DENSITY_PNG = "density.png"


@dataclass
class EvaluateSAEConfig:
    sae: Path = option(Path("runs/sae"), "SAE folder written by `rlsae train-sae`")
    recording: Path | None = option(None, "recording to evaluate on (default: the SAE's training recording)")
    agent: str | None = option(None, "the recording's " + AGENT_HELP + " (only if it cannot be rebuilt)")
    max_states: int = option(200_000, "held-out states used for the offline metrics", low=1)
    episodes: int = option(30, "full games per condition (clean, spliced, zero- and mean-ablated); 0 skips",
                           low=0)
    num_envs: int = option(16, "games played in parallel", low=1)
    epsilon: float = option(0.05, "probability of a random action in the games", low=0, high=1)
    seed: int = option(1, "seed of the games (the same for every condition)", low=0)
    act: str = option("greedy", ACT_HELP, choices=list(ACTS))
    json: Path | None = option(None, "where to write the results (default: SAE/evaluation.json)")
    png: Path | None = option(None, "where to draw the density histogram (default: SAE/density.png)")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        # evaluate writes into the SAE's folder, which for the shipped SAE is inside the installed package
        require(str(self.sae) != SHIPPED, f"--sae shipped is read-only (it lives in the installed package): copy it "
                                          f"first, e.g. `cp -r {shipped_sae()} runs/sae`, then --sae runs/sae")
        self.sae = Path(self.sae)
        check_options(self)


def results_path(cfg: EvaluateSAEConfig) -> Path:
    return cfg.json or cfg.sae / EVALUATION


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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, buffer.getvalue())


def _weights_digest(sae_folder: Path) -> str:
    return hashlib.sha256((sae_folder / WEIGHTS).read_bytes()).hexdigest()


def _earlier_games(out: Path, digest: str, recording: str) -> dict[str, Any]:
    """The game results an earlier evaluation wrote to ``out``, to keep when this one plays no games.

    They are kept only when they were measured on these very SAE weights and this recording's agent;
    otherwise dropping them silently would lose hours of games, so the run is refused instead.
    """
    if not out.is_file():
        return {}
    try:
        earlier = Evaluation.load(out)
    except UserError as err:  # it may hold hours of games this rlsae cannot read: never overwrite it silently
        raise UserError(f"{err}; --episodes 0 would replace it without its game scores: pass --episodes N to "
                        "play them again, or --json another file") from None
    if not earlier.played:
        return {}
    if earlier.sae_weights_sha256 == digest and earlier.recording == recording:
        made = earlier.provenance.get("created", "an earlier run")
        return {**{k: getattr(earlier, k) for k in GAME_KEYS}, "games_from": earlier.games_from or made}
    raise UserError(f"'{out}' holds the game scores of an earlier evaluation (of other SAE weights or another "
                    "recording); --episodes 0 would drop them: pass --episodes N to play the games again, or "
                    "--json another file")


def evaluate_sae(cfg: EvaluateSAEConfig) -> Evaluation:
    """Measure the SAE, write its :class:`Evaluation` to ``--json`` (default SAE/evaluation.json), return it."""
    sae = load_sae(cfg.sae)
    metadata = sae_metadata(cfg.sae)
    recording_path = cfg.recording or metadata.get("recording")
    if recording_path is None:
        trained_on = "was trained on --activations (no agent to play)" if "activations" in metadata else \
            "does not name its recording"
        raise UserError(f"'{cfg.sae}' {trained_on}: pass --recording; its held-out metrics are in its cfg.json")
    recording = Recording.open(recording_path)
    recording.use_agent(cfg.agent)
    check_act(cfg.act, recording.output)
    if recording.manifest["d_act"] != sae.d_in:
        raise UserError(f"recording '{recording_path}' has {recording.manifest['d_act']}-dim activations, "
                        f"the SAE expects {sae.d_in}")
    out = results_path(cfg)
    digest = _weights_digest(cfg.sae)
    kept = _earlier_games(out, digest, str(recording_path)) if cfg.episodes == 0 else {}
    fraction = float(metadata.get("heldout_fraction", 0.1))
    heldout = load_split(recording, fraction, heldout=True, max_states=cfg.max_states)
    head = q_head(recording)
    result = evaluate_reconstruction(sae, heldout.activations, head, recording.output)
    density = result.pop("density")
    log10 = log10_density(density, dead=-math.inf).numpy()
    png = cfg.png or cfg.sae / DENSITY_PNG
    density_histogram(log10, png, f"{sae.architecture} SAE, {sae.d_sae} features"
                      + (f", k={sae.k}" if sae.k else "") + f": {len(heldout)} held-out states")
    result.update(sae=str(cfg.sae), recording=str(recording_path), architecture=sae.architecture,
                  d_in=sae.d_in, d_sae=sae.d_sae, k=sae.k, density_png=str(png), sae_weights_sha256=digest,
                  **kept)
    if cfg.episodes > 0:
        from rlsae.sae.fidelity import game_fidelity

        model, manifest = recording.load_agent()
        result.update(game_fidelity(model, recording.manifest["layer"], sae, heldout.activations.mean(0),
                                    episodes=cfg.episodes, game=manifest.get("game", DEFAULT_GAME),
                                    num_envs=cfg.num_envs, epsilon=cfg.epsilon, seed=cfg.seed,
                                    progress=cfg.progress, act=cfg.act))
        result["act"] = cfg.act
    evaluation = Evaluation(**result, provenance=provenance())
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, evaluation.to_json(), "--json")
    return evaluation


def format_report(result: Evaluation, json_path: Path) -> str:
    lines = [f"{result.architecture} SAE {result.d_in} -> {result.d_sae}"
             + (f", k={result.k}" if result.k else "") + f" on {result.states} held-out states"]
    lines += [f"  {row.name:<34} {row.shown}" for row in described(result) if row.key != "states"]
    if result.games_from:
        lines.append(f"  (game scores kept from the evaluation of {result.games_from}: same SAE weights)")
    lines.append(f"results: {json_path}   density histogram: {result.density_png}")
    return "\n".join(lines)
