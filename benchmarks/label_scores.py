"""Do SAE features read better than neurons? Features vs neurons vs baselines on ground-truth game facts.

    python benchmarks/label_scores.py --sae runs/labels-dev/sae --max-states 200000

The same scoring (analysis/scores.py, analysis/labels.py) on four sets of units over the same states,
held-out whole episodes, thresholds chosen on the fitting split:
  - the SAE's features;
  - the layer's neurons;
  - a random rotation of the neurons (same information, no privileged basis);
  - an SAE with random weights (same width and k, b_dec at the data mean: sparse but untrained).
Per set: mean best single-unit F1 over the single facts, coverage at F1 >= 0.5 and >= 0.8 (Karvonen et al.
2024), the OR of precise units, k-sparse probing accuracy (k = 1, 2, 5, 20; SAEBench), the share of live
units (>= 10 held-out firings) labeled under the label rule, and the seconds the scoring took on one core.
Then the talk's two features. Writes the table into BENCHMARKS.md and a plot (coverage vs F1 threshold,
probing accuracy vs k) to --png (default benchmarks/results/label_scores.png). With --figure, a picture of
the talk's two features (their top frames and action arrows; with --steering, the path Pac-Man takes in the
first game clean and with the heading feature clamped, from a `rlsae steer --goal` run) for docs/results.md.
With --also, other SAEs on the same recording (other sizes, other architectures) get rows of their own.
With --label-splits N, the share of live units labeled on N episode splits, since it moves with the split.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _report import append_section
from rlsae.analysis.features import action_effects, encode_all
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.labels import LabelRule, UnitStats, about, apply_rule, label_units, score_units
from rlsae.analysis.per_fact import PROBE_KS
from rlsae.analysis.states import labelling_facts, select_states
from rlsae.analysis.talk import TalkUnit, find_talk_features, format_talk_features
from rlsae.envs.games import game_spec
from rlsae.envs.games.spec import GameSpec
from rlsae.sae import SparseAutoencoder, build_sae, load_sae

RESULTS = Path(__file__).resolve().parent / "results"
# Screen direction of each ALE Ms. Pac-Man action (x right, y up), for the arrows; NOOP is the centre dot.
ARROWS = {"UP": (0, 1), "RIGHT": (1, 0), "LEFT": (-1, 0), "DOWN": (0, -1), "UPRIGHT": (0.7, 0.7),
          "UPLEFT": (-0.7, 0.7), "DOWNRIGHT": (0.7, -0.7), "DOWNLEFT": (-0.7, -0.7)}
# The default rule first, then each knob moved: precision, lift, the F1 branch off, the precision branch off.
# Facts by how often they hold (after negating the common ones): a sparse unit can detect a rare fact
# alone, while a fact true on a third of the states is more than one k=32-of-2048 feature fires on.
BASE_RATE_BINS = ((0.0, 0.02), (0.02, 0.05), (0.05, 0.15), (0.15, 0.3), (0.3, 0.51))
RULE_VARIANTS = (LabelRule(), LabelRule(min_precision=0.9), LabelRule(min_precision=0.7), LabelRule(min_precision=0.6),
                 LabelRule(min_precision=0.5), LabelRule(min_lift=2.0), LabelRule(min_lift=5.0),
                 LabelRule(min_f1=1.01), LabelRule(min_precision=1.01))


def unit_sets(sae: SparseAutoencoder, activations: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The four sets of units, each [n_states, units]."""
    torch.manual_seed(seed)
    rotation, _ = torch.linalg.qr(torch.randn(sae.d_in, sae.d_in))
    random_sae = build_sae(sae.name, sae.d_in, sae.d_sae, k=getattr(sae, "k", None))
    with torch.no_grad():
        random_sae.b_dec.copy_(torch.from_numpy(activations.mean(0)))
    return {"SAE features": encode_all(sae, activations), "neurons": activations,
            "rotated neurons": activations @ rotation.numpy(), "random-weight SAE": encode_all(random_sae, activations)}


def by_base_rate(tables: dict[str, UnitStats]) -> list[list[str]]:
    """Per base-rate bin: how many facts, and each set's mean best-unit F1 and k = 1 probing accuracy."""
    rows = []
    for lo, hi in BASE_RATE_BINS:
        in_bin = [[fact for fact in table.facts.per_fact if lo <= fact.base_rate < hi] for table in tables.values()]
        rows.append([f"{lo:.0%}-{min(hi, 0.5):.0%}", str(len(in_bin[0])),
                     *[f"{np.mean([f.f1 for f in facts]):.3f} / {np.mean([f.probe[0] for f in facts if f.probe]):.3f}"
                       if facts else "" for facts in in_bin]])
    return rows


