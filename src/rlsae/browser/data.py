"""The data contract between the analysis stage and the feature browser.

The analysis stage fills one :class:`BrowserData`; :func:`rlsae.browser.export_browser` turns it into
a static folder that opens from disk. Everything here is plain Python data (lists, dicts, floats,
strings), except images, which may be given three ways (:data:`ImageSource`):

- ``bytes``: an already encoded PNG, WebP, GIF or JPEG, written as is (the fast path: encode each
  recorded state once and hand the same bytes to every feature that shows it);
- ``pathlib.Path``: an image file already on disk, copied into the browser folder;
- ``numpy.ndarray``: an ``H x W x 3`` (or ``H x W``) ``uint8`` frame, encoded to PNG by the exporter.

Identical images are stored once (file names are content hashes), so a state that is among the top
activations of many features costs one file.

Layout of the contract (field names are the JSON names the page reads)::

    BrowserData
      summary: RunSummary
        title, agent: AgentInfo{game, steps, score, algorithm}, sae: SAEInfo{d_in, d_sae, k,
        architecture, layer}, metrics{name: value}, fidelity[Described{key, name, value, shown, meaning}],
        label_scores[{key, name, meaning, format, unit}] (the columns of Feature.label_scores),
        explanation_scores[{key, name, meaning, format, unit}] (those of Feature.explanation_scores), explain_rule,
        action_names[...], density_log10[per feature, None = dead] | None, density_sample,
        training_curves[{step, fvu, l0, dead_fraction, ...}], curve_names{key: name},
        label_comparison{"features": [Described], "neurons": [Described]} (the same numbers, in the same order),
        notes, headlines[Headline{title, feature, fact, description, precision, recall, firings}],
        found_again[Described] (the other seed's match, analysis/seed_match.py FoundAgain; empty: none),
        found_threshold | None (the decoder cosine "found again" needs; None: no other seed),
        provenance{...}, output ("q-values" or "policy")
      features: [Feature]
        id, alive, density, max_activation, action_effect[per action] (the page also gets
        advantage_effect = action_effect less its mean, and value_shift = that mean; for a policy: the
        change of each logit, of each centred logit, and the shift softmax ignores), label,
        label_scores{precision, recall, f1, lift, firings, auroc, threshold} | None (analysis/labels.py),
        explanation, explained, explanation_scores{precision, recall, f1, iou, lift, firings, mass, fit_iou,
        threshold} | None (analysis/explain.py), place_field: PlaceField{values, score, score_name} | None,
        other_seed: OtherSeed{nearest, cosine, found, matched, matched_cosine} | None,
        cluster_id (-1 = none), cluster_name, histogram{edges, counts} | None, map_xy[x, y] | None,
        facts[FactScore{fact, auroc, description, f1, variants[FactScore]}] (ranked by f1, browser/facts.py),
        frames[FrameGroup{title, items[FrameItem{image, activation, step, caption}]}],
        steering: Steering{mode, strength, tv_distance, score_clean, score_steered,
                           action_clean, action_steered, heatmap, gif, note} | None
      clusters: [Cluster{id, name, members[feature ids]}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from rlsae.analysis.explain import ExplanationScores
from rlsae.analysis.labels import LabelScores
from rlsae.common.records import Described
from rlsae.config import require
from rlsae.envs.games import game_spec

ImageSource = bytes | Path | np.ndarray
"""Encoded image bytes, a path to an image file, or an ``H x W x 3`` uint8 frame."""


@dataclass(frozen=True, eq=False)
class Tile:
    """Frame ``index`` of ``count`` equal frames stacked top to bottom in one image (a sheet).

    Consecutive steps of an episode share a sheet, so the frames of every clip cost a few files, not one
    file per frame; give the same Tile object wherever the same frame appears (it is stored once)."""

    sheet: ImageSource
    index: int
    count: int


FrameSource = ImageSource | Tile
"""A frame: an image of its own, or one tile of a sheet."""

class Histogram(TypedDict):
    """Bin edges (``len(counts) + 1`` of them) and counts, e.g. of a feature's non-zero activations."""

    edges: list[float]
    counts: list[int]


class TrainingPoint(TypedDict, total=False):
    """One point of the SAE training curves; ``step`` is required, any other numeric key is plotted."""

    step: int
    fvu: float
    l0: float
    dead_fraction: float


