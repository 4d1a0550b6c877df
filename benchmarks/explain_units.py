"""How many units does a formula of up to three literals explain, and how fast is the search?

    python benchmarks/explain_units.py --sae runs/demo/sae --recording runs/demo/recording

On a real recording and SAE: the literals (analysis/literals.py) are the game's boolean facts (one-hot
categories; the 16x16 tile grid left out, as in the per-fact tables), quantile thresholds on its continuous
facts (in place of their fixed bins), its binary facts 1, 3, 10 and 30 steps ago, in that many steps and
within the next that many, and per unit its place literal (analysis/place.py: the tiles where it fires on
the fitting split). The search (analysis/explain.py) runs on the SAE's features, the layer's neurons and
a random-weight SAE of the SAE's shape (b_dec at the data mean, as benchmarks/label_scores.py makes it),
over the same states and held-out whole episodes, each with and without the place literal: a literal family
that lifts the random SAE as much as the trained one says nothing about what training learned. Per set it
prints the live units, the share explained under the rule, the mean held-out explanation F1, the seconds
the search took, the share of the held-out activation mass that falls on explained units, the median
spatial information of its units (bits) and the best-explained formulas, and the share explained by how
often a unit fires; with
--missing, what the unexplained live SAE features' best formulas are made of. --append adds the table to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from rlsae.analysis.explain import ExplainConfig, ExplainRule, Explanations, explain_units
from rlsae.analysis.features import encode_all
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.labels import split_by_episode
from rlsae.analysis.literals import game_literals
from rlsae.analysis.place import place_fields
from rlsae.analysis.states import select_states, state_facts
from rlsae.sae import build_sae, load_sae


def report(kind: str, found: Explanations, seconds: float, show: int) -> None:
    s = found.summary()
    print(f"{kind}: {s.n_explained}/{s.n_units} live units explained = {s.explained_fraction:.1%}, "
          f"mean held-out explanation F1 {s.mean_f1:.3f}, search {seconds:.1f} s")
    lengths = np.bincount([len(e.literals) for e in found.units if e is not None], minlength=4)[1:]
    placed = sum(e is not None and e.explained and bool(e.place_tiles) for e in found.units)
    print(f"  formulas of 1/2/3 literals: {lengths.tolist()}; {placed} explained with a place literal; the "
          f"bounds pruned {found.pruned:.1%} of the third literal's candidates")
    ranked = sorted((e for e in found.units if e is not None and found.live[e.unit]), key=lambda e: -e.scores.f1)
    for e in ranked[:show]:
        print(f"  unit {e.unit}: {e.formula}  (F1 {e.scores.f1:.2f}, precision {e.scores.precision:.2f}, "
              f"recall {e.scores.recall:.2f}, mass {e.scores.mass:.0%}, {e.scores.firings:.0f} firings)")


RATE_BINS = (0.0, 0.001, 0.005, 0.02, 0.1, 1.0)  # share of held-out states where a unit fires


def by_rate(found: Explanations, rate: np.ndarray) -> str:
    """The share of live units explained, per bin of how often they fire."""
    explained = np.array([e is not None and e.explained for e in found.units])
    parts = []
    for lo, hi in zip(RATE_BINS, RATE_BINS[1:]):
        m = found.live & (rate >= lo) & (rate < hi)
        parts.append(f"{lo:.1%}-{hi:.1%}: {explained[m].sum()}/{m.sum()}")
    return "; ".join(parts)


def family(name: str) -> str:
    """A literal's kind for --missing: "place", "in k steps", "k steps ago", "<= q" or the fact's name."""
    for word in ("place field", " ago", " in ", "within next", " <= "):
        if word in name:
            return word.strip()
    return name.split("=")[0]


def missing(found: Explanations) -> None:
    """What the unexplained live units' best formulas are made of, and how well they do."""
    lost = [e for e in found.units if e is not None and found.live[e.unit] and not e.explained]
    f1, precision, recall = (np.nanmedian([getattr(e.scores, name) for e in lost])
                             for name in ("f1", "precision", "recall"))
    print(f"  {len(lost)} unexplained live units (searched); median held-out F1 {f1:.2f}, precision "
          f"{precision:.2f}, recall {recall:.2f}; literal families in their formulas:")
    print("   ", Counter(family(name) for e in lost for name in e.literals).most_common(20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", type=Path, required=True)
    parser.add_argument("--recording", type=Path, default=None)
    parser.add_argument("--max-states", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1, help="held-out split (interpret's default seed)")
    parser.add_argument("--beam", type=int, default=ExplainConfig.beam)
    parser.add_argument("--show", type=int, default=8, help="best-explained units printed per set")
    parser.add_argument("--sets", nargs="+", default=["SAE features", "neurons", "random-weight SAE"])
    parser.add_argument("--missing", action="store_true", help="what the unexplained SAE features' formulas hold")
    parser.add_argument("--append", action="store_true", help="append the table to BENCHMARKS.md")
    args = parser.parse_args()

    sae = load_sae(args.sae)
    rec = sae_recording(args.sae, args.recording)
    states = select_states(rec, args.max_states)
    # Play order (episode, step): the time-shifted literals look along each episode's rows.
    states = states[np.lexsort((rec.episode_steps[states], rec.episode_ids[states]))]
    start = time.perf_counter()
    activations = np.asarray(rec.activations[np.sort(states)], np.float32)[np.argsort(np.argsort(states))]
    episode_ids = np.asarray(rec.episode_ids[states])
    _, held = split_by_episode(episode_ids, 0.3, args.seed)
    literals = game_literals(state_facts(rec, states), rec.manifest["game"], episode_ids, ~held)
    print(f"{len(states):,} states from {len(np.unique(episode_ids))} episodes, {held.mean():.0%} held out; "
          f"{len(literals.names)} literals; loading {time.perf_counter() - start:.1f} s")
    torch.manual_seed(args.seed)
    random_sae = build_sae(sae.name, sae.d_in, sae.d_sae, k=getattr(sae, "k", None))
    with torch.no_grad():
        random_sae.b_dec.copy_(torch.from_numpy(activations.mean(0)))
    makers = {"SAE features": lambda: encode_all(sae, activations), "neurons": lambda: activations,
              "random-weight SAE": lambda: encode_all(random_sae, activations)}
    rule = ExplainRule()
    print(f"rule: {rule}")
    rows = []
    for kind in args.sets:
        values = makers[kind]()
        info = place_fields(values, literals.places, held).information if literals.places is not None else [np.nan]
        held_values = np.maximum(values[held], 0)
        mass, rate = held_values.sum(0), (held_values > 0).mean(0)
        for place in (True, False):
            start = time.perf_counter()
            found = explain_units(values, literals, held, rule, ExplainConfig(beam=args.beam, place=place))
            seconds = time.perf_counter() - start
            name = f"{kind}, {'with' if place else 'without'} place literals"
            report(name, found, seconds, args.show if place else 0)
            explained = np.array([e is not None and e.explained for e in found.units])
            print(f"  explained by firing rate: {by_rate(found, rate)}")
            if args.missing and place and kind == "SAE features":
                missing(found)
            s = found.summary()
            rows.append([name, f"{s.n_units:,}", f"{s.n_explained:,}", f"{s.explained_fraction:.1%}",
                         f"{s.mean_f1:.3f}", f"{mass[explained].sum() / mass[found.live].sum():.1%}",
                         f"{np.nanmedian(np.asarray(info)[found.live]):.2f}", f"{seconds:.1f} s"])
    header = ["units", "live", "explained", "share", "mean held-out explanation F1 (over live)",
              "held-out activation mass on explained units", "median spatial information (bits)", "search"]
    print("\n| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    print("\n".join("| " + " | ".join(row) + " |" for row in rows))
    if args.append:
        append_section("Compositional explanations with place literals", header, rows)


if __name__ == "__main__":
    main()