def _spread(values: list[float]) -> str:
    return f"{np.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def split_stability(units_of: dict[str, np.ndarray], facts: dict[str, np.ndarray], descriptions: dict[str, str],
                    episode_ids: np.ndarray, seeds: int, spec: GameSpec) -> list[list[str]]:
    """The talk's features found again on ``seeds`` fit/held-out splits of the same episodes: how much
    of a unit's held-out precision and recall is the luck of the split. A row per set of units and feature,
    the untrained baselines left out."""
    prefixes = tuple(prefix for feature in spec.talk_features for prefix in feature.prefixes)
    talk_facts = {name: values for name, values in facts.items() if about(name, prefixes)}
    rows = []
    for name in (name for name in units_of if name not in ("rotated neurons", "random-weight SAE")):
        picked: dict[str, list[TalkUnit]] = {}
        for seed in range(seeds):
            labels = label_units(units_of[name], talk_facts, episode_ids, descriptions, seed=seed)
            live = labels.scores.held_fires[0] >= labels.rule.min_firings
            for talk in find_talk_features(labels, live, None, descriptions, spec):
                picked.setdefault(talk.key, []).extend([talk] if talk.best is not None else [])
        for key, found in picked.items():
            units, counts = np.unique([t.best.unit for t in found], return_counts=True)
            rows.append([name, key, ", ".join(f"#{u} ({c})" for u, c in zip(units, counts)),
                         _spread([t.best.scores.precision for t in found]),
                         _spread([t.best.scores.recall for t in found]), f"{sum(t.found for t in found)} of {seeds}"])
    return rows


def labeled_over_splits(units_of: dict[str, np.ndarray], facts: dict[str, np.ndarray],
                        descriptions: dict[str, str], episode_ids: np.ndarray, seeds: int) -> list[list[str]]:
    """The share of live units labeled on ``seeds`` fit/held-out splits of the same episodes: which units are
    live (>= 10 held-out firings) and which pass the rule both move with the split. A row per set of units."""
    rows = []
    for name, units in units_of.items():
        shares, counts, lives = [], [], []
        for seed in range(seeds):
            labels = label_units(units, facts, episode_ids, descriptions, seed=seed)
            live = labels.scores.held_fires[0] >= labels.rule.min_firings
            summary = labels.summary(live)
            counts.append(summary.n_labeled)
            lives.append(summary.n_units)
            shares.append(summary.labeled_fraction)
        rows.append([name, f"{np.median(shares):.1%} ({min(shares):.1%}-{max(shares):.1%})",
                     f"{np.median(counts):.0f} ({min(counts)}-{max(counts)})",
                     f"{np.median(lives):.0f} ({min(lives)}-{max(lives)})"])
    return rows


