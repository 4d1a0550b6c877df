"""Why held-out episodes fire more latents than the states an SAE trained on: overfitting, or the episodes?

    python benchmarks/heldout_l0_gap.py --recording runs/demo/recording --out runs/l0/h20 \
        --samples 500000 --target-l0 32 --d-sae 2048 [--rows topk batchtopk relu jumprelu ...]

Each architecture trains with `--target-l0` on the recording with twice the usual held-out fraction, so
the episodes whose hash falls in [f, 2f) are unseen by the SAE like the usual held-out ones [0, f) but are
not those. If the SAE overfits its training episodes, both unseen sets fire more than the trained-on
states; if the usual held-out episodes are simply busier, only they do. With --fresh (another recording
of the same agent) L0 is also measured over all of its episodes, as trained and with the SAE's thresholds
(where it has some) aimed at the target on the unseen episodes [f, 2f), the fix a calibration split would
give. A finished SAE in --out/ARCH is measured again, not retrained. Appends a dated table to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from rlsae.record.recording import Recording
from rlsae.sae.architectures import ARCHITECTURES
from rlsae.sae.data import heldout_mask, read_rows, read_steps
from rlsae.sae.io import CFG, load_sae
from rlsae.sae.train import TrainSAEConfig, train_sae

BUSY = 1.3  # an episode whose mean L0 passes this multiple of the target counts as busy


def fresh_l0(sae: torch.nn.Module, recording: Recording, target: int) -> tuple[float, float]:
    """Mean L0 over every state of ``recording`` (read a chunk at a time) and the share of its episodes of
    100 steps or more that are busy."""
    sums: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for part, ids in zip(recording.activations.parts, recording.episode_ids.parts, strict=True):
        for start in range(0, len(part), 32768):
            stop = min(start + 32768, len(part))
            with torch.no_grad():
                x = torch.from_numpy(np.asarray(read_rows(part, start, stop), np.float32))
                l0 = (sae.encode(x) > 0).sum(1).double().numpy()
            episodes = np.asarray(read_rows(ids, start, stop))
            for episode in np.unique(episodes):
                sums[int(episode)] += l0[episodes == episode].sum()
                counts[int(episode)] += int((episodes == episode).sum())
    per_episode = [sums[e] / counts[e] for e in counts if counts[e] >= 100]
    return sum(sums.values()) / sum(counts.values()), float(np.mean(np.array(per_episode) > BUSY * target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="one SAE folder per architecture under it")
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--d-sae", type=int, default=2048)
    parser.add_argument("--target-l0", type=int, default=32)
    parser.add_argument("--heldout-fraction", type=float, default=0.1, help="f: the usual held-out split")
    parser.add_argument("--rows", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    parser.add_argument("--fresh", type=Path, help="another recording of the same agent, measured whole")
    args = parser.parse_args()

    recording = Recording.open(args.recording)
    steps = np.arange(len(recording))
    x = torch.from_numpy(read_steps(recording.activations, steps).astype(np.float32, copy=False))
    episodes = np.asarray(read_steps(recording.episode_ids, steps))
    usual, wider = heldout_mask(episodes, args.heldout_fraction), heldout_mask(episodes, 2 * args.heldout_fraction)
    splits = {"trained on": ~wider, "unseen episodes": wider & ~usual, "usual held-out": usual}
    torch.set_num_threads(1)
    rows = []
    for arch in args.rows:
        out = args.out / arch
        if not (out / CFG).exists():
            train_sae(TrainSAEConfig(recording=args.recording, out=out, architecture=arch, d_sae=args.d_sae,
                                     target_l0=args.target_l0, samples=args.samples,
                                     heldout_fraction=2 * args.heldout_fraction, progress=False))
        sae = load_sae(out).eval()
        with torch.no_grad():
            l0 = torch.cat([(sae.encode(part) > 0).sum(1).float() for part in x.split(8192)]).numpy()
        cells = [arch]
        for mask in splits.values():
            per_episode = [l0[episodes == e].mean() for e in np.unique(episodes[mask])]
            mean = l0[mask].mean()
            busy = sum(value > BUSY * args.target_l0 for value in per_episode)
            cells.append(f"{mean:.1f} ({mean / args.target_l0 - 1:+.0%}); episodes "
                         f"{min(per_episode):.1f}-{max(per_episode):.1f}, {busy} above {BUSY * args.target_l0:.0f}")
        if args.fresh is not None:
            aimed = copy.deepcopy(sae)
            with torch.no_grad():
                aimed.aim_l0(aimed.pre_activations(x[splits["unseen episodes"]]), args.target_l0)
            for model in (sae, aimed):
                mean, busy = fresh_l0(model, Recording.open(args.fresh), args.target_l0)
                cells.append(f"{mean:.1f} ({mean / args.target_l0 - 1:+.0%}); {busy:.0%} of episodes busy")
        print(cells, flush=True)
        rows.append(cells)
    fresh = [] if args.fresh is None else [f"L0, all of `{args.fresh}`{how}: mean; busy episodes" for how in
                                          ("", ", thresholds aimed on the unseen episodes")]
    counts = {name: (int(mask.sum()), len(np.unique(episodes[mask]))) for name, mask in splits.items()}
    append_section(
        f"Held-out L0 gap at --target-l0 {args.target_l0}: overfitting or busier episodes",
        ["architecture", *(f"L0, {name} ({n:,} states, {e} episodes): mean; per-episode range, busy episodes"
                           for name, (n, e) in counts.items()), *fresh], rows,
        f"`{args.recording}`; {args.d_sae} latents, {args.samples:,} samples per SAE, trained with "
        f"--heldout-fraction {2 * args.heldout_fraction} so that the episodes of hash in "
        f"[{args.heldout_fraction}, {2 * args.heldout_fraction}) are unseen but are not the usual held-out ones.")


if __name__ == "__main__":
    main()
