"""Features across one run's checkpoints (`rlsae track`) on a real sweep output: how many of each checkpoint's
features have an ancestor in the one before, by decoder cosine and by activation correlation, and how many of the
final SAE's live features are traced, written into BENCHMARKS.md. A control for decoder cosine: how close each
SAE's trained decoder rows still are to the random rows it started from (the same seed's fresh Top-K SAE).

    python benchmarks/track_series.py --series runs/i25/sweep/seed4 --arm default --states 4000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from rlsae.analysis.track import between, decoder_cosine
from rlsae.sae import build_sae
from rlsae.sae.io import load_sae, sae_metadata
from rlsae.track import MATCHES, SeriesSAE, TrackConfig, live_features, run_track


def start_cosine(sae: SeriesSAE) -> float:
    """Median cosine of each trained decoder row with its own row at initialisation (Top-K, fresh init)."""
    trained = load_sae(sae.folder).W_dec.detach()
    config = sae_metadata(sae.folder)["rlsae"]["config"]
    torch.manual_seed(config["seed"])  # as train-sae draws its SAE
    start = build_sae("topk", trained.shape[1], trained.shape[0], k=config["options"]["k"]).W_dec.detach()
    return float(np.median(np.diag(decoder_cosine(start, trained))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=Path, required=True, help="one run's folder in a sweep output")
    parser.add_argument("--arm", default="default")
    parser.add_argument("--states", type=int, default=4000, help="shared states per pair (--match codes)")
    parser.add_argument("--out", type=Path, default=Path("runs/track-bench"))
    args = parser.parse_args()
    rows, notes = [], []
    for match in MATCHES:
        saes, lineage = run_track(TrackConfig(series=args.series, arm=args.arm, match=match, states=args.states,
                                              out=args.out / match, progress=False))
        for step in lineage.steps:
            rows.append([lineage.measure, f"{step.before} -> {step.after}", f"{step.traced:.1%}",
                         f"{step.matched_similarity:.3f}", f"{step.born:,}", f"{step.lost:,}", f"{step.split:,}",
                         f"{step.merged:,}"])
        live = live_features(saes[-1].folder)
        final = lineage.checkpoints[-1]
        chosen = [final.features[i] for i in live] if live is not None else final.features
        traced = sum(f.ancestor is not None for f in chosen) / max(len(chosen), 1)
        lines = [len([t for t in lineage.line(f.feature) if t is not None]) for f in chosen]
        explained = sum(e is not None for e in final.explanations)
        live_ids = {f.feature for f in chosen}
        last = len(lineage.checkpoints) - 1
        changed = sum(1 for _, j, _, _ in between(lineage, last - 1, last).changed if j in live_ids)
        notes.append(f"- {lineage.measure}: {traced:.1%} of the final SAE's {len(chosen):,} live features "
                     f"({saes[-1].name}) have an ancestor in {saes[-2].name} (goal >= 50% at >= 0.7); their lines "
                     f"reach back a mean {sum(lines) / max(len(lines), 1):.2f} of {len(saes)} checkpoints; "
                     f"{explained:,} final features carry an explanation, {changed:,} traced live features "
                     "changed explanation in the last step")
    notes.append("- trained decoder rows against the rows they started from (median cosine): " + ", ".join(
        f"{s.name} {start_cosine(s):.2f}" for s in saes))
    append_section(f"Features across checkpoints (rlsae track) on {args.series} ({args.arm} SAEs)",
                   ["measure", "step", "traced", "matched pairs' mean similarity", "born", "lost", "split",
                    "merged"], rows, "\n".join(notes))


if __name__ == "__main__":
    main()
