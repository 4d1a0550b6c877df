"""The result of `rlsae steer-bench` (``steer_bench.json``): per goal, every handle's held-out scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlsae.common.records import Record, number

CONTROLS = ("random feature", "flipped feature", "noise")
"""Handles that should not steer: a random live feature, the chosen feature sign-flipped, Gaussian noise."""


@dataclass(frozen=True)
class HandleScore:
    """One handle at one edit size, played from the held-out starts (the clean agent from the same ones)."""

    handle: str
    """'labeled feature', 'best feature', 'best neuron', 'probe', 'difference of means' or one of CONTROLS."""
    unit: int | None
    """The feature or neuron the handle edits (None for directions fitted or drawn on the layer)."""
    size: float = number("edit size", "the edit adds {} to the layer's activation (L2 norm)", "{:.3g}")
    size_ratio: float = number("edit size / activation", "the edit's L2 norm is {} of the layer's mean "
                               "activation norm", "{:.2f}")
    success: float = number("success", "the goal was reached from {} of the held-out starts", "{:.0%}")
    wilson_low: float = number("success, Wilson 95% low", "95% Wilson interval from {}", "{:.0%}")
    wilson_high: float = number("success, Wilson 95% high", "95% Wilson interval up to {}", "{:.0%}")
    reached: list[bool]
    """Per held-out start, in order: whether the goal was reached."""
    gained: int = number("gained", "{} starts reached the goal only with the edit", "{:d}")
    lost: int = number("lost", "{} starts reached the goal only without the edit", "{:d}")
    p_clean: float = number("paired p vs clean", "McNemar exact two-sided p = {} against the clean agent from "
                            "the same starts", "{:.2g}")
    score_change: float = number("score change", "the edit changed the points scored over the goal's steps by {} "
                                 "a start", "{:+.0f}", "points")
    policy_tv: float = number("policy movement", "on states unrelated to the goal the greedy action changed on {} "
                              "of them (mean total variation)", "{:.0%}")


@dataclass(frozen=True)
class Screened:
    """A candidate unit of the screening: its cheap one-step score and its successes on fit starts."""

    unit: int
    sign: int
    """+1: added along its direction; -1: against it (neurons are tried both ways)."""
    proxy: float = number("action push", "adding it moves the greedy actions towards the goal's by {} "
                          "(log-ratio weighted)", "{:.3f}")
    screen_successes: int = number("screening successes", "it reached the goal from {} of the screening starts",
                                   "{:d}")
    confirm_successes: int | None = number("confirmation successes", "it reached the goal from {} of the fit "
                                           "starts", "{:d}")


@dataclass(frozen=True)
class GoalBench:
    """One steering goal: the starts, how the handles were chosen, and their held-out scores."""

    goal: str
    expression: str
    horizon: int
    holds: str
    fit_starts: list[int]
    """Recording indices of the starts handles were chosen on."""
    held_starts: list[int]
    """Recording indices of the held-out starts they are scored on."""
    clean_success: float = number("clean success", "the clean agent reached the goal from {} of the held-out starts",
                                  "{:.0%}")
    clean_reached: list[bool]
    clean_score: float = number("clean score", "the clean agent scored {} over the goal's steps a start", "{:,.0f}",
                                "points")
    features: list[Screened]
    neurons: list[Screened]
    probe_accuracy: float = number("probe accuracy", "the linear probe tells 'reached soon' on {} of the fit states",
                                   "{:.0%}")
    handles: list[HandleScore]
    best_vs: dict[str, float]
    """McNemar p of the best feature against each control and the best neuron at the largest size (paired
    by start), signed: negative when the other handle reached the goal more often."""


@dataclass(frozen=True)
class SteerBenchRun(Record):
    """Every goal benchmarked into one --out folder, with the settings they share."""

    KIND = "rlsae-steer-bench"
    WRITER = "rlsae steer-bench"

    sae: str
    recording: str
    activation_norm: float = number("activation norm", "the layer's activations have a mean L2 norm of {}",
                                    "{:.3g}")
    config: dict[str, Any]
    provenance: dict[str, Any]
    goals: list[GoalBench]
