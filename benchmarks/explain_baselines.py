"""Do trained SAE features beat neurons and random dictionaries at being explained? Issue 21's baselines table.

    rlsae train-sae --recording runs/demo/recording --out runs/explain-baselines/sae-seed2 --expansion-factor 4 --k 32 \
        --samples 2000000 --seed 2
    python benchmarks/explain_baselines.py --sae runs/demo/sae --other-seed runs/explain-baselines/sae-seed2

Five sets of units on the same states and the same held-out whole episodes: the SAE's features, the layer's
neurons, the neurons under a random rotation, a random-weight SAE of the same shape (label_scores.unit_sets)
and the SAE trained with another seed on the same recording. Per set: the share of live units the formula
search explains (analysis/explain.py on analysis/literals.game_literals, as benchmarks/explain_units.py) and
their mean held-out explanation F1; per fact (analysis/per_fact.py through labels.score_units) the best single
unit's F1, coverage at F1 >= 0.5, the OR of precise units and k-sparse probing at k = 1, 2, 5; and "found
again" (analysis/seed_match.py): the share of live features whose decoder direction has a match at cosine
>= 0.9 in the other seed's SAE (the random-weight SAE: in another random-weight SAE).

Then, for the trained SAE: how stable its explanations are over --splits episode splits (held-out split seeds
--seed, --seed + 1, ...); the talk's two features on --talk-splits splits (seeds 0, 1, ...); and what tells
the "heading for a power pill" feature from the opening of the game (episode steps < --opening). Appends
the tables and every issue-21 goal's number to BENCHMARKS.md (--dry-run: print only).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from label_scores import unit_sets
from rlsae.analysis.explain import ExplainConfig, ExplainRule, Explanations, Formula, explain_units
from rlsae.analysis.features import encode_all
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.labels import LabelRule, UnitStats, about, label_units, score_units, split_by_episode
from rlsae.analysis.literals import Literals, game_literals
from rlsae.analysis.seed_match import FOUND_COSINE, seed_match
from rlsae.analysis.states import labelling_facts, select_states, state_facts
from rlsae.analysis.talk import TalkUnit, find_talk_features
from rlsae.envs.games import game_spec
from rlsae.record.recording import Recording
from rlsae.sae import build_sae, load_sae

PROBE_COLUMNS = (1, 2, 5)
SAME_IOU = 0.9  # two formulas of two splits are "the same" when they hold on these states alike (IoU)
F1_WITHIN = 0.05  # ... or the other split's explanation scores within this held-out F1 (issue 21)
STABLE_SPLITS = 4  # of 5


@dataclass
class Row:
    """One set of units' numbers."""

    live: int
    explained: float
    mean_f1: float
    stats: UnitStats
    found_again: float | None
    found_again_one_to_one: float | None
    seconds: float


def order_of_play(rec: Recording, states: np.ndarray) -> np.ndarray:
    """``states`` sorted by (episode, step): the time-shifted literals look along each episode's rows."""
    return states[np.lexsort((rec.episode_steps[states], rec.episode_ids[states]))]


def explanation_holds(explanations: Explanations, unit: int, literals: Literals) -> np.ndarray | None:
    """[n] where the unit's explanation holds over all states (None: the unit was not searched)."""
    e = explanations.units[unit]
    if e is None:
        return None
    index = {name: i for i, name in enumerate(literals.names)}
    return Formula(tuple(index[name] for name in e.literals), e.ops, e.negated).holds(literals.values)


