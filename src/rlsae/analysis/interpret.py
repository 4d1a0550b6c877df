"""`rlsae interpret`: read every SAE feature off the recorded game states.

For each feature: density, histogram of its non-zero activations, top-activating and quantile-sampled
example states, its exact push on each action (W_head @ decoder direction), its held-out precision,
recall, F1, lift and AUROC as a detector of every game fact decoded from RAM and of pairs of them
(envs/conjunctions.py), an automatic label under one stated rule (analysis/labels.py), and a cluster of
related features, and a compositional explanation (analysis/explain.py: the formula of up to three facts,
now or a few steps away, that agrees best with it, scored on the held-out episodes and judged by one rule).
The same scoring, labelling and explaining run on the layer's raw neurons, with the same facts, is the
baseline: do SAE features read better than neurons? Per fact, the summary gives the best single
unit's F1, coverage, the OR of precise units and k-sparse probing for both (analysis/per_fact.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from rlsae.agents.protocol import AGENT_HELP, HEAD_UNAVAILABLE
from rlsae.analysis.clusters import cluster_features
from rlsae.analysis.explain import ExplainRule, ExplainSummary, explain_units
from rlsae.analysis.explain_summary import UnitExplanations, state_literals
from rlsae.analysis.features import (
    QUANTILE_GROUPS,
    FeatureExamples,
    action_effects,
    activation_histograms,
    encode_all,
    example_states,
)
from rlsae.analysis.labels import BestUnit, LabelRule, best_unit, score_units
from rlsae.analysis.per_fact import FactTable
from rlsae.analysis.place import place_fields
from rlsae.analysis.results import InterpretResult, save_result
from rlsae.analysis.seed_match import FOUND_COSINE, FoundAgain, match_other_seed
from rlsae.analysis.states import labelling_facts, select_states, state_facts
from rlsae.analysis.summary import Density, HeadlineUnits, InterpretSummary
from rlsae.analysis.talk import find_talk_features, format_talk_features
from rlsae.common.errors import UserError
from rlsae.common.progress import ProgressBar
from rlsae.common.runtime import provenance
from rlsae.config import option, require, to_dict
from rlsae.envs.games import game_spec, no_facts_note
from rlsae.record.recording import Recording
from rlsae.sae import SparseAutoencoder, load_sae
from rlsae.sae.data import check_finite_states
from rlsae.sae.io import SAE_HELP, load_log10_density, sae_folder, sae_metadata

HIST_BINS = 24


@dataclass
class InterpretConfig:
    sae: Path = option(Path("runs/sae"), SAE_HELP)
    recording: Path | None = option(None, "recording folder (default: the one the SAE was trained on, "
                                    "from its cfg.json metadata)")
    out: Path = option(Path("runs/interpret"), "output folder")
    agent: str | None = option(None, "the recording's " + AGENT_HELP + " (only if it cannot be rebuilt)")
    max_states: int = option(200_000, "analyse at most this many recorded states (whole episodes)")
    min_precision: float = option(0.8, "label rule: held-out precision a unit needs (with --min-lift) ...")
    min_lift: float = option(3.0, "... and its lift over the fact's base rate ...")
    min_f1: float = option(0.5, "... or else this held-out F1")
    min_firings: int = option(10, "label and explanation rules: held-out states the unit must fire on (above its "
                              "threshold)")
    dying_horizon: int = option(10, "'dying' means a life is lost within this many agent steps")
    n_top: int = option(12, "top-activating example states kept per feature")
    n_per_quantile: int = option(4, "example states kept per activation quantile interval")
    features_per_cluster: int = option(16, "average live features per cluster")
    other_sae: Path | None = option(None, "an SAE trained with another seed (same shape and layer): is each feature "
                                    f"found again there (decoder cosine >= {FOUND_COSINE})")
    seed: int = option(1, "seed for the held-out split, example sampling and clustering")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.sae = sae_folder(self.sae)
        self.out = Path(self.out)
        self.other_sae = None if self.other_sae is None else sae_folder(self.other_sae)
        require(self.max_states >= 10, f"--max-states must be >= 10, got {self.max_states}")
        require(0 < self.min_precision <= 1 and 0 < self.min_f1 <= 1,
                f"--min-precision and --min-f1 must be in (0, 1], got {self.min_precision}, {self.min_f1}")
        require(self.min_lift >= 1, f"--min-lift must be >= 1, got {self.min_lift}")
        require(self.min_firings >= 1, f"--min-firings must be >= 1, got {self.min_firings}")
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


def _described(best: BestUnit | None, descriptions: dict[str, str], density: np.ndarray) -> BestUnit | None:
    if best is None:
        return None
    return replace(best, description=descriptions.get(best.fact, best.fact), density=float(density[best.unit]))


def _density_summary(features: np.ndarray, sae_folder: Path) -> Density:
    """Density over the analysed states and over the SAE's own evaluation states (its sparsity file,
    SAELens' log10 density). A feature is dead only when it fires on neither: never over both counts."""
    silent = (features > 0).sum(0) == 0
    never_analysed = int(silent.sum())
    log10 = load_log10_density(sae_folder)
    states = sae_metadata(sae_folder).get("rlsae", {}).get("heldout", {}).get("states")
    if log10 is None or states is None:
        return Density(len(features), never_analysed, dead=never_analysed, dead_over_states=len(features))
    # The sparsity file writes log10(1e-10) for a latent that never fired.
    never_sae = log10.numpy() <= -10
    return Density(len(features), never_analysed, dead=int((silent & never_sae).sum()),
                   dead_over_states=len(features) + int(states), sae_sparsity_states=int(states),
                   never_fire_sae_sparsity=int(never_sae.sum()))


