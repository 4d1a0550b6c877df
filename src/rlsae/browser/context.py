"""What the browser shows around an example and a feature, computed from the recording and the SAE.

- clips: the recording indices of the steps around an example (same episode only);
- the SAE's codes on those steps and on the interpret sample, kept sparse (a Top-K code has k non-zeros);
- the player's position on each shown step and the screen region a label names, both from the game spec;
- related units: features that fire together, nearest decoder directions, the neurons a feature reads
  and writes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from rlsae.analysis.clusters import unit_rows
from rlsae.analysis.features import encode_batches
from rlsae.browser.data import Related
from rlsae.envs.conjunctions import SEPARATOR
from rlsae.envs.facts import binary_facts, decode_facts
from rlsae.envs.games import game_spec
from rlsae.record.recording import Recording

CLIP_RADIUS = 8  # steps before and after an example (~1 s of play each way at frame-skip 4)
RELATED_SHOWN = 6
# A label names a region when the player's positions where it holds fill a box that covers at most this
# share of the playfield, and the label holds on at least REGION_PURITY of the sample's states in that box.
REGION_MAX_AREA, REGION_PURITY, REGION_MIN_STATES = 0.5, 0.9, 10
REGION_PAD = 4.0  # px around the box drawn, about half a sprite: a corridor's positions share one y


class Steps:
    """Recording indices by (episode, step), to find the steps around an example."""

    def __init__(self, rec: Recording):
        self.ids = np.asarray(rec.episode_ids, np.int64)
        self.steps = np.asarray(rec.episode_steps, np.int64)
        self.order = np.lexsort((self.steps, self.ids))
        self.rank = np.empty_like(self.order)
        self.rank[self.order] = np.arange(len(self.order))

    def window(self, index: int, radius: int = CLIP_RADIUS) -> tuple[np.ndarray, int]:
        """(recording indices of the steps index-radius .. index+radius of its episode, position of index)."""
        pos = int(self.rank[index])
        around = self.order[max(0, pos - radius):pos + radius + 1]
        same = (self.ids[around] == self.ids[index]) & (np.abs(self.steps[around] - self.steps[index]) <= radius)
        kept = around[same]
        return kept, int(np.flatnonzero(kept == index)[0])


def sparse_codes(sae: torch.nn.Module, rec: Recording, rows: np.ndarray, batch_size: int = 4096) -> sp.csr_matrix:
    """The SAE's feature activations on the sorted recording indices ``rows``: [len(rows), d_sae], sparse."""
    parts = [sp.csr_matrix((0, sae.W_dec.shape[0]), dtype=np.float32)]
    parts += [sp.csr_matrix(block) for block in encode_batches(sae, rec.activations, batch_size, rows)]
    return sp.vstack(parts, format="csr")


class StepFacts:
    """The game facts of the sorted recording indices ``rows``, decoded once: the player's position on
    each (the game spec's ``position``) and the boolean facts labels name."""

    def __init__(self, rec: Recording, rows: np.ndarray):
        self.spec = game_spec(rec.manifest["game"])
        self.rows = rows
        decoded = decode_facts(np.asarray(rec.ram[rows]), np.asarray(rec.episode_ids[rows]),
                               np.asarray(rec.lives[rows]), game=self.spec.game) if len(rows) else {}
        self.position = None if self.spec.position is None or not len(rows) else tuple(
            np.full(len(rows), float(v)) if isinstance(v, (int, float)) else np.asarray(decoded[v], float)
            for v in self.spec.position)
        self.facts = binary_facts(decoded, game=self.spec.game)

    def positions(self, indices: np.ndarray) -> list[tuple[float, float] | None]:
        """The player's (x, y) on each of the recording indices ``indices`` (all among ``rows``)."""
        if self.position is None:
            return [None] * len(indices)
        at = np.searchsorted(self.rows, indices)
        return list(zip(self.position[0][at].tolist(), self.position[1][at].tolist()))

    def regions(self, states: np.ndarray, fact_names: set[str]) -> dict[str, tuple[float, ...]]:
        """The screen box each of ``fact_names`` names on the recording's ``states`` (:func:`regions`)."""
        if self.position is None:
            return {}
        at = np.searchsorted(self.rows, np.sort(states))
        holds = {name: self.fact(name) for name in fact_names}
        return regions(self.position[0][at], self.position[1][at],
                       {name: h[at] for name, h in holds.items() if h is not None}, self.spec.playfield)

    def fact(self, name: str) -> np.ndarray | None:
        """A boolean fact by name, conjunctions ("a & b", as interpret names them) included; None: unknown."""
        parts = [self.facts.get(part) for part in name.split(SEPARATOR)]
        return None if any(p is None for p in parts) else np.logical_and.reduce(parts)