def stability(features: np.ndarray, decoded: dict[str, np.ndarray], game: str, episode_ids: np.ndarray,
              seeds: list[int], reference: Explanations, first_literals: Literals, rule: ExplainRule,
              cfg: ExplainConfig) -> tuple[list[list[str]], dict[str, float]]:
    """Per feature explained on the first split: on how many of the splits its explanation is the same
    formula (text, or holding on the same states to IoU >= SAME_IOU: a quantile threshold moves with the
    fitting split) or another that passes the rule with held-out F1 within F1_WITHIN of the first's.
    ``reference`` and ``first_literals``: the explanations and literals of the first split. Only those
    features are searched on the other splits (a unit's search does not depend on the others')."""
    explained = [e.unit for e in reference.units if e is not None and e.explained and reference.live[e.unit]]
    same = np.ones((len(explained), len(seeds)), bool)
    close = np.ones_like(same)
    rows = [[str(seeds[0]), "100.0%", f"{np.mean([reference.units[u].scores.f1 for u in explained]):.3f}",
             "(reference)", "(reference)", "-"]]
    for s, seed in enumerate(seeds[1:], start=1):
        _, held = split_by_episode(episode_ids, 0.3, seed)
        literals = game_literals(decoded, game, episode_ids, ~held)
        start = time.perf_counter()
        found = explain_units(features[:, explained], literals, held, rule, cfg)
        seconds = time.perf_counter() - start
        for i, unit in enumerate(explained):
            e, ref = found.units[i], reference.units[unit]
            if e is None:
                same[i, s] = close[i, s] = False
                continue
            a = explanation_holds(reference, unit, first_literals)
            b = explanation_holds(found, i, literals)
            union = (a | b).sum()
            same[i, s] = e.formula == ref.formula or (union > 0 and (a & b).sum() / union >= SAME_IOU)
            close[i, s] = e.explained and abs(e.scores.f1 - ref.scores.f1) <= F1_WITHIN
        f1 = [np.nan_to_num(e.scores.f1) if e is not None else 0.0 for e in found.units]
        rows.append([str(seed), f"{np.mean([e is not None and e.explained for e in found.units]):.1%}",
                     f"{np.mean(f1):.3f}",
                     f"{same[:, s].mean():.1%}", f"{(same | close)[:, s].mean():.1%}", f"{seconds:.0f}"])
    need = min(STABLE_SPLITS, len(seeds))
    shares = {"explained": len(explained), "same": float(np.mean(same.sum(1) >= need)) if explained else np.nan,
              "stable": float(np.mean((same | close).sum(1) >= need)) if explained else np.nan}
    return rows, shares


def talk_over_splits(features: np.ndarray, facts: dict[str, np.ndarray], descriptions: dict[str, str],
                     episode_ids: np.ndarray, seeds: int,
                     game: str) -> tuple[list[list[str]], dict[int, list[TalkUnit]]]:
    """The talk's features found on each of ``seeds`` splits (only the talk's facts scored): a row per
    split and feature with the unit, its fact and held-out precision and recall; the features by split."""
    spec = game_spec(game)
    prefixes = tuple(p for feature in spec.talk_features for p in feature.prefixes)
    talk_facts = {name: values for name, values in facts.items() if about(name, prefixes)}
    rows: list[list[str]] = []
    found: dict[int, list[TalkUnit]] = {}
    for seed in range(seeds):
        labels = label_units(features, talk_facts, episode_ids, descriptions, seed=seed)
        live = labels.scores.held_fires[0] >= labels.rule.min_firings
        found[seed] = find_talk_features(labels, live, None, descriptions, spec)
        for t in found[seed]:
            if t.best is None:
                rows.append([str(seed), t.title, "-", "-", "-", "-", "-", "no live unit"])
                continue
            s = t.best.scores
            rows.append([str(seed), t.title, f"#{t.best.unit}", t.best.fact, f"{s.precision:.2f}", f"{s.recall:.2f}",
                         f"{s.firings:.0f}", "met" if t.found else f"not met ({t.bar})"])
    return rows, found


def precision_recall(fires: np.ndarray, holds: np.ndarray) -> str:
    hits = (fires & holds).sum()
    precision = hits / fires.sum() if fires.any() else float("nan")
    recall = hits / holds.sum() if holds.any() else float("nan")
    return f"{precision:.2f} / {recall:.2f} ({fires.sum():,} firings, {holds.sum():,} holds)"


