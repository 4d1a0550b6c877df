"""Would more game facts label more features? Candidate Ms. Pac-Man fact families, added one at a time.

    python benchmarks/label_vocabulary.py --sae runs/lab/topk

Most live features that get no label have a position fact as their best match (a cell of the 8x8 grid),
at low precision. Each candidate family below is added to the facts `rlsae interpret` labels against, and
the share of live features labeled under the same rule is measured on the same states and split:
  - dots: per region of a 3x3 grid over the maze, no dots left / at most a quarter of its dots left;
  - ghosts: each ghost's region of the 3x3 grid;
  - progress: dots eaten in the level, in bins of 20;
  - corridors: the corridor stretch between junctions (or the junction) Pac-Man is in, alone and with his
    direction of motion;
  - cell x motion: the 8x8 cell with the direction of motion.
Only the first maze is covered (the agent never leaves it in the lab recording).
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch
from scipy import ndimage

from _report import append_section
from rlsae.analysis.features import encode_all
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.labels import label_units
from rlsae.analysis.scores import oriented
from rlsae.analysis.states import labelling_facts, select_states, state_facts
from rlsae.envs.games import ms_pacman
from rlsae.envs.games.ms_pacman_maze import BANDS, cell_of, corridors, dots, junctions
from rlsae.sae import load_sae

MIN_STATES = 20  # a candidate fact must hold on this many states


def thirds(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Region 0..8 of a 3x3 grid over the maze."""
    width, height = ms_pacman.MAZE_WIDTH, ms_pacman.MAZE_HEIGHT
    return np.digitize(y, (height / 3, 2 * height / 3)) * 3 + np.digitize(x, (width / 3, 2 * width / 3))


def candidates(ram: np.ndarray, raw: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Each family's boolean facts [n] by name."""
    left = dots(ram)  # [n, bands, 18]
    families: dict[str, dict[str, np.ndarray]] = {"dots": {}, "ghosts": {}, "progress": {}, "corridors": {},
                                                   "cell x motion": {}}
    for i, bands in enumerate(np.array_split(np.arange(BANDS), 3)):
        for j in range(3):
            count = left[:, bands][:, :, 6 * j:6 * j + 6].reshape(len(left), -1).sum(1)
            families["dots"][f"dots {i}{j} cleared"] = count == 0
            families["dots"][f"dots {i}{j} few"] = (count > 0) & (count <= count.max() / 4)
    for ghost in ms_pacman.GHOSTS:
        region = thirds(raw[f"{ghost}_x"], raw[f"{ghost}_y"])
        families["ghosts"].update({f"{ghost} in region {r}": region == r for r in range(9)})
    families["progress"] = {f"dots eaten {a}-{a + 19}": (raw["dots_eaten"] >= a) & (raw["dots_eaten"] < a + 20)
                            for a in range(0, 160, 20)}
    walk, junction = corridors(), junctions()
    near_junction = ndimage.binary_dilation(junction, structure=np.ones((1, 3))) & walk
    stretches, _ = ndimage.label(walk & ~near_junction)
    crossings, _ = ndimage.label(near_junction)
    band, column = cell_of(raw["pacman_x"], raw["pacman_y"])
    first_maze = ram[:, 0] == 0
    motion = raw["pacman_motion"]
    for kind, ids in (("stretch", stretches), ("junction", crossings)):
        where = np.where(first_maze, ids[band, column], 0)
        for s in range(1, ids.max() + 1):
            families["corridors"][f"{kind} {s}"] = where == s
            if kind == "stretch":
                families["corridors"].update({f"stretch {s} moving {d}": (where == s) & (motion == m)
                                              for m, d in enumerate(ms_pacman.DIRECTIONS)})
    families["cell x motion"] = {f"cell {c} moving {d}": (raw["pacman_cell"] == c) & (motion == m)
                                 for c in range(ms_pacman.GRID ** 2) for m, d in enumerate(ms_pacman.MOTIONS)}
    return {name: {k: v for k, v in facts.items() if v.sum() >= MIN_STATES} for name, facts in families.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", required=True)
    parser.add_argument("--max-states", type=int, default=200_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rec = sae_recording(args.sae, None)
    states = select_states(rec, args.max_states)
    features = encode_all(load_sae(args.sae), np.asarray(rec.activations[states], np.float32))
    facts, _, _ = labelling_facts(rec, states)
    episodes = rec.episode_ids[states]
    families = candidates(np.asarray(rec.ram[states]).astype(np.int64), state_facts(rec, states))
    rows = []
    for name, extra in [("none (the shipped facts)", {}), *families.items(),
                        ("all of them", {k: v for f in families.values() for k, v in f.items()})]:
        scored, _ = oriented({**facts, **extra}, {k: k for k in {**facts, **extra}})
        labels = label_units(features, scored, episodes, {k: k for k in scored})
        live = labels.scores.held_fires[0] >= labels.rule.min_firings
        won = Counter(fact.removeprefix("not ") in extra
                      for fact, ok in zip(np.array(labels.fact)[live], labels.labeled[live]) if ok)
        rows.append([name, str(len(extra)), f"{labels.labeled[live].mean():.1%}", str(won[True])])
        print(rows[-1], flush=True)
    append_section("Would more game facts label more features? (candidate fact families)",
                   ["facts added", "facts", "live features labeled", "labels taken by the added facts"], rows,
                   f"{len(states):,} states of `{rec.path}`, SAE `{args.sae}`, {int(live.sum())} live features; "
                   "the shipped label rule, split and scores.")


if __name__ == "__main__":
    main()
