"""What the browser shows of a feature lineage (``rlsae track``'s track.json): for each feature of the browsed SAE,
its line of ancestors back through the checkpoints with the similarity of each link, what happened on the way
(split, merge) and its explanation at each stage, and for every pair of checkpoints what the agent's features did
between them (born, lost, split, merged, changed meaning).

The browsed SAE is one checkpoint of the lineage, found by its folder's name (``<name>/`` in a folder of SAEs, or
``<checkpoint>/<arm>/sae`` in a sweep output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsae.analysis.track import Lineage, between
from rlsae.common.errors import UserError


def checkpoint_of(lineage: Lineage, sae_folder: Path, d_sae: int, origin: str) -> int:
    """The index of the browsed SAE's checkpoint in ``lineage``; a UserError when it is not one of them."""
    names = [c.name for c in lineage.checkpoints]
    for candidate in (sae_folder.name, sae_folder.parent.parent.name):
        if candidate in names:
            index = names.index(candidate)
            size = len(lineage.checkpoints[index].features)
            if size != d_sae:
                raise UserError(f"--track '{origin}': its checkpoint {candidate!r} has {size} features, this SAE "
                                f"{d_sae}: pass the track.json of this SAE's series")
            return index
    raise UserError(f"--track '{origin}': none of its checkpoints ({', '.join(names)}) is this SAE's folder "
                    f"'{sae_folder}': pass the track.json of this SAE's series")


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def track_view(lineage: Lineage, current: int) -> dict[str, Any]:
    """The JSON the page's timeline and "learned between" views read (data/track.js)."""
    timelines = []
    for f in range(len(lineage.checkpoints[current].features)):
        line = lineage.line(f, current)
        stages = []
        for t, feature in enumerate(line):
            if feature is None:
                continue
            checkpoint = lineage.checkpoints[t]
            stage = checkpoint.features[feature]
            said = checkpoint.explanations[feature] if checkpoint.explanations else None
            stages.append([t, feature, _rounded(stage.nearest_similarity) if stage.ancestor is not None else None,
                           stage.split_from, stage.merged_from or None, said])
        timelines.append(stages)
    pairs = {}
    for b in range(1, len(lineage.checkpoints)):
        for a in range(b):
            moved = between(lineage, a, b)
            pairs[f"{a}-{b}"] = {"born": moved.born, "lost": moved.lost,
                                 "split": [[i, js] for i, js in moved.split.items()],
                                 "merged": [[j, i] for j, i in moved.merged.items()],
                                 "changed": [list(c) for c in moved.changed]}
    return {"checkpoints": [c.name for c in lineage.checkpoints], "current": current, "measure": lineage.measure,
            "explained": any(c.explanations for c in lineage.checkpoints),
            "threshold": lineage.threshold,
            "steps": [{"before": s.before, "after": s.after, "born": s.born, "lost": s.lost, "split": s.split,
                       "merged": s.merged, "traced": _rounded(s.traced)} for s in lineage.steps],
            "timelines": timelines, "between": pairs}


def load_track_view(path: Path, sae_folder: Path, d_sae: int) -> dict[str, Any]:
    """``--track FILE`` read for the browsed SAE."""
    lineage = Lineage.load(path)
    return track_view(lineage, checkpoint_of(lineage, sae_folder, d_sae, str(path)))
