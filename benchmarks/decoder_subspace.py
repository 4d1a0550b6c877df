"""Where an SAE's decoder directions lie: inside the subspace the layer's activations vary in, or outside it.

A decoder row's part outside the principal subspace that holds 99% of the (centred) activations' variance
is never constrained by reconstruction except through its sum with the other active rows: it can stay at
its random initialisation and cancel. A large outside share makes decoder cosines (seed matching, feature
tracking) compare leftovers of the initialisation. The script reports, per SAE: the median share of a unit
decoder row inside that subspace, the same weighted by each feature's activation energy, the energy of the
reconstructions' outside part (against the data's spread), and for two SAEs the median nearest cosine of
their decoder rows, whole and projected into the subspace. A random unit vector's share is the subspace's
dimension over the layer's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from rlsae.analysis.clusters import unit_rows
from rlsae.record.recording import Recording
from rlsae.sae import load_sae

VARIANCE = 0.99


def nearest_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median((unit_rows(a) @ unit_rows(b).T).max(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--sae", type=Path, nargs="+", required=True, help="one or two SAE folders")
    parser.add_argument("--states", type=int, default=20_000, help="recorded states for the subspace")
    parser.add_argument("--append", action="store_true", help="append the table to BENCHMARKS.md")
    args = parser.parse_args()

    x = np.asarray(Recording.open(args.recording).activations[:args.states], np.float32)
    centred = x - x.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    dims = int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), VARIANCE)) + 1
    basis = vt[:dims]
    spread = float(np.mean((centred ** 2).sum(1)))
    rows, decoders = [], []
    for folder in args.sae:
        sae = load_sae(folder)
        dec = sae.W_dec.detach().float().numpy()
        decoders.append(dec)
        share = np.linalg.norm(unit_rows(dec) @ basis.T, axis=1) ** 2
        with torch.no_grad():
            codes = sae.encode(torch.from_numpy(x[:4000])).numpy()
        energy = (codes ** 2).sum(0)
        recon = codes @ dec
        outside = recon - (recon @ basis.T) @ basis
        rows.append([str(folder), f"{np.median(share):.2f}", f"{(energy * share).sum() / energy.sum():.2f}",
                     f"{np.mean((outside ** 2).sum(1)):.2f} of {spread:.1f}"])
    print(f"{dims} of {x.shape[1]} principal directions hold {VARIANCE:.0%} of the variance; a random direction's "
          f"share inside: {dims / x.shape[1]:.2f}")
    for row in rows:
        print(" | ".join(row))
    notes = (f"Subspace: {dims} of {x.shape[1]} principal directions ({VARIANCE:.0%} of the variance of "
             f"{len(x):,} states).")
    if len(decoders) == 2:
        whole = nearest_cosine(*decoders)
        inside = nearest_cosine(decoders[0] @ basis.T, decoders[1] @ basis.T)
        line = (f"Median nearest decoder cosine between the two SAEs: {whole:.2f} whole, {inside:.2f} inside the "
                "subspace.")
        print(line)
        notes += " " + line
    if args.append:
        append_section("Where decoder directions lie", ["SAE", "median share of a decoder row inside the subspace",
                                                         "the same, weighted by activation energy",
                                                         "energy of the reconstructions outside it"], rows, notes)


if __name__ == "__main__":
    main()