def interpret(cfg: InterpretConfig) -> InterpretResult:
    """Analyse every feature of ``cfg.sae`` over the recording; write and return the result."""
    start = time.perf_counter()
    sae = load_sae(cfg.sae)
    rec = sae_recording(cfg.sae, cfg.recording)
    rec.use_agent(cfg.agent)
    check_match(sae, rec, cfg.sae)
    other = None if cfg.other_sae is None else match_other_seed(sae, cfg.sae, cfg.other_sae)
    states = select_states(rec, cfg.max_states)
    require(len(states) >= 10, f"recording '{rec.path}' has only {len(states)} steps: record more")
    steps = ProgressBar(total=7, desc="interpret", unit="stage", disable=not cfg.progress)
    activations = np.asarray(rec.activations[states], np.float32)
    check_finite_states(rec, states, activations, "analysed")
    # Column-major: histograms, examples and AUROC read one feature's activations over all states at a time.
    features = np.asfortranarray(encode_all(sae, activations))
    steps.update()
    density = (features > 0).mean(0)
    alive = density > 0
    hist = activation_histograms(features, HIST_BINS)
    examples = example_states(features, cfg.n_top, cfg.n_per_quantile, cfg.seed,
                              rec.episode_ids[states], rec.episode_steps[states])
    steps.update()
    decoded = state_facts(rec, states, cfg.dying_horizon)
    facts, descriptions, primary = labelling_facts(rec, states, cfg.dying_horizon, decoded)
    spec = game_spec(rec.manifest["game"])
    episode_ids = rec.episode_ids[states]
    rule = LabelRule(cfg.min_precision, cfg.min_lift, cfg.min_f1, cfg.min_firings)
    labels, feature_table = score_units(features, facts, descriptions, primary, episode_ids, rule, cfg.seed)
    steps.update()
    neurons, neuron_table = score_units(activations, facts, descriptions, primary, episode_ids, rule, cfg.seed)
    steps.update()
    explain_rule = ExplainRule(min_firings=cfg.min_firings)
    literals = state_literals(rec, states, decoded, labels.held)  # the labels' held-out episodes
    found = [explain_units(units, literals, labels.held, explain_rule) if literals.names else None
             for units in (features, activations)]
    explanations, neuron_explanations = (UnitExplanations.of(f) if f is not None else UnitExplanations.none(n)
                                         for f, n in zip(found, (sae.d_sae, activations.shape[1])))
    feature_table, neuron_table = (replace(table, explanations=f.summary() if f is not None else None)
                                   for table, f in zip((feature_table, neuron_table), found))
    # Where the player is when each feature fires, on the held-out episodes: a heatmap on the feature's page.
    field = None if literals.places is None else place_fields(features, literals.places, labels.held)
    steps.update()
    # Without a linear head there is no exact push on the actions: zeros, and the summary says why.
    effect = (np.zeros((sae.d_sae, int(rec.manifest["n_actions"])), np.float32) if rec.head is None
              else action_effects(torch.as_tensor(rec.head[0]), sae.W_dec.detach()))
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

    fact_names = labels.fact_names
    neuron_live = (activations > 0).any(0)
    result = InterpretResult(
        states=states, density=density, max_activation=features.max(0), action_effect=effect,
        hist_edges=edges, hist_counts=counts, example_states=ex_states, example_activations=ex_acts,
        example_groups=ex_groups, fact_auroc=labels.auroc.astype(np.float32),
        fact_f1=labels.scores.f1.astype(np.float32), label_scores=labels.at_label, explanations=explanations,
        neuron_explanations=neuron_explanations,
        place_mean=None if field is None else field.mean.reshape(-1, field.grid[1], field.grid[0]).astype(np.float32),
        place_information=None if field is None else field.information.astype(np.float32),
        other_seed_nearest=None if other is None else other.nearest.astype(np.int64),
        other_seed_cosine=None if other is None else other.nearest_cosine.astype(np.float32),
        other_seed_matched=None if other is None else other.matched.astype(np.int64),
        other_seed_matched_cosine=None if other is None else other.matched_cosine.astype(np.float32),
        cluster=clusters.assignment, group_titles=titles, fact_names=fact_names,
        fact_descriptions=[descriptions[n] for n in fact_names], label_fact=labels.fact, label=labels.label,
        cluster_names=clusters.names, value_effect=None if rec.value_head is None else
        action_effects(torch.as_tensor(rec.value_head[0]), sae.W_dec.detach())[:, 0], summary=InterpretSummary(
            game=spec.game, player=spec.player, label_rule=str(labels.rule), explain_rule=str(explain_rule),
            min_firings=cfg.min_firings,
            n_states=len(states), n_episodes=len(np.unique(episode_ids)), n_features=sae.d_sae,
            n_live=int(alive.sum()), dead_fraction=float(1 - alive.mean()), n_clusters=len(clusters.names),
            seconds=round(time.perf_counter() - start, 2), density=_density_summary(features, cfg.sae),
            features=feature_table, neurons=neuron_table,
            headlines=[HeadlineUnits(h.key, h.title,
                                     _described(best_unit(labels, h.prefixes, alive), descriptions, density),
                                     _described(best_unit(neurons, h.prefixes, neuron_live), descriptions,
                                                (activations > 0).mean(0)))
                       for h in spec.headlines],
            talk_features=find_talk_features(labels, alive, None if rec.head is None else effect, descriptions,
                                             spec),
            neuron_talk_features=find_talk_features(neurons, neuron_live, None, descriptions, spec),
            fact_base_rates={name: float(values.mean()) for name, values in facts.items()},
            found_again=None if other is None else FoundAgain.of(other, alive, cfg.other_sae),
            notes=([] if spec.has_facts else [no_facts_note(spec)])
            + ([] if rec.head is not None else [f"action effects: {HEAD_UNAVAILABLE}"])))
    save_result(cfg.out, result, {"sae": str(Path(cfg.sae).resolve()), "recording": str(rec.path.resolve()),
                                  "config": to_dict(cfg), "provenance": provenance()})
    steps.update()
    steps.close()
    return result


