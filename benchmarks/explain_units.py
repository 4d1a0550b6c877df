"""How many units does a formula of up to three literals explain, and how fast is the search?

    python benchmarks/explain_units.py --sae runs/demo/sae --recording runs/demo/recording

On a real recording and SAE: the literals (analysis/literals.py) are the game's boolean facts (one-hot
categories; the 16x16 tile grid left out, as in the per-fact tables), quantile thresholds on its continuous
facts (in place of their fixed bins), and its binary facts 1, 3, 10 and 30 steps ago, in that many steps
and within the next that many. The search (analysis/explain.py) runs on the SAE's features and on the
layer's neurons over the same states and the same held-out whole episodes. Per set it prints the live
units, the share explained under the rule, the mean held-out explanation F1, the seconds the search took,
and the best-explained units' formulas. Read-only: writes nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rlsae.analysis.explain import ExplainConfig, ExplainRule, Explanations, explain_units
from rlsae.analysis.features import encode_all
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.labels import split_by_episode
from rlsae.analysis.literals import game_literals
from rlsae.analysis.states import select_states, state_facts
from rlsae.sae import load_sae


def report(kind: str, found: Explanations, seconds: float, show: int) -> None:
    s = found.summary()
    print(f"{kind}: {s['n_explained']}/{s['n_units']} live units explained = {s['explained_fraction']:.1%}, "
          f"mean held-out explanation F1 {s['mean_f1']:.3f}, search {seconds:.1f} s")
    lengths = np.bincount([len(e.literals) for e in found.units if e is not None], minlength=4)[1:]
    print(f"  formulas of 1/2/3 literals: {lengths.tolist()}; the bounds pruned {found.pruned:.1%} of the third "
          "literal's candidates")
    ranked = sorted((e for e in found.units if e is not None and found.live[e.unit]), key=lambda e: -e.scores.f1)
    for e in ranked[:show]:
        print(f"  unit {e.unit}: {e.formula}  (F1 {e.scores.f1:.2f}, precision {e.scores.precision:.2f}, "
              f"recall {e.scores.recall:.2f}, mass {e.scores.mass:.0%}, {e.scores.firings:.0f} firings)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", type=Path, required=True)
    parser.add_argument("--recording", type=Path, default=None)
    parser.add_argument("--max-states", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1, help="held-out split (interpret's default seed)")
    parser.add_argument("--beam", type=int, default=ExplainConfig.beam)
    parser.add_argument("--show", type=int, default=8, help="best-explained units printed per set")
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
    rule, cfg = ExplainRule(), ExplainConfig(beam=args.beam)
    print(f"rule: {rule}")
    for kind, units in (("SAE features", lambda: encode_all(sae, activations)), ("neurons", lambda: activations)):
        values = units()
        start = time.perf_counter()
        found = explain_units(values, literals, held, rule, cfg)
        report(kind, found, time.perf_counter() - start, args.show)


if __name__ == "__main__":
    main()