def heading_vs_opening(talk: TalkUnit, features: np.ndarray, facts: dict[str, np.ndarray], steps: np.ndarray,
                       episode_ids: np.ndarray, held: np.ndarray, opening: int,
                       explanation: str) -> tuple[list[list[str]], str]:
    """The heading feature's held-out precision and recall for its fact, over all states, before step
    ``opening`` and after it, and for "the opening" itself; where in the episodes it fires."""
    unit, fact = talk.best.unit, talk.best.fact
    activation = features[:, unit]
    level = talk.best.scores.threshold * activation[~held].max()
    fires = (activation > level) & held
    holds = facts[fact] & held
    early = steps < opening
    in_window = (steps >= 63) & (steps <= 68)
    episodes = np.unique(episode_ids[held])
    fired_in_window = np.mean([fires[(episode_ids == e) & in_window].any() for e in episodes])
    rows = [["its fact, all held-out states", precision_recall(fires, holds)],
            [f"its fact, episode steps >= {opening}", precision_recall(fires & ~early, holds & ~early)],
            [f"its fact, episode steps < {opening}", precision_recall(fires & early, holds & early)],
            [f"the opening (episode step < {opening})", precision_recall(fires, early & held)],
            ["the opening AND NOT its fact", precision_recall(fires, early & ~facts[fact] & held)]]
    # Is there a feature for the opening itself? The one whose firing (above 0) agrees best with it, held out.
    opening_fires = features[held] > 0
    hits = opening_fires[early[held]].sum(0)
    f1 = 2 * hits / (opening_fires.sum(0) + early[held].sum())
    best = int(np.argmax(f1))
    best_fires = (features[:, best] > 0) & held
    rows += [[f"the opening, by the feature that detects it best (#{best}, above 0)",
              precision_recall(best_fires, early & held)],
             [f"its fact, by that opening feature #{best}", precision_recall(best_fires, holds)]]
    notes = (f"Feature #{unit} (fact `{fact}`, threshold {talk.best.scores.threshold:.0%} of its fit-split max). "
             f"{(fires & early).sum() / max(fires.sum(), 1):.0%} of its held-out firings fall before step {opening}; "
             f"it fires at steps 63-68 in {fired_in_window:.0%} of the {len(episodes)} held-out episodes; its "
             f"fact holds on {holds[early].sum() / max((early & held).sum(), 1):.1%} of the held-out states before "
             f"step {opening} and {holds[~early].sum() / max((~early & held).sum(), 1):.1%} after. The formula "
             f"search explains it as: {explanation}.")
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", type=Path, required=True)
    parser.add_argument("--other-seed", type=Path, required=True, help="the same SAE trained with another seed")
    parser.add_argument("--recording", type=Path, default=None)
    parser.add_argument("--max-states", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1, help="held-out split of the table (interpret's default)")
    parser.add_argument("--splits", type=int, default=5, help="episode splits for the stability of explanations")
    parser.add_argument("--talk-splits", type=int, default=10, help="episode splits for the talk's features")
    parser.add_argument("--opening", type=int, default=100, help="episode steps that count as the game's opening")
    parser.add_argument("--sets", nargs="*", default=None,
                        help="only these sets of units (default: all five; the trained SAE's sections need "
                        "'SAE features')")
    parser.add_argument("--dry-run", action="store_true", help="print the tables, do not append to BENCHMARKS.md")
    args = parser.parse_args()

    sae, other = load_sae(args.sae), load_sae(args.other_seed)
    rec = sae_recording(args.sae, args.recording)
    states = order_of_play(rec, select_states(rec, args.max_states))
    activations = np.asarray(rec.activations[np.sort(states)], np.float32)[np.argsort(np.argsort(states))]
    episode_ids, steps = np.asarray(rec.episode_ids[states]), np.asarray(rec.episode_steps[states])
    game = rec.manifest["game"]
    decoded = state_facts(rec, states)
    facts, descriptions, primary = labelling_facts(rec, states)
    _, held = split_by_episode(episode_ids, 0.3, args.seed)
    literals = game_literals(decoded, game, episode_ids, ~held)
    rule, cfg, label_rule = ExplainRule(), ExplainConfig(), LabelRule()

    units_of = unit_sets(sae, activations, args.seed)
    units_of["SAE, another seed"] = encode_all(other, activations)
    unknown = set(args.sets or []) - set(units_of)
    if unknown:
        parser.error(f"--sets: unknown {sorted(unknown)}; choose from {list(units_of)}")
    features = units_of["SAE features"]
    units_of = {name: units for name, units in units_of.items() if not args.sets or name in args.sets}
    # The random baseline's "found again": two more random draws of the same shape (the decoder is random,
    # whichever draw: the table's own is built inside unit_sets).
    twins = []
    for draw in (1, 2):
        torch.manual_seed(args.seed + draw)
        twins.append(build_sae(sae.name, sae.d_in, sae.d_sae, k=getattr(sae, "k", None)).W_dec)
    decoders = {"SAE features": (sae.W_dec, other.W_dec), "SAE, another seed": (other.W_dec, sae.W_dec),
                "random-weight SAE": (twins[0], twins[1])}
    rows: dict[str, Row] = {}
    explanations: dict[str, Explanations] = {}
    for name in list(units_of):
        units = units_of.pop(name)
        start = time.perf_counter()
        found = explain_units(units, literals, held, rule, cfg)
        _, stats = score_units(units, facts, descriptions, primary, episode_ids, label_rule, args.seed)
        live = found.live
        pair = decoders.get(name)
        match = seed_match(*pair) if pair is not None else None
        among = None if name == "random-weight SAE" else live  # the twins are not the table's random SAE
        s = found.summary()
        rows[name] = Row(s.n_units, s.explained_fraction, s.mean_f1, stats,
                         match.share(among) if match else None, match.share(among, one_to_one=True) if match else None,
                         time.perf_counter() - start)
        explanations[name] = found
        print(f"{name}: {s.explained_fraction:.1%} explained, mean F1 {s.mean_f1:.3f}, best-unit F1 "
              f"{stats.facts.mean_best_f1:.3f}, {time.perf_counter() - start:.0f} s", flush=True)

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    table = [[name, f"{r.live:,}", pct(r.explained), f"{r.mean_f1:.3f}", f"{r.stats.facts.mean_best_f1:.3f}",
              pct(r.stats.facts.covered(0.5)), f"{r.stats.facts.mean_or_f1:.3f}",
              *[f"{r.stats.facts.probe(k):.3f}" for k in PROBE_COLUMNS], pct(r.found_again),
              pct(r.found_again_one_to_one), f"{r.seconds:.0f}"] for name, r in rows.items()]

    report = append_section if not args.dry_run else print_section
    trained = "SAE features" in explanations
    stable: dict[str, float] = {}
    if trained and args.splits > 1:
        split_rows, stable = stability(features, decoded, game, episode_ids,
                                       list(range(args.seed, args.seed + args.splits)), explanations["SAE features"],
                                       literals, rule, cfg)
    talk: dict[int, list[TalkUnit]] = {}
    if trained and args.talk_splits:
        talk_rows, talk = talk_over_splits(features, facts, descriptions, episode_ids, args.talk_splits, game)

    n_eps = len(np.unique(episode_ids))
    notes = (f"{len(states):,} states ({n_eps} episodes) of `{rec.path}`; SAE `{args.sae}` ({sae.name}, {sae.d_sae} "
             f"latents, k={getattr(sae, 'k', None)}), the other seed `{args.other_seed}`; held-out split seed "
             f"{args.seed} (30% of the episodes); {len(literals.names)} literals. Explanation rule: {rule}. 'live' "
             f"= above 0 on >= {rule.min_firings} held-out states; mean explanation F1 over the live units (0 for "
             f"one never searched). Per-fact columns over the single facts judged (label_scores.py's). Found "
             f"again: share of live features whose nearest decoder direction in the other seed's SAE has cosine "
             f">= {FOUND_COSINE} (the random-weight SAE: one random-weight SAE in another, two other random draws "
             f"of its shape); 'one to one' counts only the Hungarian partner. Seconds: search and scoring of the "
             f"set, on a shared machine.\n\nIssue 21's goals on this run:\n\n"
             + "\n".join(goals(rows, stable, args.splits, talk, args.talk_splits)))
    report("Explanations: trained SAE vs neurons vs random dictionaries vs another seed (issue 21)",
           ["units", "live", "explained", "mean explanation F1", "mean best-unit F1", "coverage F1>=0.5",
            "OR-of-precise F1", *[f"probe k={k}" for k in PROBE_COLUMNS], "found again", "found again, one to one",
            "s"], table, notes)
    if stable:
        report("Stability of the trained SAE's explanations over episode splits",
               ["split seed", "of them explained", "their mean explanation F1", f"same formula as split {args.seed}",
                f"same, or explained within {F1_WITHIN} F1", "search s"], split_rows,
               f"Features explained on split {args.seed}: {stable['explained']}. A feature is stable when on >= "
               f"{STABLE_SPLITS} of the {args.splits} splits (its reference split included) its explanation is the "
               f"same formula (same text, or holding on the same states to IoU >= {SAME_IOU}: quantile thresholds "
               f"move with the fitting split) or another that passes the rule with held-out F1 within {F1_WITHIN} "
               f"of the reference's: {stable['stable']:.1%} ({stable['same']:.1%} by the same formula alone).")
    if talk:
        report("The talk's two features on every episode split (trained SAE, held-out numbers)",
               ["split seed", "feature", "unit", "fact", "precision", "recall", "firings", "bar"], talk_rows,
               f"Split seeds 0 to {args.talk_splits - 1}; the demo's own split is seed {args.seed}. Only the talk's "
               "facts are scored (as label_scores.py --split-seeds).")
    heading = next((t for t in talk.get(args.seed, []) if t.key == "heading_to_pill" and t.best is not None), None)
    if heading is not None and heading.best is not None and trained:
        e = explanations["SAE features"].units[heading.best.unit]
        text = "nothing (too few firings to search)" if e is None else (
            f"`{e.formula}` (held-out F1 {e.scores.f1:.2f}, precision {e.scores.precision:.2f}, recall "
            f"{e.scores.recall:.2f}; {'explained' if e.explained else 'not explained'} under the rule)")
        heading_rows, heading_notes = heading_vs_opening(heading, features, facts, steps, episode_ids, held,
                                                         args.opening, text)
        report(f"The 'heading for a power pill' feature (#{heading.best.unit}, {heading.best.fact}) vs the opening "
               f"of the game (held-out episodes, split seed {args.seed})",
               ["held-out precision / recall of the feature for", "value"], heading_rows, heading_notes)