def _unit(best: BestUnit | None, kind: str) -> str:
    if best is None:
        return "none"
    s = best.scores
    return (f"{kind} {best.unit} ({best.description or best.fact}, held-out F1 {s.f1:.2f}, "
            f"precision {s.precision:.2f}, recall {s.recall:.2f}, AUROC {s.auroc:.3f})")


def _table_line(kind: str, t: FactTable) -> str:
    probes = ", ".join(f"k={p.k} {p.accuracy:.3f}" for p in t.probes if p.select == "raw")
    coverage = ", ".join(f"F1>={c.min_f1:g} {c.share:.0%}" for c in t.coverage)
    return (f"  {kind:<9} mean best-unit F1 {t.mean_best_f1:.3f}, coverage {coverage}, "
            f"OR of precise units F1 {t.mean_or_f1:.3f}; probes {probes}")


def _explained_line(kind: str, units: str, e: ExplainSummary | None) -> str:
    if e is None:
        return ""
    return (f"{kind}{e.n_explained}/{e.n_units} {units} = {e.explained_fraction:.1%} (mean held-out explanation F1 "
            f"{e.mean_f1:.2f})")


def _found_line(found: FoundAgain | None) -> str:
    if found is None:
        return ""
    return (f"found again: {found.n_found}/{found.n_live} live features = {found.found_fraction:.1%} have a feature "
            f"at decoder cosine >= {found.threshold:g} in the other seed's SAE ({found.one_to_one_fraction:.1%} one "
            f"to one); median nearest cosine {found.median_nearest_cosine:.2f}")


