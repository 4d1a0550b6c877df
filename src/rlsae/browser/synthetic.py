"""Synthetic :class:`BrowserData` of any size, for tests, benchmarks and a demo page.

    python -m rlsae.browser.synthetic out/demo --features 256

Frames look like a maze game's screen (blue maze walls, dots, a yellow player and coloured ghosts at
state-dependent places), so their PNG size and encoding cost are close to real 210x160 Atari frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rlsae.analysis.explain import ExplainRule, ExplainSummary, ExplanationScores
from rlsae.analysis.labels import LabelScores, LabelSummary, UnitStats
from rlsae.analysis.per_fact import Coverage, FactTable, ProbeAccuracy
from rlsae.analysis.seed_match import FoundAgain, SeedMatch
from rlsae.browser.data import (
    AgentInfo,
    BrowserData,
    Clip,
    Cluster,
    Feature,
    FrameGroup,
    FrameItem,
    Headline,
    OtherSeed,
    PlaceField,
    Related,
    RunSummary,
    SAEInfo,
    Steering,
    Sweep,
)
from rlsae.browser.export import encode_png
from rlsae.browser.facts import ranked_facts
from rlsae.browser.layout import LayoutConfig, cosine_similarity, feature_layout
from rlsae.common.records import described
from rlsae.envs.atari import DEFAULT_GAME
from rlsae.envs.games import game_spec
from rlsae.sae.evaluation import Evaluation
from rlsae.sae.train import LOG_NAMES

FACTS = ["ghost_near", "ghost_left", "ghost_right", "ghost_up", "ghost_down", "power_pill_near", "ghosts_edible",
         "fruit_present", "life_lost_soon", "region_top_left", "region_bottom_left", "region_top_right",
         "region_bottom_right", "few_dots_left", "player_dead", "heading_to_power_pill"]
PAIRED = ("life_lost_soon", "ghosts_edible")  # what synthetic conjunctions pair facts with ("X & dying" in real runs)
_QUANTILES = ["quantile 90%-99%", "quantile 50%-90%", "quantile 10%-50%", "quantile 0%-10%"]
CLIP_RADIUS = 2  # steps each side of an example in its clip
_SPRITES = [(210, 164, 74), (200, 72, 72), (84, 184, 153), (252, 144, 200), (180, 122, 48)]


def _readability(units: int, labeled: float, best_f1: float, covered: float, or_f1: float, probe: float,
                 auroc: float, explained: float, explained_f1: float) -> UnitStats:
    """Made-up interpret numbers for one kind of unit, in the record a real run gives the browser."""
    return UnitStats(LabelSummary(n_units=units, n_labeled=round(units * labeled), labeled_fraction=labeled,
                                  mean_best_auroc=auroc, mean_label_precision=0.84, mean_label_recall=0.6,
                                  mean_label_f1=0.55, mean_label_lift=9.0),
                     FactTable(n_facts=90, mean_best_f1=best_f1, mean_or_f1=or_f1, coverage=[Coverage(0.5, covered)],
                               probes=[ProbeAccuracy(1, "raw", probe)], per_fact=[]),
                     ExplainSummary(n_units=units, n_explained=round(units * explained), explained_fraction=explained,
                                    mean_f1=explained_f1))


def _maze(height: int = 210, width: int = 160) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:] = (0, 28, 136)
    wall = (228, 111, 111)
    rng = np.random.default_rng(1)
    for _ in range(28):
        y, x = rng.integers(4, height - 30), rng.integers(4, width - 20)
        if rng.random() < 0.5:
            frame[y:y + 4, x:x + rng.integers(12, 40)] = wall
        else:
            frame[y:y + rng.integers(12, 40), x:x + 4] = wall
    frame[4:height - 24:8, 6:width - 6:8] = (228, 111, 111)  # dots
    frame[height - 20:, :] = 0
    return frame


def _sprite_corners(state: int, h: int = 210, w: int = 160) -> list[tuple[int, int]]:
    rng = np.random.default_rng(state)
    return [(int(rng.integers(4, h - 34)), int(rng.integers(4, w - 12))) for _ in _SPRITES]


def player_position(state: int) -> tuple[float, float]:
    """Screen (x, y) of the centre of the player (the first sprite) in ``synthetic_frame(state)``."""
    y, x = _sprite_corners(state)[0]
    return x + 4.0, y + 4.5


def synthetic_frame(state: int, maze: np.ndarray | None = None) -> np.ndarray:
    """A 210x160x3 uint8 maze-game-like frame; sprite places depend on ``state``."""
    frame = (maze if maze is not None else _maze()).copy()
    h, w, _ = frame.shape
    for color, (y, x) in zip(_SPRITES, _sprite_corners(state, h, w)):
        frame[y:y + 9, x:x + 8] = color
    frame[h - 14:h - 6, 10:10 + 8 * (state % 4 + 1)] = (210, 164, 74)  # lives / score strip
    return frame


def _label_scores(rng: np.random.Generator, auroc: float | None) -> LabelScores[float] | None:
    """Made-up held-out scores of a label (None without one)."""
    if auroc is None:
        return None
    precision, recall = float(rng.uniform(0.5, 1.0)), float(rng.uniform(0.05, 1.0))
    return LabelScores(precision=precision, recall=recall, f1=2 * precision * recall / (precision + recall),
                       lift=float(rng.uniform(1.0, 40.0)), firings=float(rng.integers(10, 5000)), auroc=auroc,
                       threshold=float(rng.choice([0.0, 0.1, 0.2, 0.5])))


def _explanation(rng: np.random.Generator) -> tuple[str | None, ExplanationScores | None, bool]:
    """A made-up explanation of a live feature: a formula of facts with held-out scores, and whether it passes
    the rule (about a fifth are never searched, some fail)."""
    if rng.random() < 0.2:
        return None, None, False
    a, b = rng.choice(FACTS, 2, replace=False)
    formula = str(a) if rng.random() < 0.4 else f"{a} AND NOT {b}"
    precision, recall = float(rng.uniform(0.2, 1.0)), float(rng.uniform(0.1, 1.0))
    f1 = 2 * precision * recall / (precision + recall)
    scores = ExplanationScores(precision=precision, recall=recall, f1=f1, iou=f1 / (2 - f1),
                               lift=float(rng.uniform(1.0, 30.0)), firings=float(rng.integers(10, 5000)),
                               mass=float(rng.uniform(0.1, 1.0)), fit_iou=f1 / (2 - f1) + 0.02,
                               threshold=float(rng.choice([0.0, 0.1, 0.2])))
    return formula, scores, ExplainRule().passes(scores)


def _place_field(rng: np.random.Generator) -> PlaceField:
    """A made-up place field: a bump on a 16 x 16 grid of tiles, some never visited."""
    y, x = np.mgrid[:16, :16]
    centre = rng.uniform(0, 16, 2)
    field = np.exp(-((y - centre[0]) ** 2 + (x - centre[1]) ** 2) / 8)
    values = [[None if rng.random() < 0.1 else float(v) for v in row] for row in field]
    return PlaceField(values, float(rng.uniform(0.3, 0.9)), "share of the activation on the top 10% of tiles")


def synthetic_browser_data(n_features: int = 64, frames_per_feature: int = 16, n_states: int | None = None,
                           image: str = "bytes", seed: int = 0, dead_fraction: float = 0.2,
                           steering_every: int = 8, png_compress_level: int = 6,
                           other_seed: bool = True) -> BrowserData:
    """A run with ``n_features`` features, each alive one showing ``frames_per_feature`` frames, matched into a
    made-up other seed's SAE unless ``other_seed`` is False.

    Frames are drawn from ``n_states`` distinct states (default: every frame distinct). ``image`` is
    ``bytes`` (PNG-encoded here, once per state), ``array`` (the exporter encodes) or ``shared``
    (a handful of states, for fast tests).
    """
    rng = np.random.default_rng(seed)
    n_actions = len(game_spec(DEFAULT_GAME).action_names)
    n_top, n_quantile = frames_per_feature // 2, frames_per_feature - frames_per_feature // 2
    alive_mask = rng.random(n_features) >= dead_fraction
    if n_features:
        alive_mask[0] = True
    n_alive = int(alive_mask.sum())
    if image == "shared":
        n_states = 8
    elif n_states is None:
        n_states = max(1, n_alive * frames_per_feature)
    maze = _maze()
    states = [synthetic_frame(s, maze) for s in range(n_states)]
    images: list = states if image == "array" else [encode_png(f, png_compress_level) for f in states]

    live = np.flatnonzero(alive_mask)
    n_clusters = max(1, n_alive // 16)
    assignment = np.full(n_features, -1)
    assignment[live] = rng.integers(0, n_clusters, len(live))
    # decoder directions around one centre per cluster, laid out as a real build lays out the SAE's
    directions = rng.normal(size=(n_clusters, 64))[assignment.clip(0)] + 1.2 * rng.normal(size=(n_features, 64))
    map_xy = feature_layout(cosine_similarity(directions), alive_mask, directions[:, :2], LayoutConfig(epochs=150))
    labels: list[str | None] = [None] * n_features
    scores: list[float | None] = [None] * n_features
    for i in live:
        if rng.random() < 0.6:
            labels[i] = str(rng.choice(FACTS)).replace("_", " ")
            scores[i] = float(rng.uniform(0.75, 0.99))
    members = [np.flatnonzero(assignment == c).tolist() for c in range(n_clusters)]
    names = []
    for c, group in enumerate(members):
        named = [labels[i] for i in group if labels[i]]
        names.append(f"{max(set(named), key=named.count)} ({len(group)})" if named else f"cluster {c}")
    clusters = [Cluster(c, names[c], members[c]) for c in range(n_clusters)]

    # from a generator of its own, so the other numbers are the same with or without the other seed
    seeds = np.random.default_rng(seed + 1)
    nearest = seeds.permutation(n_features)
    matched = np.where(seeds.random(n_features) < 0.8, nearest, seeds.permutation(n_features))
    cosine = seeds.uniform(0.1, 1.0, n_features)
    match = SeedMatch(nearest, cosine, matched, np.minimum(cosine, seeds.uniform(0.1, 1.0, n_features)))
    next_state = 0
    features = []
    for i in range(n_features):
        alive = bool(alive_mask[i])
        density = float(10 ** rng.uniform(-4.5, -0.5)) if alive else 0.0
        max_act = float(rng.uniform(0.5, 8.0)) if alive else 0.0
        # a shared shift of every Q-value (a change of the state's value), often larger than the differences
        effect = (rng.normal(0, 0.1, n_actions) + rng.normal(0, 0.3)).tolist()
        groups, histogram, facts, steering = [], None, [], None
        explanation, explanation_scores, explained = _explanation(rng) if alive else (None, None, False)
        if alive:
            acts = np.sort(rng.uniform(0.05, 1.0, frames_per_feature) * max_act)[::-1]
            items = []
            for a in acts:
                state = next_state % n_states if image != "shared" else int(rng.integers(n_states))
                next_state += 1
                around = [(state + d) % n_states for d in range(-CLIP_RADIUS, CLIP_RADIUS + 1)]
                clip = Clip([images[s] for s in around],
                            [float(a) * (1 - abs(d) / (CLIP_RADIUS + 1)) for d in range(-CLIP_RADIUS, CLIP_RADIUS + 1)],
                            CLIP_RADIUS, [player_position(s) for s in around])
                items.append(FrameItem(images[state], float(a), int(state), caption=f"episode {state // 500}",
                                       clip=clip, position=player_position(state)))
            groups = [FrameGroup("top activations", items[:n_top])]
            for g, q in enumerate(range(0, n_quantile, 4)):
                groups.append(FrameGroup(_QUANTILES[g % len(_QUANTILES)], items[n_top + q:n_top + q + 4]))
            counts, edges = np.histogram(rng.gamma(2.0, max_act / 6, 400).clip(0, max_act), bins=24)
            histogram = {"edges": edges.tolist(), "counts": counts.tolist()}
            picked = [FACTS[j] for j in rng.choice(len(FACTS), 5, replace=False)]
            scored = picked + [f"{name} & {other}" for name in picked[:3] for other in PAIRED if name != other]
            facts = ranked_facts(scored, [f"synthetic fact {name}" for name in scored],
                                 rng.uniform(0.3, 0.99, len(scored)), rng.uniform(0.0, 0.9, len(scored)), 5)
            if steering_every and i % steering_every == 0:
                clean = rng.dirichlet(np.ones(n_actions))
                steered = rng.dirichlet(np.ones(n_actions))
                steering = Steering("clamp", 10.0, float(0.5 * np.abs(clean - steered).sum()), 2100.0,
                                    float(rng.uniform(300, 2500)), clean.tolist(), steered.tolist(),
                                    heatmap=images[0], note="synthetic steering result")
        features.append(Feature(
            id=i, alive=alive, density=density, max_activation=max_act, action_effect=effect,
            label=labels[i], label_scores=_label_scores(rng, scores[i]), explanation=explanation,
            explanation_scores=explanation_scores, explained=explained,
            place_field=_place_field(rng) if alive and i % 3 == 0 else None, cluster_id=int(assignment[i]),
            other_seed=OtherSeed(int(nearest[i]), float(cosine[i]), bool(match.found_again[i]), int(matched[i]),
                                 float(match.matched_cosine[i])) if other_seed and alive else None,
            cluster_name=names[assignment[i]] if assignment[i] >= 0 else None, histogram=histogram,
            facts=facts, frames=groups, steering=steering,
            map_xy=(float(map_xy[i, 0]), float(map_xy[i, 1])) if alive else None,
            region=(0.0, 140.0, 53.0, 172.0) if labels[i] and "bottom_left" in labels[i].replace(" ", "_") else None,
            related={"fires with (share of its firings)": [Related("feature", int(j), 0.5) for j in live[:3] if j != i],
                     "writes neurons (decoder weight)": [Related("neuron", 7, -0.4)]} if alive else {}))

    best = next(f for f in features if f.label)
    summary = RunSummary(
        title=f"synthetic run ({n_features} features)",
        agent=AgentInfo(game=DEFAULT_GAME, steps=10_000_000, score=2150.0, algorithm="pqn"),
        sae=SAEInfo(d_in=512, d_sae=n_features, k=32, architecture="topk", layer="head_input"),
        metrics={"live_features": n_alive, "labeled_fraction": 0.48, "neuron_labeled_fraction": 0.21},
        fidelity=described(Evaluation(
            sae="synthetic", recording="synthetic", architecture="topk", d_in=512, d_sae=n_features, k=32,
            states=20_000, fvu=0.083, l0=32.0, dead_fraction=1 - n_alive / max(1, n_features), dense_fraction=0.004,
            mse=0.41, action_agreement=0.94, action_agreement_large_gap=0.99, q_rel_error=0.05,
            advantage_rel_error=0.12, regret=0.03, episodes=30, score_clean=2150.0, score_clean_std=400.0,
            score_spliced=1980.0, score_spliced_std=380.0, score_zero_ablation=210.0, score_zero_ablation_std=60.0,
            score_mean_ablation=420.0, score_mean_ablation_std=90.0, score_ratio=1980 / 2150,
            recovered_vs_mean_ablation=(1980 - 420) / (2150 - 420),
            recovered_vs_zero_ablation=(1980 - 210) / (2150 - 210))),
        training_curves=[{"step": s, "fvu": float(0.9 * np.exp(-s / 3e6) + 0.08), "l0": 32.0,
                          "dead_fraction": float(0.5 * np.exp(-s / 1e6) + 0.02)}
                         for s in range(0, 10_000_001, 250_000)],
        curve_names=LOG_NAMES,
        label_comparison={
            "neurons": _readability(512, 0.21, 0.51, 0.47, 0.30, 0.70, 0.71, 0.18, 0.31).readability(),
            "features": _readability(n_alive, 0.48, 0.54, 0.53, 0.52, 0.72, 0.83, 0.41, 0.47).readability()},
        explain_rule=str(ExplainRule()),
        notes="Synthetic data: numbers and frames are made up.",
        headlines=[Headline("synthetic", best.id, best.facts[0].fact, f"synthetic fact {best.facts[0].fact}", 0.83, 0.6,
                            1114)],
        provenance={"generator": "rlsae.browser.synthetic", "seed": seed},
        found_again=described(FoundAgain.of(match, alive_mask, Path("synthetic"))) if other_seed else [],
        found_threshold=match.threshold if other_seed else None,
        sweep=Sweep(images[0], {"default SAE: Spearman rho (score, live features)": 0.02,
                                "default SAE: quadratic fit R\u00b2": 0.33}, "synthetic sweep"))
    return BrowserData(summary, features, clusters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    from rlsae.browser.export import export_browser

    print(export_browser(synthetic_browser_data(args.features, args.frames), args.out))


if __name__ == "__main__":
    main()
