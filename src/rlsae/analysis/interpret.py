"""`rlsae interpret`: read every SAE feature off the recorded game states.

For each feature: density, histogram of its non-zero activations, top-activating and quantile-sampled
example states, its exact push on each action (W_head @ decoder direction), its held-out AUROC as a
detector of every game fact decoded from RAM and of pairs of them (envs/conjunctions.py), an automatic
label (the best fact, if good enough), and a cluster of related features. The same labelling run on
the layer's raw neurons, with the same facts, is the baseline: do SAE features read better than neurons?
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from rlsae.analysis.clusters import cluster_features
from rlsae.analysis.features import (
    QUANTILE_GROUPS,
    FeatureExamples,
    action_effects,
    activation_histograms,
    encode_all,
    example_states,
)
from rlsae.analysis.labels import Labels, label_units
from rlsae.analysis.results import InterpretResult, save_result
from rlsae.analysis.states import select_states, state_facts
from rlsae.common.runtime import provenance
from rlsae.config import UserError, option, require, to_dict
from rlsae.envs.conjunctions import MIN_RATE, SEPARATOR, with_conjunctions
from rlsae.envs.facts import binary_descriptions, binary_facts
from rlsae.record.recording import Recording
from rlsae.sae import SparseAutoencoder, load_sae
from rlsae.sae.io import sae_metadata

HIST_BINS = 24
POWER_PILL_FACTS = ("pill_", "pills_left", "ghosts_frightened")  # name prefixes


@dataclass
class InterpretConfig:
    sae: Path | None = option(None, "SAE folder (written by `rlsae train-sae`)")
    recording: Path | None = option(None, "recording folder (default: the one the SAE was trained on, "
                                    "from its cfg.json metadata)")
    out: Path = option(Path("runs/interpret"), "output folder")
    max_states: int = option(200_000, "analyse at most this many recorded states (whole episodes)")
    min_auroc: float = option(0.8, "held-out AUROC a feature needs to get a fact as its label")
    dying_horizon: int = option(10, "'dying' means a life is lost within this many agent steps")
    n_top: int = option(12, "top-activating example states kept per feature")
    n_per_quantile: int = option(4, "example states kept per activation quantile interval")
    features_per_cluster: int = option(16, "average live features per cluster")
    seed: int = option(0, "seed for the held-out split, example sampling and clustering")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        require(self.sae is not None, "--sae is required: the folder written by `rlsae train-sae`")
        self.sae = Path(self.sae)
        self.out = Path(self.out)
        require(self.max_states >= 10, f"--max-states must be >= 10, got {self.max_states}")
        require(0.5 <= self.min_auroc <= 1.0, f"--min-auroc must be in [0.5, 1], got {self.min_auroc}")
        require(self.dying_horizon >= 1, f"--dying-horizon must be >= 1, got {self.dying_horizon}")
        require(self.n_top >= 1 and self.n_per_quantile >= 0, "--n-top must be >= 1 and --n-per-quantile >= 0")
        require(self.features_per_cluster >= 1, "--features-per-cluster must be >= 1")


def sae_recording(sae_folder: Path, recording: Path | None = None) -> Recording:
    """The recording given, else the one named in the SAE's metadata (key ``recording``)."""
    if recording is None:
        named = sae_metadata(sae_folder).get("recording")
        if not named:
            raise UserError(f"the SAE at '{sae_folder}' does not name its recording in cfg.json metadata: "
                            "pass --recording DIR")
        recording = Path(named)
    return Recording.open(recording)


def check_match(sae: SparseAutoencoder, rec: Recording, sae_folder: Path) -> None:
    d_act = int(rec.manifest["d_act"])
    require(sae.d_in == d_act, f"the SAE at '{sae_folder}' reads {sae.d_in}-dim inputs but recording "
            f"'{rec.path}' stores {d_act}-dim activations of layer '{rec.manifest['layer']}'")


def best_unit(auroc: np.ndarray, fact_names: list[str], prefixes: tuple[str, ...],
              alive: np.ndarray) -> dict[str, Any] | None:
    """The live unit with the highest held-out AUROC for any fact whose name starts with ``prefixes``.

    For a conjunction every part must: "pill present & dying" detects dying, not the pill.
    """
    columns = [j for j, name in enumerate(fact_names)
               if all(part.startswith(prefixes) for part in name.split(SEPARATOR))]
    if not columns or not alive.any():
        return None
    scores = np.where(alive[:, None], np.nan_to_num(auroc[:, columns], nan=0.0), -np.inf)
    unit, col = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return {"unit": int(unit), "fact": fact_names[columns[col]], "auroc": float(scores[unit, col])}


