"""`rlsae browse`: turn the interpret output (+ evaluation, training log, steering runs) into the browser.

Nothing from interpret is recomputed. Added here: the example frames and the clips around them, re-rendered
from the recording (each block of steps once; see :mod:`rlsae.browser.frames` for what that costs), the
SAE's codes on the clips' steps and on the interpret sample (for the clips' activation curves and the
features that fire together), the player's position and the regions labels name (:mod:`rlsae.browser.context`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from rlsae.analysis.clusters import feature_map
from rlsae.analysis.results import InterpretResult, load_result, read_manifest
from rlsae.analysis.steer import describe_goal, load_steering
from rlsae.analysis.steer_bench import PICTURE
from rlsae.analysis.steer_bench import RESULTS as STEER_BENCH
from rlsae.analysis.steer_bench_results import SteerBenchRun
from rlsae.analysis.steer_results import SteeredFeature
from rlsae.analysis.summary import InterpretSummary
from rlsae.analysis.sweep_results import SweepResult
from rlsae.browser.context import StepFacts, Steps, cofiring, related_units, sparse_codes
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
    RunSummary,
    SAEInfo,
    Steering,
    Sweep,
    TrainingPoint,
)
from rlsae.browser.export import export_browser
from rlsae.browser.facts import ranked_facts
from rlsae.browser.frames import render_tiles
from rlsae.browser.layout import feature_layout
from rlsae.browser.track_view import load_track_view
from rlsae.common.errors import UserError
from rlsae.common.files import write_bytes
from rlsae.common.outputs import SWEEP_JSON, SWEEP_PNG
from rlsae.common.records import described
from rlsae.config import option, require
from rlsae.envs.games import game_spec
from rlsae.record.recording import Recording
from rlsae.sae.evaluation import EVALUATION, Evaluation
from rlsae.sae.io import architecture_name, load_sae, read_sae_config
from rlsae.sae.train import LOG as TRAINING_LOG
from rlsae.sae.train import LOG_NAMES

MAX_CURVE_POINTS = 400
FACTS_SHOWN = 8
@dataclass
class BrowseConfig:
    interpret: Path = option(Path("runs/interpret"), "interpret output folder (written by `rlsae interpret`)")
    out: Path = option(Path("runs/browser"), "folder to write the browser into (open OUT/index.html)")
    evaluation: Path | None = option(None, "SAE evaluation JSON (default: evaluation.json in the SAE folder, "
                                     "if any, as written by `rlsae evaluate`)")
    steering: tuple[Path, ...] = option((), "steering output folders (written by `rlsae steer`)")
    steer_bench: Path | None = option(None, "steering benchmark output folder (written by `rlsae steer-bench`)")
    training_log: Path | None = option(None, "SAE training log (default: log.jsonl in the SAE folder, if any)")
    sweep: Path | None = option(None, "sweep output folder (written by `rlsae sweep`; default: the interpret "
                                "folder's parent, if it holds sweep.json)")
    track: Path | None = option(None, "track.json of `rlsae track` over this SAE's series: each feature's "
                                "timeline, what changed between checkpoints")
    top_frames: int | None = option(None, "top-activating frames shown per feature (default: all interpret kept)")
    quantile_frames: int | None = option(None, "frames shown per activation quantile interval (default: all kept)")
    workers: int = option(2, "processes rendering frames")
    title: str = option("", "page title (default: from the SAE and game)")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.interpret, self.out = Path(self.interpret), Path(self.out)
        self.steering = tuple(Path(p) for p in self.steering)
        require(min(self.top_frames or 0, self.quantile_frames or 0) >= 0,
                "--top-frames/--quantile-frames must be >= 0")
        require(self.workers >= 1, f"--workers must be >= 1, got {self.workers}")


# Log fields that are bookkeeping, not training curves worth a chart.
NOT_CURVES = {"samples", "wall"}


def training_curves(path: Path) -> list[TrainingPoint]:
    """Numeric fields of each log line with a ``step``, thinned to at most MAX_CURVE_POINTS."""
    points: list[TrainingPoint] = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"'{path}' line {n} is not JSON: {line[:60]!r}") from None
        if isinstance(entry, dict) and isinstance(entry.get("step"), (int, float)):
            points.append({k: v for k, v in entry.items()  # type: ignore[misc]
                           if k not in NOT_CURVES and isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v)})
    stride = max(1, math.ceil(len(points) / MAX_CURVE_POINTS))
    return points[::stride] if not points or (len(points) - 1) % stride == 0 else [*points[::stride], points[-1]]


def _chosen_examples(result: InterpretResult, feature: int, cfg: BrowseConfig) -> list[tuple[str, np.ndarray,
                                                                                             np.ndarray]]:
    groups = []
    for title, states, acts in result.examples(feature):
        keep = cfg.top_frames if title == result.group_titles[0] else cfg.quantile_frames
        if keep is None or keep:
            groups.append((title, states[:keep], acts[:keep]))
    return groups


def _steering(results: list[SteeredFeature]) -> dict[int, Steering]:
    out: dict[int, Steering] = {}
    for r in results:
        played = (f"Games from {r.starts.n} recorded states, {r.starts.steps} steps each (points over those "
                  "steps). " if r.starts else "")
        goal = f" Goal: {describe_goal(r)}." if r.goal is not None else ""
        out[r.feature] = Steering(
            r.mode, r.strength, r.tv_distance, r.score_clean, r.score_steered, r.action_clean, r.action_steered,
            None if r.heatmap is None else Path(r.heatmap), None if r.gif is None else Path(r.gif),
            note=f"{played}{score_change(r.scores_clean, r.scores_steered)} {r.mode} value {r.value:.3g}"
                 + (f" ({r.value / r.max_activation:.3g}x the max activation {r.max_activation:.3g})"
                    if r.max_activation > 0 else " (the feature never fired in the clean games)") + f".{goal}")
    return out


def score_change(clean: list[float], steered: list[float]) -> str:
    """The score change with its standard error, and whether that many games can tell it from noise."""
    def mean_se(scores: list[float]) -> tuple[float, float]:
        x = np.asarray(scores, dtype=float)
        return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan

    (a, sa), (b, sb) = mean_se(clean), mean_se(steered)
    games = f"{len(clean)} clean and {len(steered)} steered games"
    if math.isnan(sa) or math.isnan(sb):
        return f"Score {a:,.0f} -> {b:,.0f} from {games}: too few games for a spread, so the change is not established."
    diff, se = b - a, math.hypot(sa, sb)
    verdict = ("more than 2 standard errors: unlikely to be chance" if abs(diff) > 2 * se
               else "within 2 standard errors: not distinguishable from chance at this many games")
    rough = " (under 5 games a side, the standard error itself is rough)" if min(len(clean), len(steered)) < 5 else ""
    return (f"Score {a:,.0f} \u00b1 {sa:,.0f} -> {b:,.0f} \u00b1 {sb:,.0f} (mean \u00b1 standard error, {games}); "
            f"change {diff:+,.0f} \u00b1 {se:,.0f}, {verdict}{rough}.")


def build_browser_data(cfg: BrowseConfig) -> BrowserData:
    """Everything the page shows, with each example frame rendered (once per distinct state)."""
    manifest = read_manifest(cfg.interpret)
    result = load_result(cfg.interpret)
    sae_folder = Path(manifest["sae"])
    rec = Recording.open(manifest["recording"])
    sae_cfg = read_sae_config(sae_folder) if sae_folder.is_dir() else {}
    evaluation_file = cfg.evaluation or sae_folder / EVALUATION
    evaluation = Evaluation.load(evaluation_file) if cfg.evaluation or evaluation_file.is_file() else None
    log = cfg.training_log or sae_folder / TRAINING_LOG
    curves = training_curves(log) if cfg.training_log or log.is_file() else []
    steering: dict[int, Steering] = {}
    for folder in cfg.steering:
        steering.update(_steering(load_steering(folder)))

    chosen = {f: _chosen_examples(result, f, cfg) for f in range(result.d_sae)}
    centres = np.unique(np.concatenate([s for groups in chosen.values() for _, s, _ in groups]
                                       or [np.zeros(0, np.int64)]))
    steps = Steps(rec)
    windows = {int(c): steps.window(int(c)) for c in centres}
    needed = np.unique(np.concatenate([w for w, _ in windows.values()] or [np.zeros(0, np.int64)]))
    rows = np.union1d(needed, result.states)
    # the rest needs no frames: computed here while the workers render
    tiles, (step_facts, codes, related, map_xy) = render_tiles(
        rec, needed, cfg.workers, progress=cfg.progress, meanwhile=lambda: _unit_context(rec, result, sae_folder, rows))
    # what a clip shows besides the activations is the same for every feature: built once per example state
    clips = {g: ([tiles[w] for w in window.tolist()], step_facts.positions(window), np.searchsorted(rows, window),
                 centre) for g, (window, centre) in windows.items()}
    episode_ids, episode_steps = np.asarray(rec.episode_ids), np.asarray(rec.episode_steps)
    by_feature = codes.tocsc() if codes is not None else None
    labeled = {result.label_fact[f] for f in range(result.d_sae) if result.label[f]}
    regions = step_facts.regions(result.states, labeled)

    features = []
    for f in range(result.d_sae):
        alive = bool(result.alive[f])
        facts = ranked_facts(result.fact_names, result.fact_descriptions, result.fact_auroc[f], result.fact_f1[f],
                             FACTS_SHOWN) if alive else []
        column = by_feature[:, f].toarray().ravel() if by_feature is not None and chosen[f] else None

        def clip(g: int, column: np.ndarray | None = column) -> Clip:
            shown, positions, at, centre = clips[g]
            return Clip(shown, column[at].tolist() if column is not None else [None] * len(shown), centre, positions)

        frames = [FrameGroup(title, [FrameItem(tiles[s], float(a), s,
                                               f"episode {episode_ids[s]}, step {episode_steps[s]}",
                                               clip=clip(s), position=clips[s][1][clips[s][3]])
                                     for s, a in zip(states.tolist(), acts)])
                  for title, states, acts in chosen[f]]
        cluster = int(result.cluster[f])
        label = result.label[f]
        features.append(Feature(
            id=f, alive=alive, density=float(result.density[f]), max_activation=float(result.max_activation[f]),
            action_effect=result.action_effect[f].tolist(), label=label,
            value_effect=None if result.value_effect is None else float(result.value_effect[f]),
            label_scores=result.label_scores.unit(f) if label else None,
            explanation=result.explanations.formula[f], explanation_scores=result.explanations.unit(f),
            explained=bool(result.explanations.explained[f]),
            place_field=_place_field(result, f) if alive else None,
            other_seed=_other_seed(result, f) if alive else None,
            region=regions.get(result.label_fact[f]) if label else None,
            cluster_id=cluster, cluster_name=result.cluster_names[cluster] if cluster >= 0 else None,
            histogram={"edges": result.hist_edges[f].tolist(), "counts": result.hist_counts[f].tolist()}
            if alive else None,
            facts=facts, frames=frames, steering=steering.get(f), related=related[f],
            map_xy=(float(map_xy[f, 0]), float(map_xy[f, 1])) if map_xy is not None and alive else None))
    clusters = [Cluster(c, name, np.flatnonzero(result.cluster == c).tolist())
                for c, name in enumerate(result.cluster_names)]

    sweep = read_sweep(cfg.sweep) if cfg.sweep else _found_sweep(cfg.interpret.parent)
    s = result.summary
    agent_manifest = rec.manifest.get("agent", {}).get("manifest", {})
    metrics: dict[str, float | None] = {"live_features": s.n_live,
                                        "labeled_fraction": s.features.labels.labeled_fraction,
                                        "neuron_labeled_fraction": s.neurons.labels.labeled_fraction}
    agent_score = agent_manifest.get("training_eval", {}).get("mean_score")
    game = rec.manifest["game"]
    summary = RunSummary(
        title=cfg.title or f"rlsae: {sae_folder.name} on {game}",
        agent=AgentInfo(game, int(agent_manifest.get("step", 0)),
                        evaluation.score_clean if evaluation and evaluation.played else agent_score,
                        str(agent_manifest.get("algorithm", ""))),
        sae=SAEInfo(int(rec.manifest["d_act"]), result.d_sae, sae_cfg.get("k"),
                    _architecture(sae_cfg), rec.manifest["layer"]),
        metrics=metrics, fidelity=described(evaluation) if evaluation else [], training_curves=curves,
        curve_names=LOG_NAMES,
        density_sample=f"the {s.n_states:,} states from {s.n_episodes} episodes analysed by interpret",
        action_names=list(game_spec(game).action_names), player=game_spec(game).player,
        frame_size=game_spec(game).frame_size, sweep=sweep, output=rec.output,
        label_comparison={"neurons": s.neurons.readability(), "features": s.features.readability()},
        explain_rule=s.explain_rule if s.features.explanations is not None else "",
        notes=_notes(s), headlines=_headlines(s),
        found_again=described(s.found_again) if s.found_again else [],
        found_threshold=s.found_again.threshold if s.found_again else None,
        provenance={"sae": str(sae_folder), "recording": manifest["recording"], "interpret": str(cfg.interpret),
                    "evaluation": str(evaluation_file) if evaluation else None,
                    "steering": [str(p) for p in cfg.steering], "states analysed": s.n_states,
                    **({"other seed's SAE": s.found_again.other_sae} if s.found_again else {}),
                    "interpret commit": manifest.get("provenance", {}).get("commit")})
    track = load_track_view(cfg.track, sae_folder, result.d_sae) if cfg.track else None
    return BrowserData(summary, features, clusters, track)


def _place_field(result: InterpretResult, feature: int) -> PlaceField | None:
    """The feature's mean held-out activation per tile of the player's position (analysis/place.py)."""
    if result.place_mean is None:
        return None
    grid = result.place_mean[feature]
    info = result.place_information[feature] if result.place_information is not None else np.nan
    return PlaceField([[None if np.isnan(v) else round(float(v), 4) for v in row] for row in grid],
                      None if np.isnan(info) else float(info), "spatial information (bits per unit of activation)")


def _other_seed(result: InterpretResult, feature: int) -> OtherSeed | None:
    """The feature's match in the other seed's SAE (``interpret --other-sae``; analysis/seed_match.py)."""
    if result.other_seed_cosine is None or result.summary.found_again is None:
        return None
    cosine = float(result.other_seed_cosine[feature])
    matched = int(result.other_seed_matched[feature]) if result.other_seed_matched is not None else -1
    matched_cosine = result.other_seed_matched_cosine[feature] if matched >= 0 else np.nan
    return OtherSeed(int(result.other_seed_nearest[feature]), cosine,
                     cosine >= result.summary.found_again.threshold, matched,
                     None if np.isnan(matched_cosine) else float(matched_cosine))


def _unit_context(rec: Recording, result: InterpretResult, sae_folder: Path,
                  rows: np.ndarray) -> tuple[StepFacts, sp.csr_matrix | None, list[dict[str, Any]], np.ndarray | None]:
    """The facts of ``rows``, the SAE's codes on them, each feature's related units and the feature map.

    The SAE is optional (an interpret folder copied alone still builds); without it: no map, no activation
    curves under the clips, no related units.
    """
    step_facts = StepFacts(rec, rows)
    if not sae_folder.is_dir():
        return step_facts, None, [{} for _ in range(result.d_sae)], None
    sae = load_sae(sae_folder)
    codes = sparse_codes(sae, rec, rows)
    decoder, sample = sae.W_dec.detach().numpy(), codes[np.searchsorted(rows, result.states)]
    cofired = cofiring(sample)  # one d x d product, read by the related lists and the map
    related = related_units(cofired, decoder, sae.W_enc.detach().numpy())
    return step_facts, codes, related, feature_layout(cofired[1], result.alive, feature_map(decoder))


def _found_sweep(folder: Path) -> Sweep | None:
    """The sweep beside the interpret folder, if any; one this rlsae cannot read is left out with a note (it was
    not asked for, so it does not stop the browser)."""
    if not (folder / SWEEP_JSON).is_file():
        return None
    try:
        return read_sweep(folder)
    except UserError as err:
        print(f"note: the sweep beside the interpret output is left out: {err}")
        return None


def read_sweep(folder: Path) -> Sweep:
    """The sweep's plot and, per arm, the numbers that test "dead features predict skill": Spearman's rho of
    the agent's score on the live-feature count and the quadratic fit the paper reports, with p-values."""
    result = SweepResult.load(folder / SWEEP_JSON)
    numbers: dict[str, float | None] = {}
    agents = {}
    for arm, stats in result.statistics.items():
        fit = stats.get("score_on_live", {})
        agents[arm] = fit.get("n", 0)
        for key, name in (("spearman", "Spearman rho (score, live features)"), ("spearman_p", "Spearman p-value"),
                          ("quadratic_r2", "quadratic fit R\u00b2"), ("quadratic_p", "quadratic fit p-value (F-test)"),
                          ("quadratic_peak", "fit's peak (live features)")):
            numbers[f"{arm} SAE: {name}"] = fit.get(key)
    plot = folder / SWEEP_PNG
    counts = ", ".join(f"{arm} SAE {n} agents" for arm, n in agents.items())
    return Sweep(plot if plot.is_file() else None, numbers,
                 f"{result.verdict} From {folder / SWEEP_JSON} ({counts}); a dash: too few agents for that number.")