@dataclass
class AgentInfo:
    game: str
    """Game id (the ALE ROM id), e.g. ``breakout``."""
    steps: int
    """Agent training steps."""
    score: float | None = None
    """Mean full-game evaluation score of the clean agent."""
    algorithm: str = ""
    """``dqn``, ``pqn``, ... (shown as is)."""


@dataclass
class SAEInfo:
    d_in: int
    d_sae: int
    k: int | None
    """Active latents per input for Top-K / BatchTopK; None for ReLU+L1."""
    architecture: str
    """``topk``, ``batchtopk``, ``relu``."""
    layer: str = ""
    """Hooked layer of the Q-network."""


@dataclass
class Headline:
    """A feature the summary names: the best one for a fact. The page shows it with the feature's own label,
    so the summary and the feature's page cannot disagree."""

    title: str
    """What was sought, e.g. ``dying``."""
    feature: int
    fact: str
    description: str
    precision: float | None
    """Held-out share of the feature's firings on which the fact holds."""
    recall: float | None
    firings: int
    """Held-out states where the feature fires: the sample behind precision."""


@dataclass
class Sweep:
    """A sweep over agents (``rlsae sweep``): its plot and the numbers that test the dead-count claim."""

    plot: ImageSource | None
    numbers: dict[str, float | None]
    note: str = ""