def goals(rows: dict[str, Row], stable: dict[str, float], splits: int, talk: dict[int, list[TalkUnit]],
          talk_splits: int) -> list[str]:
    """A line per issue-21 goal this run measures, with its numbers and whether it is met."""
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    out = []
    trained, random_row = rows.get("SAE features"), rows.get("random-weight SAE")
    if trained is not None:
        out.append(f"- >= 70% of live features explained with mean held-out explanation F1 >= 0.5: "
                   f"{trained.explained:.1%}, {trained.mean_f1:.3f} - "
                   f"{verdict(trained.explained >= 0.7 and trained.mean_f1 >= 0.5)}")
    if trained is not None and random_row is not None:
        share, f1 = trained.explained - random_row.explained, trained.mean_f1 - random_row.mean_f1
        out.append(f"- ahead of the random-weight SAE by >= 20 points of explained share: {100 * share:+.1f} points "
                   f"- {verdict(share >= 0.2)}; by >= 0.10 of mean explanation F1: {f1:+.3f} - {verdict(f1 >= 0.1)}")
    for name in ("neurons", "rotated neurons"):
        if trained is not None and name in rows:
            best, theirs = trained.stats.facts.mean_best_f1, rows[name].stats.facts.mean_best_f1
            out.append(f"- ahead of the {name} by >= 0.10 of mean best-unit F1 per fact: {best:.3f} vs {theirs:.3f} "
                       f"({best - theirs:+.3f}) - {verdict(best - theirs >= 0.1)}")
    if stable:
        out.append(f"- explanations stable (the same formula, or one with held-out F1 within {F1_WITHIN}, on >= "
                   f"{STABLE_SPLITS} of {splits} splits) for >= 80% of the {stable['explained']:.0f} explained "
                   f"features: {stable['stable']:.1%} ({stable['same']:.1%} with the same formula alone) - "
                   f"{verdict(stable['stable'] >= 0.8)}")
    dead = [t for found in talk.values() for t in found if t.key == "dead" and t.best is not None]
    if talk:
        met = sum(t.found for t in dead)
        out.append(f"- 'Pac-Man is dead' at held-out precision >= 0.9 with recall >= 0.8 on every split: on {met} "
                   f"of {talk_splits} - {verdict(met == talk_splits)}")
    return out


def print_section(title: str, header: list[str], rows: list[list[str]], notes: str = "") -> None:
    print(f"\n### {title}\n\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    print("\n".join("| " + " | ".join(row) + " |" for row in rows) + f"\n\n{notes}\n")


if __name__ == "__main__":
    main()
