"""The result of `rlsae evaluate` (``evaluation.json``): every number declared once with its name and meaning.

The definitions of the offline numbers are in sae/metrics.py, those of the games in sae/fidelity.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlsae.common.records import Record, build, number

EVALUATION = "evaluation.json"
_SCORE = {"fmt": "{:,.0f}", "unit": "points"}
_GAMES = " (mean \u00b1 standard deviation over the games)"


@dataclass(frozen=True)
class Evaluation(Record):
    """How sparse and faithful an SAE is on held-out states and, if games were played, in whole games."""

    KIND = "rlsae-evaluation"
    WRITER = "rlsae evaluate"

    sae: str
    recording: str
    architecture: str
    d_in: int
    d_sae: int
    k: int | None
    states: int = number("held-out states", "measured on {} held-out states of the recording", "{:,}")
    fvu: float = number("variance unexplained (FVU)", "the reconstruction leaves {} of the layer's variance "
                        "unexplained (0: perfect, 1: no better than the layer's mean)", "{:.4f}")
    l0: float = number("active features (L0)", "{} features fire per state on average", "{:.1f}")
    dead_fraction: float = number("dead features", "{} of the features never fire on the held-out states",
                                  "{:.1%}")
    dense_fraction: float = number("dense features", "{} of the features fire on more than 10% of the states",
                                   "{:.1%}")
    mse: float = number("squared error", "the reconstruction misses by {} per state (squared, summed over "
                        "the layer)", "{:.4g}")
    action_agreement: float | None = number(
        "greedy agreement", "the SAE agent picks the same action as the clean agent in {} of the states",
        "{:.1%}", default=None)
    action_agreement_large_gap: float | None = number(
        "greedy agreement, clear choices", "{} on the states where the clean agent's best action leads the "
        "second by more than the median gap", "{:.1%}", default=None)
    q_rel_error: float | None = number("Q-value error", "the Q-values err by {} of their variance",
                                       "{:.4f}", default=None)
    advantage_rel_error: float | None = number(
        "advantage error", "the actions' advantages (what ranks them) err by {} of their variance", "{:.4f}",
        default=None)
    logit_rel_error: float | None = number(
        "centred logit error", "the policy's centred logits (what ranks the actions) err by {} of their variance",
        "{:.4f}", default=None)
    policy_kl: float | None = number("policy divergence", "KL(pi || pi with the SAE spliced in) is {} per state",
                                     "{:.4f}", "nats", default=None)
    regret: float | None = number("regret", "by the clean agent's own values, the SAE agent's choices lose {} "
                                  "per state", "{:.3f}", "% of the Q range", default=None)
    episodes: int | None = number("games per condition", "each score is the mean of {} full games", "{:d}",
                                  default=None)
    score_clean: float | None = number("score, clean agent", "the agent as trained scores {} a game" + _GAMES,
                                       spread="score_clean_std", default=None, **_SCORE)
    score_spliced: float | None = number("score, SAE spliced in", "with the layer replaced by its SAE "
                                         "reconstruction the agent scores {} a game" + _GAMES,
                                         spread="score_spliced_std", default=None, **_SCORE)
    score_zero_ablation: float | None = number("score, layer zeroed", "with the layer set to zero the agent "
                                               "scores {} a game" + _GAMES, spread="score_zero_ablation_std",
                                               default=None, **_SCORE)
    score_mean_ablation: float | None = number("score, layer at its mean", "with the layer held at its mean "
                                               "the agent scores {} a game" + _GAMES, spread="score_mean_ablation_std",
                                               default=None, **_SCORE)
    score_ratio: float | None = number("score kept", "the SAE agent keeps {} of the clean agent's score",
                                       "{:.1%}", default=None)
    recovered_vs_mean_ablation: float | None = number(
        "score recovered (vs mean)", "splicing the SAE in wins back {} of the score lost by holding the layer "
        "at its mean", "{:.1%}", default=None)
    recovered_vs_zero_ablation: float | None = number(
        "score recovered (vs zero)", "splicing the SAE in wins back {} of the score lost by zeroing the layer",
        "{:.1%}", default=None)
    score_clean_std: float | None = None
    score_spliced_std: float | None = None
    score_zero_ablation_std: float | None = None
    score_mean_ablation_std: float | None = None
    act: str | None = None
    """How the games' actions were picked: "greedy", or "sample" from a policy's logits."""
    games_from: str | None = None
    """When the games were kept from an earlier evaluation of the same weights: when that one ran."""
    density_png: str = ""
    sae_weights_sha256: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def played(self) -> bool:
        return self.score_spliced is not None

    @classmethod
    def legacy(cls, data: dict[str, Any], origin: str) -> Evaluation:
        """Files from before versions hold the same flat keys: their games took hours, so they are read."""
        known = set(cls.__dataclass_fields__)
        return build(cls, {k: v for k, v in data.items() if k in known}, origin,
                     f"rerun `{cls.WRITER}` to write it again")


GAME_KEYS = tuple(k for k in Evaluation.__dataclass_fields__ if k.startswith(("score_", "recovered_vs_"))) + \
    ("episodes", "act")
"""What the (slow) games measured: kept from an earlier evaluation when a rerun plays none."""
