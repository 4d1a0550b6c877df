"""Features across an agent's checkpoints: match each SAE's features to the previous one's and trace their lines.

Two features of consecutive checkpoints are compared by the cosine of their decoder directions (or, given both
SAEs' codes on the same states, by the correlation of their activations). The Hungarian assignment pairs them
one to one; each feature's nearest neighbour (which two features may share) tells splits and merges. A feature
has an ancestor when its nearest earlier feature reaches :data:`BORN_COSINE`; a line of ancestors gives the
checkpoint where it was born.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse
import torch
from scipy.optimize import linear_sum_assignment

from rlsae.analysis.clusters import unit_rows
from rlsae.common.errors import UserError
from rlsae.common.records import Record, number

BORN_COSINE = 0.7
"""A feature exists at a checkpoint once its nearest feature there is this similar (issue 25's bar)."""

CODE_BLOCK = 4096
"""States per block when correlating codes: a block of 2,048 features in float64 takes 64 MiB."""


@dataclass(frozen=True)
class Matching:
    """Features of a later SAE (B) matched to those of an earlier one (A); arrays over B's features."""

    matched: np.ndarray
    """The A feature the Hungarian assignment gives each B feature (-1: A has fewer features than B)."""
    matched_similarity: np.ndarray
    """Similarity of each matched pair (nan where unmatched)."""
    nearest: np.ndarray
    """Each B feature's most similar A feature (several B features may share one)."""
    nearest_similarity: np.ndarray


def decoder_cosine(dec_a: np.ndarray | torch.Tensor, dec_b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Cosine of every B decoder row with every A decoder row: [d_sae_b, d_sae_a] (numpy arrays or tensors)."""
    if dec_a.ndim != 2 or dec_b.ndim != 2 or dec_a.shape[1] != dec_b.shape[1]:
        raise UserError(f"decoders of shapes {tuple(dec_a.shape)} and {tuple(dec_b.shape)} cannot be compared: "
                        "both must be [d_sae, d_in] on the same layer")
    return unit_rows(dec_b, np.float64) @ unit_rows(dec_a, np.float64).T


def code_correlation(codes_a: np.ndarray | scipy.sparse.spmatrix, codes_b: np.ndarray | scipy.sparse.spmatrix,
                     block: int = CODE_BLOCK) -> np.ndarray:
    """Pearson correlation of every B feature's activations with every A feature's on the same states:
    [d_sae_b, d_sae_a]; a feature that never varies correlates 0 with all. Codes are [n, d_sae] arrays (dense
    or scipy sparse); the sums run over blocks of states, so only one block is ever dense."""
    if codes_a.shape[0] != codes_b.shape[0]:
        raise UserError(f"codes on {codes_a.shape[0]} and {codes_b.shape[0]} states cannot be correlated: "
                        "encode the same states with both SAEs")
    n = codes_a.shape[0]
    sum_a, sum_b = np.zeros(codes_a.shape[1]), np.zeros(codes_b.shape[1])
    sq_a, sq_b = np.zeros_like(sum_a), np.zeros_like(sum_b)
    cross = np.zeros((codes_b.shape[1], codes_a.shape[1]))
    for start in range(0, n, block):
        a, b = (_dense(c[start:start + block]) for c in (codes_a, codes_b))
        sum_a += a.sum(0)
        sum_b += b.sum(0)
        sq_a += (a * a).sum(0)
        sq_b += (b * b).sum(0)
        cross += b.T @ a
    mean_a, mean_b = sum_a / n, sum_b / n
    # Centred sums from raw ones: codes are sparse and non-negative, so the float64 cancellation is mild.
    std_a = np.sqrt(np.maximum(sq_a / n - mean_a**2, 0.0))
    std_b = np.sqrt(np.maximum(sq_b / n - mean_b**2, 0.0))
    cov = cross / n - np.outer(mean_b, mean_a)
    scale = np.outer(std_b, std_a)
    return np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 1e-12)


def _dense(x: np.ndarray | scipy.sparse.spmatrix) -> np.ndarray:
    return np.asarray(x.toarray() if scipy.sparse.issparse(x) else x, dtype=np.float64)


def assign(similarity: np.ndarray) -> Matching:
    """The Hungarian assignment maximising total similarity, and each B feature's nearest A feature."""
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    matched = np.full(similarity.shape[0], -1)
    matched[rows] = cols
    matched_similarity = np.full(similarity.shape[0], np.nan)
    matched_similarity[rows] = similarity[rows, cols]
    nearest = similarity.argmax(1)
    return Matching(matched, matched_similarity, nearest, similarity[np.arange(len(nearest)), nearest])


def match_features(dec_a: np.ndarray | torch.Tensor, dec_b: np.ndarray | torch.Tensor) -> Matching:
    """Each feature of B matched to A by decoder cosine (e.g. ``load_sae(folder).W_dec`` of each)."""
    return assign(decoder_cosine(dec_a, dec_b))


def match_codes(codes_a: np.ndarray | scipy.sparse.spmatrix, codes_b: np.ndarray | scipy.sparse.spmatrix) -> Matching:
    """Each feature of B matched to A by the correlation of their activations on the same states."""
    return assign(code_correlation(codes_a, codes_b))


@dataclass(frozen=True)
class FeatureStage:
    """One feature at one checkpoint, against the checkpoint before it (None at the first)."""

    feature: int
    born: int
    """The checkpoint (index) where its line of ancestors begins."""
    ancestor: int | None
    """Its nearest feature at the previous checkpoint, when at least as similar as the threshold."""
    nearest_similarity: float | None
    matched: int | None
    """Its partner at the previous checkpoint in the one-to-one (Hungarian) assignment."""
    matched_similarity: float | None
    split_from: int | None
    """The previous feature it and at least one sibling both descend from."""
    merged_from: list[int]
    """Previous features (two or more, else none) whose nearest feature here it is, at the threshold."""


@dataclass(frozen=True)
class Checkpoint:
    """One SAE of the series and each of its features' place in the lineage."""

    name: str
    features: list[FeatureStage]
    explanations: list[str | None] = field(default_factory=list)
    """Each feature's explanation at this checkpoint where it passes interpret's rule (None: it has none);
    empty when the series holds no interpret output."""


@dataclass(frozen=True)
class Step:
    """What changed between two consecutive checkpoints."""

    before: str
    after: str
    born: int = number("born", "{} features of the later checkpoint have no ancestor in the earlier", "{:,}")
    lost: int = number("lost", "{} features of the earlier checkpoint reach no feature of the later", "{:,}")
    split: int = number("split", "{} earlier features split into two or more later ones", "{:,}")
    merged: int = number("merged", "{} later features each take in two or more earlier ones", "{:,}")
    traced: float = number("traced", "{} of the later checkpoint's features have an ancestor in the earlier",
                           "{:.1%}")
    matched_similarity: float = number("matched similarity", "the one-to-one matched pairs are {} similar on "
                                       "average", "{:.3f}")
    lost_features: list[int]
    """The earlier checkpoint's lost features."""


@dataclass(frozen=True)
class Lineage(Record):
    """Every checkpoint's features traced to the previous checkpoint's, and what each step changed."""

    KIND = "rlsae-track"
    VERSION = 2  # 2: each checkpoint's explanations
    WRITER = "rlsae track"  # the command over trace_decoders (named in "rerun ..." messages)

    measure: str
    """What "similar" means: "decoder cosine" or "activation correlation"."""
    threshold: float
    checkpoints: list[Checkpoint]
    steps: list[Step]

    def line(self, feature: int, checkpoint: int = -1) -> list[int | None]:
        """The feature's ancestors at every checkpoint up to ``checkpoint`` (itself last; None before it was
        born): the timeline of one feature."""
        stage = range(len(self.checkpoints))[checkpoint]
        out: list[int | None] = [None] * (stage + 1)
        current: int | None = feature
        for t in range(stage, -1, -1):
            out[t] = current
            if current is None:
                break
            current = self.checkpoints[t].features[current].ancestor
        return out


def _step(similarity: np.ndarray, threshold: float) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Each later feature's relations to the earlier checkpoint, and the earlier features that are lost."""
    m = assign(similarity)
    has_ancestor = m.nearest_similarity >= threshold
    # Splits: an earlier feature that two or more later features take as their (close enough) nearest.
    children = np.bincount(m.nearest[has_ancestor], minlength=similarity.shape[1])
    # Merges, the mirror image: a later feature that two or more earlier ones take as their nearest. (Counting
    # every later feature that reaches two earlier ones instead would call split siblings, which stay close to
    # each other, a merge at every later step.)
    heir, heir_similarity = similarity.argmax(0), similarity.max(0)
    reached = heir_similarity >= threshold
    features = []
    for j in range(similarity.shape[0]):
        parent = int(m.nearest[j]) if has_ancestor[j] else None
        parents = np.flatnonzero(reached & (heir == j))
        features.append(dict(
            ancestor=parent, nearest_similarity=float(m.nearest_similarity[j]),
            matched=int(m.matched[j]) if m.matched[j] >= 0 else None,
            matched_similarity=float(m.matched_similarity[j]) if m.matched[j] >= 0 else None,
            split_from=parent if parent is not None and children[parent] >= 2 else None,
            merged_from=[int(i) for i in parents] if len(parents) >= 2 else []))
    return features, np.flatnonzero(~reached)


def trace(names: Sequence[str], similarities: Sequence[np.ndarray], sizes: Sequence[int],
          measure: str, threshold: float = BORN_COSINE,
          explanations: Sequence[list[str | None]] | None = None) -> Lineage:
    """The lineage of a series of ``len(names)`` SAEs with ``sizes`` features each, from the similarity of
    each consecutive pair ([d_sae of the later, d_sae of the earlier], e.g. :func:`decoder_cosine`), with each
    checkpoint's explanations when known."""
    if len(names) != len(sizes) or len(similarities) != len(names) - 1:
        raise ValueError("a series of K checkpoints needs K names, K sizes and K - 1 similarity matrices")
    said = list(explanations) if explanations is not None else [[] for _ in names]
    if len(said) != len(names) or any(e and len(e) != n for e, n in zip(said, sizes)):
        raise ValueError("explanations: one list per checkpoint, empty or one entry per feature")
    for t, s in enumerate(similarities):
        if s.shape != (sizes[t + 1], sizes[t]):
            raise ValueError(f"similarity {t} has shape {s.shape}, expected {(sizes[t + 1], sizes[t])}")
    first = [FeatureStage(j, 0, None, None, None, None, None, []) for j in range(sizes[0])]
    checkpoints, steps = [Checkpoint(names[0], first, said[0])], []
    for t, similarity in enumerate(similarities, start=1):
        relations, lost = _step(similarity, threshold)
        earlier = checkpoints[-1].features
        features = [FeatureStage(feature=j, born=t if r["ancestor"] is None else earlier[r["ancestor"]].born, **r)
                    for j, r in enumerate(relations)]
        checkpoints.append(Checkpoint(names[t], features, said[t]))
        matched = [f.matched_similarity for f in features if f.matched_similarity is not None]
        steps.append(Step(
            before=names[t - 1], after=names[t],
            born=sum(f.ancestor is None for f in features), lost=len(lost),
            split=len({f.split_from for f in features if f.split_from is not None}),
            merged=sum(bool(f.merged_from) for f in features),
            traced=sum(f.ancestor is not None for f in features) / max(len(features), 1),
            matched_similarity=float(np.mean(matched)) if matched else 0.0,
            lost_features=[int(i) for i in lost]))
    return Lineage(measure, threshold, checkpoints, steps)


def trace_decoders(names: Sequence[str], decoders: Sequence[np.ndarray | torch.Tensor],
                   threshold: float = BORN_COSINE,
                   explanations: Sequence[list[str | None]] | None = None) -> Lineage:
    """The lineage of a series of SAEs (in checkpoint order) by decoder cosine; ``decoders`` are their W_dec."""
    similarities = [decoder_cosine(a, b) for a, b in zip(decoders, decoders[1:])]
    return trace(names, similarities, [len(d) for d in decoders], "decoder cosine", threshold, explanations)


def trace_codes(names: Sequence[str], codes: Sequence[tuple[np.ndarray, np.ndarray]],
                threshold: float = BORN_COSINE,
                explanations: Sequence[list[str | None]] | None = None) -> Lineage:
    """The lineage by activation correlation: ``codes[t]`` holds checkpoint t's and t+1's SAE codes ([n, d_sae]
    each) on the same states, each read from its own agent's layer."""
    similarities = [code_correlation(a, b) for a, b in codes]
    sizes = [codes[0][0].shape[1], *(b.shape[1] for _, b in codes)]
    return trace(names, similarities, sizes, "activation correlation", threshold, explanations)


def ancestors_at(lineage: Lineage, a: int, b: int) -> np.ndarray:
    """Each feature of checkpoint ``b``'s ancestor at the earlier checkpoint ``a`` (-1: its line began after
    ``a``), following the nearest-ancestor links back one step at a time."""
    out = np.arange(len(lineage.checkpoints[b].features))
    for t in range(b, a, -1):
        parent = np.array([-1 if f.ancestor is None else f.ancestor for f in lineage.checkpoints[t].features])
        out = np.where(out >= 0, parent[np.maximum(out, 0)], -1)
    return out


@dataclass(frozen=True)
class Between:
    """What the agent's SAE features did from checkpoint ``before`` to the later ``after`` (any two, not only
    consecutive ones): each feature of ``after`` traced back along its line of nearest ancestors."""

    before: str
    after: str
    born: list[int]
    """Features of ``after`` whose line begins after ``before``."""
    lost: list[int]
    """Features of ``before`` that no feature of ``after`` descends from or took in by a merge."""
    split: dict[int, list[int]]
    """A feature of ``before`` -> its two or more descendants in ``after``."""
    merged: dict[int, list[int]]
    """A feature of ``after`` -> the two or more features of ``before`` it took in along its line."""
    changed: list[tuple[int, int, str | None, str | None]]
    """(feature of ``before``, its descendant in ``after``, the explanation then, now) where the two differ and
    at least one is known: a feature that changed meaning (empty without explanations)."""


def between(lineage: Lineage, a: int, b: int) -> Between:
    """Born, lost, split and merged features from checkpoint ``a`` to the later checkpoint ``b``."""
    if not 0 <= a < b < len(lineage.checkpoints):
        raise ValueError(f"checkpoints {a} -> {b}: need 0 <= a < b < {len(lineage.checkpoints)}")
    origin = ancestors_at(lineage, a, b)
    children: dict[int, list[int]] = {}
    for j, i in enumerate(origin.tolist()):
        if i >= 0:
            children.setdefault(i, []).append(j)
    merged = {}
    for j in range(len(origin)):
        current: int | None = j
        for t in range(b, a, -1):  # the latest merge on its line that joins two or more of a's features
            if current is None:
                break
            stage = lineage.checkpoints[t].features[current]
            if stage.merged_from:
                sources = sorted({int(i) for i in ancestors_at(lineage, a, t - 1)[stage.merged_from] if i >= 0})
                if len(sources) >= 2:
                    merged[j] = sources
                    break
            current = stage.ancestor
    return Between(lineage.checkpoints[a].name, lineage.checkpoints[b].name,
                   born=np.flatnonzero(origin < 0).tolist(),
                   lost=sorted(set(range(len(lineage.checkpoints[a].features))) - set(children)
                               - {i for sources in merged.values() for i in sources}),
                   split={i: js for i, js in sorted(children.items()) if len(js) >= 2}, merged=merged,
                   changed=_changed(lineage.checkpoints[a].explanations, lineage.checkpoints[b].explanations, origin))


def _changed(then: list[str | None], now: list[str | None],
             origin: np.ndarray) -> list[tuple[int, int, str | None, str | None]]:
    if not then or not now:
        return []
    return [(int(i), j, then[i], now[j]) for j, i in enumerate(origin.tolist())
            if i >= 0 and then[i] != now[j] and (then[i] or now[j])]
