"""Does a decoder drawn inside the data's span train differently? At the demo budget a trained decoder row keeps
cosine ~0.9 with its random initial row, 85% of whose length lies in directions the layer's states never take.
This trains SAEs whose initial rows are random combinations of the top principal directions (99.9% of the
variance) and compares them, seed against seed, with the default's two seeds by decoder cosine and by activation
correlation on the recording's first 10,000 states.

    python benchmarks/subspace_init.py --recording runs/demo/recording --out runs/subinit --seeds 1 2 \\
        --default runs/demo/sae runs/explain-baselines/sae-seed2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from rlsae.analysis.track import code_correlation, decoder_cosine
from rlsae.record import Recording
from rlsae.sae.io import load_sae
from rlsae.sae.train import Trainer, TrainSAEConfig, train_sae


class SubspaceTrainer(Trainer):
    """The default trainer, its tied initial decoder redrawn inside the span of the scaled, centred states."""

    def __init__(self, cfg: TrainSAEConfig, *args, **kwargs) -> None:
        super().__init__(cfg, *args, **kwargs)
        x = self.train.sample()[:20_000] / self.scale
        _, s, vt = torch.linalg.svd((x - x.mean(0)).double(), full_matrices=False)
        variance = torch.cumsum(s**2, 0) / (s**2).sum()
        k = int(torch.searchsorted(variance, torch.tensor(0.999, dtype=variance.dtype))) + 1
        draw = torch.randn(self.sae.W_dec.shape[0], k, generator=torch.Generator().manual_seed(cfg.seed),
                           dtype=torch.float64)
        rows = torch.nn.functional.normalize(draw @ vt[:k], dim=1).float()
        with torch.no_grad():
            self.sae.W_dec.copy_(rows)
            self.sae.W_enc.copy_(rows.T)


def agreement(a: Path, b: Path, x: torch.Tensor) -> str:
    sa, sb = load_sae(a), load_sae(b)
    nearest = decoder_cosine(sa.W_dec.detach(), sb.W_dec.detach()).max(1)
    with torch.no_grad():
        codes = code_correlation(sa.encode(x).numpy(), sb.encode(x).numpy()).max(1)
    return (f"decoder cosine median {np.median(nearest):.2f}, >= 0.9 {np.mean(nearest >= 0.9):.1%}; "
            f"activation correlation >= 0.9 {np.mean(codes >= 0.9):.1%}, >= 0.7 {np.mean(codes >= 0.7):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recording", type=Path, default=Path("runs/demo/recording"))
    parser.add_argument("--out", type=Path, default=Path("runs/subinit"))
    parser.add_argument("--seeds", type=int, nargs=2, default=[1, 2])
    parser.add_argument("--default", type=Path, nargs=2, help="two default SAEs of other seeds on the recording")
    parser.add_argument("--samples", type=int, default=2_000_000)
    args = parser.parse_args()
    for seed in args.seeds:
        print(seed, train_sae(TrainSAEConfig(recording=args.recording, out=args.out / f"s{seed}", d_sae=2048,
                                             samples=args.samples, seed=seed, progress=False),
                              trainer=SubspaceTrainer))
    x = torch.from_numpy(np.asarray(Recording.open(args.recording).activations[:10_000], np.float32))
    print("subspace init, seed against seed:", agreement(*(args.out / f"s{s}" for s in args.seeds), x))
    if args.default:
        print("default init, seed against seed:", agreement(*args.default, x))


if __name__ == "__main__":
    main()