def format_summary(s: InterpretSummary) -> str:
    """A few lines for the terminal."""
    f, n, d = s.features.labels, s.neurons.labels, s.density
    sae_line = (f", {d.never_fire_sae_sparsity} on the SAE's {d.sae_sparsity_states:,} evaluation states"
                if d.sae_sparsity_states is not None else "")
    return "\n".join(line for line in [
        f"{s.n_states} states from {s.n_episodes} episodes, {s.seconds:.1f} s",
        (f"features: {d.never_fire_analysed}/{s.n_features} never fire on the {d.analysed_states:,} "
         f"analysed states{sae_line}; dead (never over {d.dead_over_states:,} states): {d.dead}"),
        f"label rule: {s.label_rule}",
        (f"labeled: {f.n_labeled}/{f.n_units} features firing on >= {s.min_firings} held-out states "
         f"= {f.labeled_fraction:.1%} (labels: precision {f.mean_label_precision:.2f}, recall "
         f"{f.mean_label_recall:.2f}, F1 {f.mean_label_f1:.2f}, lift {f.mean_label_lift:.1f})"),
        (f"neuron baseline: {n.n_labeled}/{n.n_units} neurons = {n.labeled_fraction:.1%} (precision "
         f"{n.mean_label_precision:.2f}, recall {n.mean_label_recall:.2f}, F1 {n.mean_label_f1:.2f})"),
        f"explain rule: {s.explain_rule}" if s.features.explanations is not None else "",
        _explained_line("explained: ", "live features", s.features.explanations),
        _explained_line("neurons explained: ", "live neurons", s.neurons.explanations),
        f"per fact ({s.features.facts.n_facts} single facts, held-out):",
        _table_line("features", s.features.facts), _table_line("neurons", s.neurons.facts),
        format_talk_features(s.talk_features),
        *[f"best '{h.title}' feature: {_unit(h.feature, 'feature')}; best neuron: {_unit(h.neuron, 'neuron')}"
          for h in s.headlines],
        f"{s.n_clusters} clusters", _found_line(s.found_again),
        *[f"note: {note}" for note in s.notes],
    ] if line)


def main(cfg: InterpretConfig) -> None:
    """The CLI: interpret, then print the summary."""
    result = interpret(cfg)
    print(format_summary(result.summary))
    print(f"written to {cfg.out}")