def plot(tables: dict[str, UnitStats], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    at = np.linspace(0, 1, 21)
    for name, table in tables.items():
        f1 = np.array([fact.f1 for fact in table.facts.per_fact])
        axes[0].plot(at, [(f1 >= a).mean() for a in at], label=name)
        axes[1].plot(PROBE_KS, [table.facts.probe(k) for k in PROBE_KS], "o-", label=name)
    axes[0].set(xlabel="F1 threshold", ylabel="share of facts", title="coverage: best single unit, held out")
    axes[1].set(xlabel="k units", ylabel="balanced accuracy", xscale="log", title="k-sparse probing, held out")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.title.set_fontsize(10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def talk_figure(path: Path, rec: Any, states: np.ndarray, features: np.ndarray, talk: list[TalkUnit],
                effect: np.ndarray, action_names: tuple[str, ...], steering: Path | None) -> None:
    """For each talk feature: its 4 strongest states (one per episode) and its push on the policy (the
    advantage: each action's Q change less their mean; blue = more likely, red = less); then, given a
    steering folder, the first game's path clean vs clamped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlsae.analysis.steer import load_steering

    picked = [t.best for t in talk if t.best is not None]
    steered = [r for r in load_steering(steering) if r.goal is not None] if steering is not None else []
    rows = len(picked) + bool(steered)
    fig, axes = plt.subplots(rows, 5, figsize=(11, 3.0 * rows), dpi=72, squeeze=False)
    episodes = np.asarray(rec.episode_ids)[states]
    for row, best in zip(axes, picked):
        unit = best.unit
        shown: list[int] = []
        for i in np.argsort(-features[:, unit]):
            if len(shown) == 4:
                break
            if episodes[i] not in episodes[shown]:
                shown.append(int(i))
        frames = rec.render_frames(states[shown])
        for ax, i, frame in zip(row, shown, frames):
            ax.imshow(frame[:172])
            ax.set_title(f"activation {features[i, unit]:.2f}", fontsize=8)
            ax.axis("off")
        row[0].text(0, -30, f"#{unit}: {best.description}\nheld-out precision {best.scores.precision:.2f}, "
                    f"recall {best.scores.recall:.2f} ({best.scores.firings:.0f} firings)", fontsize=8, va="bottom")
        advantage = effect[unit] - effect[unit].mean()
        scale = np.abs(advantage).max() or 1.0
        ax = row[4]
        for name, value in zip(action_names, advantage):
            colour = "tab:blue" if value > 0 else "tab:red"
            if name in ARROWS:
                dx, dy = ARROWS[name]
                length = abs(value) / scale
                ax.arrow(0, 0, dx * length, dy * length, width=0.04, color=colour, length_includes_head=True)
            else:
                ax.add_patch(plt.Circle((0, 0), 0.12 * abs(value) / scale + 0.03, color=colour))
        ax.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), aspect="equal", title="push on the policy")
        ax.title.set_fontsize(8)
        ax.axis("off")
    if steered:
        r = steered[0]
        row = axes[-1]
        background = rec.render_frames(states[:1])[0][:172]
        conditions = (("clean", r.goal_clean), (f"#{r.feature} clamped", r.goal_steered))
        for ax, (title, result) in zip(row, conditions):
            ax.imshow(background, alpha=0.5)
            xy = np.array(result.path, float).reshape(-1, 2)
            jumps = np.flatnonzero(np.abs(np.diff(xy[:, 0])) > 40) + 1  # the side tunnel: no line across
            xy = np.insert(xy, jumps, np.nan, axis=0)
            ax.plot(xy[:, 0], xy[:, 1], color="yellow" if title == "clean" else "cyan", lw=1.5)
            reached = [step for step in result.first_step if step is not None]
            when = f", median step {np.median(reached):g}" if reached else ""
            ax.set_title(f"{title}: {r.goal.split('=')[-1]}\nwithin {r.goal_steps} steps in "
                         f"{result.share:.0%}\nof {result.games} games{when}", fontsize=7)
            ax.axis("off")
        for ax in row[2:]:
            ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", type=Path, required=True)
    parser.add_argument("--recording", type=Path, default=None)
    parser.add_argument("--max-states", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", type=Path, default=RESULTS / "label_scores.png")
    parser.add_argument("--figure", type=Path, default=None, help="also draw the talk's features here (PNG)")
    parser.add_argument("--steering", type=Path, default=None, help="a `rlsae steer --goal` output for --figure")
    parser.add_argument("--also", type=Path, nargs="*", default=[],
                        help="other SAEs on the same recording (e.g. other sizes), scored as more rows")
    parser.add_argument("--split-seeds", type=int, default=0,
                        help="also find the talk's features on this many other episode splits (seeds 0..N-1)")
    parser.add_argument("--label-splits", type=int, default=0,
                        help="also count the live units labeled on this many episode splits (seeds 0..N-1)")
    args = parser.parse_args()

    sae = load_sae(args.sae)
    rec = sae_recording(args.sae, args.recording)
    states = select_states(rec, args.max_states)
    activations = np.asarray(rec.activations[states], np.float32)
    facts, descriptions, primary = labelling_facts(rec, states)
    episode_ids = rec.episode_ids[states]
    rule = LabelRule()
    tables: dict[str, UnitStats] = {}
    labels, seconds = {}, {}
    units_of = unit_sets(sae, activations, args.seed)
    for other in args.also:
        units_of[f"SAE features: {other.name}"] = encode_all(load_sae(other), activations)
    for name, units in units_of.items():
        start = time.perf_counter()
        labels[name], tables[name] = score_units(units, facts, descriptions, primary, episode_ids, rule, args.seed)
        seconds[name] = time.perf_counter() - start
        print(f"{name}: {time.perf_counter() - start:.0f} s")

    effect = action_effects(torch.as_tensor(rec.head_weight), sae.W_dec.detach())
    live = labels["SAE features"].scores.held_fires[0] >= rule.min_firings
    spec = game_spec(rec.manifest["game"])
    found = find_talk_features(labels["SAE features"], live, effect, descriptions, spec)
    talk = format_talk_features(found)
    if args.figure is not None:
        talk_figure(args.figure, rec, states, units_of["SAE features"], found, effect,
                    spec.action_names, args.steering)
    neuron_live = labels["neurons"].scores.held_fires[0] >= rule.min_firings
    neuron_talk = format_talk_features(find_talk_features(labels["neurons"], neuron_live, None, descriptions, spec),
                                       kind="neuron")
    plot(tables, args.png)

    rows = []
    for name, units in tables.items():
        t, lab = units.facts, units.labels
        rows.append([name, f"{lab.n_units}", f"{t.mean_best_f1:.3f}", f"{t.covered(0.5):.1%}",
                     f"{t.covered(0.8):.1%}", f"{t.mean_or_f1:.3f}", *[f"{t.probe(k):.3f}" for k in PROBE_KS],
                     f"{t.probe(1, 'standardised'):.3f}", f"{lab.labeled_fraction:.1%}",
                     f"{lab.mean_label_precision:.2f}", f"{lab.mean_label_f1:.2f}", f"{seconds[name]:.0f}"])
    n_facts = tables["neurons"].facts.n_facts
    notes = (f"{len(states):,} states ({len(np.unique(episode_ids))} episodes) of `{rec.path}`, SAE `{args.sae}` "
             f"({sae.name}, {sae.d_sae} latents, k={getattr(sae, 'k', None)}); {len(facts)} facts "
             f"scored (pairs and the fine position tiles only label units); the per-fact columns average over "
             f"the {n_facts} of the {len(primary)} single facts with >= {rule.min_firings} positives in each "
             f"split. Probes choose their units by the class means' difference in the units' own scale (SAEBench); "
             f"the 'chosen in sd' column ranks them in standard deviations instead. Label rule: {rule}. 'live' = "
             f"above 0 on >= "
             f"{rule.min_firings} held-out states. Plot: `{args.png.name}`.\n\nThe talk's features "
             f"(SAE):\n\n    {talk.replace(chr(10), chr(10) + '    ')}\n\nBest neurons for the same facts:\n\n"
             f"    {neuron_talk.replace(chr(10), chr(10) + '    ')}")
    rule_rows = []
    for variant in RULE_VARIANTS:
        row = [str(variant)]
        for name in ("SAE features", "neurons"):
            scores = labels[name].scores
            best, passed = apply_rule(scores, variant)
            live = scores.held_fires[0] >= variant.min_firings
            ok = passed & live
            units = np.arange(len(best))
            row += [f"{ok.sum() / max(live.sum(), 1):.1%}",
                    f"{np.nanmean(scores.precision[units, best][ok]) if ok.any() else float('nan'):.2f}",
                    f"{np.nanmean(scores.f1[units, best][ok]) if ok.any() else float('nan'):.2f}"]
        rule_rows.append(row)
    append_section("Features vs neurons vs baselines on game facts (held-out episodes)",
                   ["units", "live", "mean best-unit F1", "coverage F1>=0.5", "coverage F1>=0.8", "OR-of-precise F1",
                    *[f"probe k={k}" for k in PROBE_KS], "probe k=1, chosen in sd", "live labeled", "label precision",
                    "label F1", "scoring s"], rows, notes)
    append_section("Label rule variants on the same scores (share of live units labeled, labels' mean held-out "
                   "precision and F1)", ["rule", "features labeled", "precision", "F1", "neurons labeled",
                                         "precision", "F1"], rule_rows,
                   "The default rule is the first row. Same states, SAE and facts as the table above.")
    append_section("Best-unit F1 and k = 1 probing by how often the fact holds (held-out episodes)",
                   ["fact's base rate", "facts", *[f"{name}: F1 / k=1" for name in tables]], by_base_rate(tables),
                   "Same states, units and facts as the table above; base rate on the fitting split, after "
                   "facts true on more than half the states are negated.")
    if args.split_seeds:
        append_section("The talk's features on other episode splits (held-out numbers)",
                       ["units", "feature", "unit chosen (splits)", "precision: median (range)",
                        "recall: median (range)", "found"],
                       split_stability(units_of, facts, descriptions, episode_ids, args.split_seeds, spec),
                       f"Split seeds 0 to {args.split_seeds - 1} (30% of the episodes held out each time); same "
                       "states, units and facts as above, only the talk's facts scored.")
    if args.label_splits:
        append_section("Live units labeled on other episode splits", ["units", "live labeled: median (range)",
                                                                      "labeled units", "live units"],
                       labeled_over_splits(units_of, facts, descriptions, episode_ids, args.label_splits),
                       f"Split seeds 0 to {args.label_splits - 1} (30% of the episodes held out each time); same "
                       f"states, units, facts and rule as above.")


if __name__ == "__main__":
    main()
