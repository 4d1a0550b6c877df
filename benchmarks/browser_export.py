"""Feature-browser export time at the real size: 2048 features, 16 frames each (goal: <= 60 s on 2 cores).

    python benchmarks/browser_export.py --features 2048 --frames 16 --images bytes array

``bytes``: frames handed over as PNG bytes (the analysis stage encodes each recorded state once);
``array``: frames handed over as 210x160x3 uint8 arrays, encoded by the exporter. Every frame is a
distinct state (the worst case: no sharing between features). Also reports the cost of encoding one
210x160 frame as PNG. ``--dry-run`` prints the table without appending it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from rlsae.browser import export_browser
from rlsae.browser.export import encode_png
from rlsae.browser.synthetic import _maze, synthetic_browser_data, synthetic_frame


def png_cost(level: int, n: int = 300) -> tuple[float, float]:
    """(ms per frame, KiB per frame) for encoding synthetic 210x160 frames at a zlib level."""
    maze = _maze()
    frames = [synthetic_frame(s, maze) for s in range(n)]
    start = time.perf_counter()
    sizes = [len(encode_png(f, level)) for f in frames]
    return (time.perf_counter() - start) / n * 1e3, float(np.mean(sizes)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--images", nargs="+", default=["bytes", "array"], choices=["bytes", "array", "shared"])
    parser.add_argument("--dead-fraction", type=float, default=0.0,
                        help="share of dead features (no frames); 0 = every feature shows its frames")
    parser.add_argument("--dry-run", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()

    rows = []
    for level in (6, 3, 1):
        ms, kib = png_cost(level)
        rows.append([f"encode one 210x160 frame as PNG (zlib {level})", f"{ms:.2f} ms", f"{kib:.1f} KiB", "", ""])
    for kind in args.images:
        data = synthetic_browser_data(args.features, args.frames, image=kind, dead_fraction=args.dead_fraction)
        n_frames = sum(len(g.items) for f in data.features for g in f.frames)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index = export_browser(data, Path(tmp))
            seconds = time.perf_counter() - start
            files = list(Path(tmp).rglob("*"))
            size = sum(p.stat().st_size for p in files if p.is_file()) / 2**20
            assert index.is_file()
        rows.append([f"export {args.features} features, {n_frames} frames as {kind}", f"{seconds:.1f} s",
                     f"{size:.0f} MiB", str(len(files)), f"{seconds / args.features * 1e3:.2f} ms"])
        del data

    header = ["what", "time", "size", "files", "per feature"]
    if args.dry_run:
        print("| " + " | ".join(header) + " |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    from _report import append_section

    append_section("Feature browser export", header, rows,
                   notes="Synthetic Pac-Man-like frames, every frame a distinct state. "
                         "Goal: <= 60 s for 2048 features.")


if __name__ == "__main__":
    main()