def _architecture(sae_cfg: dict[str, Any]) -> str:
    return architecture_name(sae_cfg)


def _notes(s: InterpretSummary) -> str:
    parts = [f"{s.n_states:,} states from {s.n_episodes} episodes; "
             f"{s.n_live}/{s.n_features} features live, {s.features.labels.n_labeled} labeled "
             f"(label rule: {s.label_rule}) vs {s.neurons.labels.n_labeled}/{s.neurons.labels.n_units} "
             "live neurons."]
    return " ".join(parts)


def _headlines(s: InterpretSummary) -> list[Headline]:
    """The best feature for each of the game's headline facts, with the held-out sample behind its scores."""
    return [Headline(h.title, h.feature.unit, h.feature.fact, h.feature.description, h.feature.scores.precision,
                     h.feature.scores.recall, int(h.feature.scores.firings))
            for h in s.headlines if h.feature is not None]


def browse(cfg: BrowseConfig) -> tuple[Path, float]:
    """Build and export the browser; returns the path of index.html and the seconds taken."""
    start = time.perf_counter()
    bench = read_steer_bench(cfg.steer_bench) if cfg.steer_bench is not None else None  # a bad folder fails first
    index = export_browser(build_browser_data(cfg), cfg.out)
    if bench is not None and cfg.steer_bench is not None:
        write_steer_bench(bench, cfg.steer_bench, cfg.out)
    return index, time.perf_counter() - start


def main(cfg: BrowseConfig) -> None:
    """The CLI: build the browser and say where it is."""
    index, seconds = browse(cfg)
    print(f"browser written in {seconds:.1f} s: open {index.resolve()}")


def read_steer_bench(folder: Path) -> SteerBenchRun:
    """The benchmark in ``folder`` (a one-line error when there is none)."""
    require((Path(folder) / STEER_BENCH).is_file(), f"--steer-bench '{folder}': no {STEER_BENCH} there (written by "
            "`rlsae steer-bench`)")
    return SteerBenchRun.load(Path(folder) / STEER_BENCH)


def write_steer_bench(bench: SteerBenchRun, folder: Path, out: Path) -> None:
    """data/steer_bench.js for assets/steer_bench.js, and the benchmark's picture beside it."""
    data = bench.to_json()
    if (Path(folder) / PICTURE).is_file():
        write_bytes(out / "data" / PICTURE, (Path(folder) / PICTURE).read_bytes())
        data["picture"] = f"data/{PICTURE}"
    write_bytes(out / "data" / "steer_bench.js", f"RLSAE.setSteerBench({json.dumps(data)});\n".encode())