@dataclass
class RunSummary:
    title: str
    agent: AgentInfo
    sae: SAEInfo
    metrics: dict[str, float | None]
    """Headline numbers: fvu, l0, dead_fraction, dense_fraction, action_agreement,
    action_agreement_large_gap, advantage_rel_error, regret, score_clean, score_spliced, ..."""
    action_names: list[str] = field(default_factory=list)
    """One per Q-value, in the head's order (empty: the game spec's). Names containing UP/DOWN/LEFT/RIGHT
    become arrows."""
    fidelity: list[Described] = field(default_factory=list)
    """The SAE's evaluation, one number a row with its name, shown value and meaning (sae/evaluation.py)."""
    density_log10: list[float | None] | None = None
    """log10 activation density per feature (None for dead); if None it is derived from the features."""
    density_sample: str = ""
    """The states the densities were measured on, e.g. "80,000 states from 129 episodes": one stated sample."""
    training_curves: list[TrainingPoint] = field(default_factory=list)
    curve_names: dict[str, str] = field(default_factory=dict)
    """A training curve's key -> the name its chart is titled with (a key without one is shown as it is)."""
    label_comparison: dict[str, list[Described]] = field(default_factory=dict)
    """Unit kind (features, neurons) -> the same numbers in the same order (``UnitStats.readability``): do SAE
    features read better than raw neurons?"""
    explain_rule: str = ""
    """The rule an explanation passes for its feature to count as explained, in words (empty: none searched)."""
    notes: str = ""
    """Free text shown under the title."""
    headlines: list[Headline] = field(default_factory=list)
    found_again: list[Described] = field(default_factory=list)
    """How many live features an SAE trained with another seed learns too (analysis/seed_match.py), one number a
    row; empty: no other seed was given."""
    found_threshold: float | None = None
    """The decoder cosine a feature's nearest other-seed feature needs for it to be found again; None: no other
    seed (then no feature has ``other_seed``)."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """What produced the run (commands, commits, paths); shown as a key-value list."""
    player: str = "the player"
    """What the game calls the player (the game spec's word), for the mark on the frames."""
    frame_size: tuple[int, int] | None = None
    """Width and height of a frame in screen pixels: the coordinates of positions and regions (None: the
    game spec's)."""
    sweep: Sweep | None = None
    output: str = "q-values"
    """What the head reading the layer gives: "q-values", or "policy" (an actor-critic's action logits): it
    names the action effects' units (Q-values and advantages, or logits and centred logits)."""

    def __post_init__(self) -> None:
        if not self.action_names or self.frame_size is None:
            spec = game_spec(self.agent.game)
            self.action_names = self.action_names or list(spec.action_names)
            self.frame_size = self.frame_size or spec.frame_size


@dataclass
class FactScore:
    fact: str
    """Game-fact name, e.g. ``dying``."""
    auroc: float | None
    """Held-out AUROC of the feature's activation as a detector of the fact (0.5 = chance); None: not scored."""
    description: str = ""
    f1: float | None = None
    """Held-out F1 of the feature as a detector of the fact (None: not scored, or never fired)."""
    variants: list[FactScore] = field(default_factory=list)
    """Conjunctions of this fact with another ("ghost_near & dying"), shown folded under it."""


@dataclass
class Clip:
    """The steps around an example: ``frames[centre]`` is the example itself."""

    frames: list[FrameSource]
    activations: list[float | None]
    """The feature's activation at each frame (None: not known)."""
    centre: int
    positions: list[tuple[float, float] | None] = field(default_factory=list)
    """The player's screen (x, y) at each frame, or empty (not known)."""


@dataclass
class FrameItem:
    image: FrameSource
    activation: float
    step: int
    """Index of the state in the analysed recording."""
    caption: str = ""
    clip: Clip | None = None
    position: tuple[float, float] | None = None
    """The player's screen (x, y) in this frame, marked on it."""


@dataclass
class FrameGroup:
    title: str
    """``top activations``, ``quantile 90%-99%``, ..."""
    items: list[FrameItem]


@dataclass
class Steering:
    mode: str
    """``clamp``, ``ablate`` or ``add``."""
    strength: float
    tv_distance: float
    """Total-variation distance between the clean and steered action distributions."""
    score_clean: float | None = None
    score_steered: float | None = None
    action_clean: list[float] | None = None
    """Action distribution of the clean agent (one probability per action)."""
    action_steered: list[float] | None = None
    heatmap: ImageSource | None = None
    """Where the player goes under steering (an image)."""
    gif: Path | None = None
    """A short video of the steered agent."""
    note: str = ""


@dataclass
class PlaceField:
    """Where on the screen a feature fires: a value per tile of the player's position (analysis/place.py; rows
    top to bottom, columns left to right over the frame), drawn as a heatmap on the feature's page."""

    values: list[list[float | None]]
    """[rows][columns], e.g. the mean held-out activation with the player on that tile; None: never there."""
    score: float | None = None
    """How concentrated the field is, as ``score_name`` says."""
    score_name: str = ""


@dataclass
class OtherSeed:
    """A feature's match in an SAE trained with another seed on the same layer (analysis/seed_match.py)."""

    nearest: int
    """The other SAE's feature with the largest decoder cosine (an id there, not in this browser)."""
    cosine: float
    found: bool
    """Whether ``cosine`` reaches ``RunSummary.found_threshold``: the feature is found again."""
    matched: int = -1
    """Its partner in the one-to-one (Hungarian) assignment; -1: none."""
    matched_cosine: float | None = None


@dataclass
class Related:
    """A unit related to a feature: ``kind`` ``feature`` (a link) or ``neuron``, with the number that relates
    them (``value``) and what that number is (the list's ``title`` says it)."""

    kind: str
    unit: int
    value: float


@dataclass
class Feature:
    id: int
    alive: bool
    density: float
    """Fraction of analysed states where the feature is non-zero."""
    max_activation: float
    action_effect: list[float]
    """W_head @ decoder direction: change of each action's Q-value (a policy: logit) per unit activation."""
    value_effect: float | None = None
    """An actor-critic's value head @ decoder direction: change of the state's value per unit activation."""
    label: str | None = None
    label_scores: LabelScores[float] | None = None
    """The label's held-out scores (precision, recall, F1, ...; analysis/labels.py); None without a label."""
    explanation: str | None = None
    """The formula of game facts that agrees best with the feature (analysis/explain.py), in words; None: the
    feature fires too rarely to search."""
    explanation_scores: ExplanationScores | None = None
    """The explanation's held-out scores (precision, recall, F1, lift, activation mass, ...); None without one."""
    explained: bool = False
    """Whether the explanation passes the rule (``RunSummary.explain_rule``); False: "unexplained"."""
    place_field: PlaceField | None = None
    """Where on the screen it fires; None: not measured."""
    other_seed: OtherSeed | None = None
    """Its match in another seed's SAE; None: no other seed given (or the feature is dead)."""
    cluster_id: int = -1
    """-1 when the feature is in no cluster (e.g. dead)."""
    cluster_name: str | None = None
    histogram: Histogram | None = None
    facts: list[FactScore] = field(default_factory=list)
    frames: list[FrameGroup] = field(default_factory=list)
    steering: Steering | None = None
    map_xy: tuple[float, float] | None = None
    """Place on the 2-D feature map (a force layout of the features' nearest-neighbour graph by co-firing,
    browser/layout.py; each axis in [-1, 1]); None: not on it (dead)."""
    region: tuple[float, float, float, float] | None = None
    """(x0, y0, x1, y1) screen pixels of the place the label names, marked on the frames; None: no place."""
    related: dict[str, list[Related]] = field(default_factory=dict)
    """Lists of related units by title, e.g. ``fires with``, ``nearest by decoder``, ``reads neurons``."""

    @property
    def value_shift(self) -> float:
        """The part of ``action_effect`` shared by every action: a change of the state's value, not of the policy."""
        return float(np.mean(self.action_effect)) if self.action_effect else 0.0

    @property
    def advantage_effect(self) -> list[float]:
        """(W_head - its mean row) @ decoder direction: what the feature does to the ranking of actions.

        For about half of the live features the value shift outweighs every difference between actions,
        so the raw effect paints all arrows one colour and says nothing about the policy.
        """
        shift = self.value_shift
        return [e - shift for e in self.action_effect]


@dataclass
class Cluster:
    id: int
    name: str
    members: list[int]


@dataclass
class BrowserData:
    summary: RunSummary
    features: list[Feature]
    clusters: list[Cluster] = field(default_factory=list)
    track: dict[str, Any] | None = None
    """The browsed SAE's feature lineage across checkpoints (rlsae.browser.track_view), when built with one."""

    def validate(self) -> None:
        """Raise a UserError naming the first inconsistency (ids, lengths, cluster references)."""
        n_actions = len(self.summary.action_names)
        require(n_actions > 0, "summary.action_names is empty: give one name per Q-value")
        ids = [f.id for f in self.features]
        require(len(set(ids)) == len(ids), "feature ids are not unique")
        clusters = {c.id: c for c in self.clusters}
        require(len(clusters) == len(self.clusters), "cluster ids are not unique")
        known = set(ids)
        for c in self.clusters:
            missing = [m for m in c.members if m not in known]
            require(not missing, f"cluster {c.id} lists unknown feature ids {missing[:5]}")
        for f in self.features:
            require(isinstance(f.id, (int, np.integer)) and f.id >= 0,
                    f"feature id {f.id!r} must be a non-negative integer")
            require(len(f.action_effect) == n_actions,
                    f"feature {f.id}: action_effect has {len(f.action_effect)} values, "
                    f"summary.action_names has {n_actions}")
            require(f.cluster_id == -1 or f.cluster_id in clusters,
                    f"feature {f.id}: cluster_id {f.cluster_id} is not among the clusters")
            if f.histogram is not None and f.histogram["counts"]:
                require(len(f.histogram["edges"]) == len(f.histogram["counts"]) + 1,
                        f"feature {f.id}: histogram needs len(edges) == len(counts) + 1")
            if f.place_field is not None:
                widths = {len(row) for row in f.place_field.values}
                require(len(widths) == 1 and 0 not in widths,
                        f"feature {f.id}: place_field.values needs one or more rows of one non-zero length")
            if f.other_seed is not None:
                require(self.summary.found_threshold is not None,
                        f"feature {f.id}: other_seed is given but summary.found_threshold is not")
                require(f.other_seed.found == (f.other_seed.cosine >= self.summary.found_threshold),
                        f"feature {f.id}: other_seed.found disagrees with its cosine {f.other_seed.cosine:.3f} and "
                        f"summary.found_threshold {self.summary.found_threshold}")
            for item in (item for group in f.frames for item in group.items if item.clip is not None):
                clip = item.clip
                require(len(clip.activations) == len(clip.frames) and 0 <= clip.centre < len(clip.frames)
                        and len(clip.positions) in (0, len(clip.frames)),
                        f"feature {f.id}: a clip needs one activation (and position, if any) per frame and "
                        "its centre among them")
            if f.steering is not None:
                for name in ("action_clean", "action_steered"):
                    values = getattr(f.steering, name)
                    require(values is None or len(values) == n_actions,
                            f"feature {f.id}: steering.{name} needs {n_actions} values")
        for h in self.summary.headlines:
            require(h.feature in known, f"headline {h.title!r} names feature {h.feature}, which is not exported")
        if self.summary.density_log10 is not None:
            require(len(self.summary.density_log10) == len(self.features),
                    "summary.density_log10 needs one value per feature")


def log10_density(density: float) -> float | None:
    """log10 of a density, None for a dead (zero-density) feature."""
    return math.log10(density) if density > 0 else None