def _label_live(activations: np.ndarray, alive: np.ndarray, facts: dict[str, np.ndarray],
                descriptions: dict[str, str], episode_ids: np.ndarray, cfg: InterpretConfig) -> Labels:
    """label_units on the live columns only (dead ones are constant), scattered back to all columns."""
    live = np.flatnonzero(alive)
    columns = np.asfortranarray(activations.T[live].T)  # column-major: labels scan unit by unit
    labels = label_units(columns, facts, episode_ids, descriptions, cfg.min_auroc,
                         seed=cfg.seed)
    n = len(alive)
    full = Labels(fact=[""] * n, heldout_auroc=np.full(n, np.nan), fit_auroc=np.full(n, np.nan),
                  label=[None] * n, auroc=np.full((n, len(facts)), np.nan), precision=np.full(n, np.nan))
    for i, unit in enumerate(live):
        full.fact[unit], full.label[unit] = labels.fact[i], labels.label[i]
    for name in ("heldout_auroc", "fit_auroc", "auroc", "precision"):
        getattr(full, name)[live] = getattr(labels, name)
    return full


def _pack_examples(examples: FeatureExamples, features: np.ndarray, states: np.ndarray, titles: list[str],
                   width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature example groups as [d, width] arrays: recording index, activation, group (-1 = none)."""
    d = features.shape[1]
    ex_states = np.full((d, width), -1, np.int64)
    ex_acts = np.zeros((d, width), np.float32)
    ex_groups = np.full((d, width), -1, np.int16)
    for f, groups in enumerate(examples.groups):
        for title, idx in groups:
            at = int((ex_groups[f] >= 0).sum())
            ex_states[f, at:at + len(idx)] = states[idx]
            ex_acts[f, at:at + len(idx)] = features[idx, f]
            ex_groups[f, at:at + len(idx)] = titles.index(title)
    return ex_states, ex_acts, ex_groups


def _with_description(best: dict[str, Any] | None, descriptions: dict[str, str],
                      density: np.ndarray) -> dict[str, Any] | None:
    if best is None:
        return None
    return {**best, "description": descriptions.get(best["fact"], best["fact"]),
            "density": float(density[best["unit"]])}


def interpret(cfg: InterpretConfig) -> InterpretResult:
    """Analyse every feature of ``cfg.sae`` over the recording; write and return the result."""
    start = time.perf_counter()
    sae = load_sae(cfg.sae)
    rec = sae_recording(cfg.sae, cfg.recording)
    check_match(sae, rec, cfg.sae)
    states = select_states(rec, cfg.max_states)
    require(len(states) >= 10, f"recording '{rec.path}' has only {len(states)} steps: record more")
    steps = tqdm(total=6, desc="interpret", disable=not cfg.progress)
    activations = np.asarray(rec.activations[states], np.float32)
    # Column-major: everything below reads one feature's activations over all states at a time.
    features = np.asfortranarray(encode_all(sae, activations))
    steps.update()
    density = (features > 0).mean(0)
    alive = density > 0
    hist = activation_histograms(features, HIST_BINS)
    examples = example_states(features, cfg.n_top, cfg.n_per_quantile, cfg.seed)
    steps.update()
    facts, descriptions = with_conjunctions(binary_facts(state_facts(rec, states, cfg.dying_horizon)),
                                            binary_descriptions(cfg.dying_horizon))
    episode_ids = rec.episode_ids[states]
    labels = _label_live(features, alive, facts, descriptions, episode_ids, cfg)
    steps.update()
    neuron_alive = (activations != 0).any(0)
    neurons = _label_live(activations, neuron_alive, facts, descriptions, episode_ids, cfg)
    steps.update()
    effect = action_effects(torch.as_tensor(rec.head_weight), sae.W_dec.detach())
    clusters = cluster_features(sae.W_dec.detach(), alive, labels.label, cfg.features_per_cluster, cfg.seed)
    steps.update()

    titles = ["top activations"] + [f"quantile {lo:.0%}-{hi:.0%}" for lo, hi in QUANTILE_GROUPS]
    ex_states, ex_acts, ex_groups = _pack_examples(examples, features, states, titles,
                                                   cfg.n_top + len(QUANTILE_GROUPS) * cfg.n_per_quantile)
    edges = np.zeros((sae.d_sae, HIST_BINS + 1), np.float32)
    counts = np.zeros((sae.d_sae, HIST_BINS), np.int64)
    for f, h in enumerate(hist):
        if h["counts"]:
            edges[f], counts[f] = h["edges"], h["counts"]

    fact_names = list(facts)
    summary: dict[str, Any] = {
        "n_states": len(states), "n_episodes": len(np.unique(episode_ids)), "n_features": sae.d_sae,
        "n_live": int(alive.sum()), "dead_fraction": float(1 - alive.mean()), "min_auroc": cfg.min_auroc,
        "features": labels.summary(alive), "neurons": neurons.summary(neuron_alive),
        # A unit firing on fewer states than the rarest fact cannot reach AUROC 0.8 on any fact.
        "features_scorable": labels.summary(density >= MIN_RATE),
        "best_dying": _with_description(best_unit(labels.auroc, fact_names, ("dying",), alive),
                                        descriptions, density),
        "best_power_pill": _with_description(best_unit(labels.auroc, fact_names, POWER_PILL_FACTS, alive),
                                             descriptions, density),
        "neuron_best_dying": best_unit(neurons.auroc, fact_names, ("dying",), neuron_alive),
        "n_clusters": len(clusters.names),
        "fact_base_rates": {name: float(values.mean()) for name, values in facts.items()},
    }
    result = InterpretResult(
        states=states, density=density, max_activation=features.max(0), action_effect=effect,
        hist_edges=edges, hist_counts=counts, example_states=ex_states, example_activations=ex_acts,
        example_groups=ex_groups, fact_auroc=labels.auroc.astype(np.float32),
        label_auroc=labels.heldout_auroc.astype(np.float32),
        label_precision=labels.precision.astype(np.float32), cluster=clusters.assignment,
        group_titles=titles, fact_names=fact_names, fact_descriptions=[descriptions[n] for n in fact_names],
        label_fact=labels.fact, label=labels.label, cluster_names=clusters.names, summary=summary)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    save_result(cfg.out, result, {"sae": str(Path(cfg.sae).resolve()), "recording": str(rec.path.resolve()),
                                  "config": to_dict(cfg), "provenance": provenance()})
    steps.update()
    steps.close()
    return result


def _unit(best: dict[str, Any] | None, kind: str) -> str:
    if best is None:
        return "none"
    return f"{kind} {best['unit']} ({best.get('description', best['fact'])}, AUROC {best['auroc']:.3f})"


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    f, n, s = summary["features"], summary["neurons"], summary["features_scorable"]
    return "\n".join([
        f"{summary['n_states']} states from {summary['n_episodes']} episodes, {summary['seconds']:.1f} s",
        f"live features: {summary['n_live']}/{summary['n_features']} ({summary['dead_fraction']:.1%} dead)",
        (f"labeled (held-out AUROC >= {summary['min_auroc']}): {f['n_labeled']} features = "
        f"{f['labeled_fraction']:.1%} of live, mean best AUROC {f['mean_best_auroc']:.3f}"),
        (f"  of the {s['n_units']} features firing on >= {MIN_RATE:.1%} of states: {s['n_labeled']} labeled = "
         f"{s['labeled_fraction']:.1%}; labels hold on {f['mean_label_precision']:.0%} of the states where "
         "their feature fires (mean)"),
        (f"neuron baseline: {n['n_labeled']}/{n['n_units']} live neurons labeled = {n['labeled_fraction']:.1%}, "
        f"mean best AUROC {n['mean_best_auroc']:.3f}, label holds on {n['mean_label_precision']:.0%} where > 0"),
        (f"best 'dying' feature: {_unit(summary['best_dying'], 'feature')}; "
        f"best neuron: {_unit(summary['neuron_best_dying'], 'neuron')}"),
        f"best power-pill feature: {_unit(summary['best_power_pill'], 'feature')}",
        f"{summary['n_clusters']} clusters",
    ])


def main(cfg: InterpretConfig) -> None:
    """The CLI: interpret, then print the summary."""
    result = interpret(cfg)
    print(format_summary(result.summary))
    print(f"written to {cfg.out}")