def regions(x: np.ndarray, y: np.ndarray, facts: dict[str, np.ndarray],
            playfield: tuple[int, int]) -> dict[str, tuple[float, ...]]:
    """The screen box (x0, y0, x1, y1) of each boolean fact that names a place, from the data, not its name.

    The box holds the middle 96% of the player's positions (x, y) where the fact holds; it is kept when it
    is small (REGION_MAX_AREA of the playfield) and the fact holds on REGION_PURITY of the states whose
    player is inside it. "In the bottom-left region" passes; "dead" (anywhere) and "heading to a pill"
    (many places, and not always there) do not.
    """
    out: dict[str, tuple[float, ...]] = {}
    for name, holds in sorted(facts.items()):
        if holds.sum() < REGION_MIN_STATES:
            continue
        (x0, x1), (y0, y1) = np.percentile(x[holds], [2, 98]), np.percentile(y[holds], [2, 98])
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        if (x1 - x0) * (y1 - y0) <= REGION_MAX_AREA * playfield[0] * playfield[1] \
                and holds[inside].mean() >= REGION_PURITY:
            out[name] = (float(x0) - REGION_PAD, float(y0) - REGION_PAD, float(x1) + REGION_PAD,
                         float(y1) + REGION_PAD)
    return out


def _top(values: np.ndarray, n: int, exclude: int | None = None) -> np.ndarray:
    if exclude is not None:
        values = values.copy()
        values[exclude] = -np.inf
    top = np.argpartition(-values, min(n, len(values) - 1))[:n]
    top = top[np.argsort(-values[top], kind="stable")]
    return top[np.isfinite(values[top]) & (values[top] > 0)]


def cofiring(codes: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """[d, d] counts of the states of ``codes`` where two features both fire (the diagonal: where each fires)
    and the Jaccard index of their firing sets."""
    fired = (codes > 0).astype(np.float32)
    together = np.asarray((fired.T @ fired).todense())
    counts = np.diag(together)
    return together, together / np.maximum(counts[:, None] + counts[None, :] - together, 1)


def related_units(cofired: tuple[np.ndarray, np.ndarray], decoder: np.ndarray, encoder: np.ndarray,
                  n: int = RELATED_SHOWN) -> list[dict[str, list[Related]]]:
    """Per feature: the features it fires with (``cofiring``'s counts and Jaccard index, ranked by Jaccard and
    shown as the share of its firings on which the other fires too), its nearest features by decoder cosine,
    and the neurons with the largest |encoder| (reads) and |decoder| (writes) weights, signed."""
    together, jaccard = cofired
    counts = np.diag(together)
    unit = unit_rows(decoder)
    cosine = unit @ unit.T
    out = []
    for f in range(len(decoder)):
        lists: dict[str, list[Related]] = {}
        if counts[f]:
            lists["fires with (share of its firings)"] = [
                Related("feature", int(j), float(together[f, j] / counts[f])) for j in _top(jaccard[f], n, f)]
            lists["nearest by decoder (cosine)"] = [
                Related("feature", int(j), float(cosine[f, j])) for j in _top(cosine[f], n, f)]
            for title, weights in (("reads neurons (encoder weight)", encoder[:, f]),
                                   ("writes neurons (decoder weight)", decoder[f])):
                lists[title] = [Related("neuron", int(j), float(weights[j])) for j in _top(np.abs(weights), n)]
        out.append(lists)
    return out
