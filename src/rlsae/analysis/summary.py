"""The headline numbers of `rlsae interpret` (``summary.json``): one record, every number declared once.

The parts are declared where they are computed: label statistics and the best unit for a fact family in
analysis/labels.py, explanation statistics in analysis/explain_summary.py, the per-fact table (coverage, OR,
probes) in analysis/per_fact.py, the talk's features in analysis/talk.py, the other seed's match in
analysis/seed_match.py. This module joins them with the
density counts and the game's headline facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlsae.analysis.labels import BestUnit, UnitStats
from rlsae.analysis.seed_match import FoundAgain
from rlsae.analysis.talk import TalkUnit
from rlsae.common.records import Record, number


@dataclass(frozen=True)
class Density:
    """Which features never fire: over the analysed states and over the SAE's own evaluation states (its
    sparsity file, SAELens' log10 density). A feature is dead only when it fires on neither."""

    analysed_states: int = number("states analysed", "interpret encoded {} states", "{:,}")
    never_fire_analysed: int = number("silent on the analysed states", "{} features never fire on the analysed "
                                      "states", "{:,}")
    dead: int = number("dead features", "{} features never fire on the analysed states nor on the SAE's own "
                       "evaluation states", "{:,}")
    dead_over_states: int = number("states behind 'dead'", "a dead feature is silent on all of {} states", "{:,}")
    sae_sparsity_states: int | None = number("SAE evaluation states", "the SAE's sparsity file counts {} states",
                                             "{:,}", default=None)
    never_fire_sae_sparsity: int | None = number("silent on the SAE's states", "{} features never fire on the "
                                                 "SAE's evaluation states", "{:,}", default=None)


@dataclass(frozen=True)
class HeadlineUnits:
    """A headline fact family of the game's spec (e.g. dying) and the feature and the neuron that detect it best."""

    key: str
    title: str
    feature: BestUnit | None
    """None: no live feature, or no fact of the family in the recording."""
    neuron: BestUnit | None


@dataclass(frozen=True)
class InterpretSummary(Record):
    """What interpret found over all features, against the layer's neurons with the same facts and rule."""

    KIND = "rlsae-interpret-summary"
    VERSION = 2  # 2: compositional explanations (explain_rule; features and neurons carry their ExplainSummary)
    WRITER = "rlsae interpret"

    game: str
    player: str
    """What the game's spec calls the player, in prose."""
    label_rule: str
    """The rule a unit's best fact must pass to become its label, in words."""
    explain_rule: str
    """The rule a unit's explanation (a formula of facts) must pass for the unit to count as explained."""
    min_firings: int = number("firings a label needs", "a labeled unit fires on at least {} held-out states",
                              "{:d}")
    n_states: int = number("states analysed", "{} recorded states were analysed", "{:,}")
    n_episodes: int = number("episodes analysed", "the states come from {} episodes", "{:,}")
    n_features: int = number("features", "the SAE has {} features", "{:,}")
    n_live: int = number("live features", "{} features fire on the analysed states", "{:,}")
    dead_fraction: float = number("silent share", "{} of the features never fire on the analysed states", "{:.1%}")
    n_clusters: int = number("clusters", "the live features fall into {} clusters of related features", "{:,}")
    seconds: float = number("time", "interpret took {}", "{:.1f}", "s")
    density: Density
    features: UnitStats
    neurons: UnitStats
    """The baseline: the layer's raw neurons scored with the same facts and rule."""
    headlines: list[HeadlineUnits]
    talk_features: list[TalkUnit]
    neuron_talk_features: list[TalkUnit]
    fact_base_rates: dict[str, float]
    """Per fact scored: the share of the analysed states where it holds."""
    found_again: FoundAgain | None = None
    """How many live features an SAE trained with another seed learns too (``--other-sae``); None: not given.
    Optional, so a summary written before it loads as it is (no version change)."""
    notes: list[str] = field(default_factory=list)
    """What could not be measured and why (a game without facts, a layer without a linear Q-head)."""

    def headline(self, key: str) -> HeadlineUnits | None:
        return next((h for h in self.headlines if h.key == key), None)
