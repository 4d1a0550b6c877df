"""`rlsae track`: follow SAE features across an agent's checkpoints.

Reads a series of SAEs trained on the same layer at successive checkpoints (a folder of SAE folders, or a
`rlsae sweep` output, where ``--arm`` picks ``<checkpoint>/<arm>/sae``), matches each SAE's features to the
previous one's (:mod:`rlsae.analysis.track`) and writes the lineage. Features are matched by the correlation of
their activations on the same states (``--match codes``, the default: states recorded by each of the two
checkpoints' agents, fed to both agents, each agent's layer encoded by its own SAE), or by decoder cosine. In a
sweep output each checkpoint's explanations (its interpret output) go with its features, so a timeline says what
a feature meant at each stage:

    out/track.json   the Lineage record: every feature's ancestor, birth checkpoint, splits and merges
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlsae.analysis.track import Lineage, trace_codes, trace_decoders
from rlsae.common.errors import UserError
from rlsae.common.files import read_json
from rlsae.common.progress import ProgressBar
from rlsae.config import option, require
from rlsae.sae.io import CFG, load_log10_density, load_sae, read_sae_config, sae_metadata
from rlsae.stages import INTERPRET, TRAIN_SAE
from rlsae.sweep import ARMS

TRACK_JSON = "track.json"
MATCHES = {"decoder": "decoder cosine", "codes": "activations' correlation on shared states"}


@dataclass
class TrackConfig:
    series: Path = option(Path("runs/sweep"), "a folder of SAE folders, or a `rlsae sweep` output folder")
    arm: str = option("default", "in a sweep output, the arm whose SAEs are tracked", choices=list(ARMS))
    match: str = option("codes", "how features are matched: " + "; ".join(f"{k}: {v}" for k, v in MATCHES.items()),
                        choices=list(MATCHES))
    states: int = option(4000, "with --match codes: states per checkpoint pair, half from each one's recording")
    seed: int = option(1, "with --match codes: seed for the states drawn")
    out: Path = option(Path("runs/track"), "output folder (track.json)")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.series, self.out = Path(self.series), Path(self.out)
        require(self.states >= 2, f"--states must be >= 2, got {self.states}")


@dataclass(frozen=True)
class SeriesSAE:
    name: str
    folder: Path
    step: int | None
    """The agent step its recording was made at, when known."""
    interpret: Path | None = None
    """Its ``rlsae interpret`` output, in a sweep output."""


def _recording_step(metadata: dict[str, Any]) -> int | None:
    """The agent step in the manifest of the recording the SAE was trained on, if that is still there."""
    recording = metadata.get("recording")
    manifest = Path(recording) / "manifest.json" if isinstance(recording, str) else None
    if manifest is None or not manifest.is_file():
        return None
    try:
        step = read_json(manifest, "recording manifest").get("agent", {}).get("manifest", {}).get("step")
    except (UserError, AttributeError):
        return None
    return step if isinstance(step, int) else None


def agent_step(folder: Path) -> int | None:
    """The agent step an SAE was trained at: its cfg.json's ``agent_step`` (train-sae writes it), else its
    recording's; None when neither says."""
    metadata = read_sae_config(folder).get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    step = metadata.get("agent_step")
    return step if isinstance(step, int) else _recording_step(metadata)


def series_saes(series: Path, arm: str) -> list[SeriesSAE]:
    """The SAEs of ``series`` in checkpoint order: by agent step when every SAE knows it, else by name."""
    if not series.is_dir():
        raise UserError(f"--series '{series}' is not a folder (give a folder of SAE folders or a sweep output)")
    children = sorted(p for p in series.iterdir() if p.is_dir())
    folders = {p.name: p for p in children if (p / CFG).is_file()}
    interpreted: dict[str, Path] = {}
    if not folders:  # a sweep output: <checkpoint>/<arm>/sae
        folders = {p.name: TRAIN_SAE.path(p / arm) for p in children if TRAIN_SAE.done(p / arm)}
        interpreted = {p.name: INTERPRET.path(p / arm) for p in children if INTERPRET.done(p / arm)}
    saes = [SeriesSAE(name, folder, agent_step(folder), interpreted.get(name)) for name, folder in folders.items()]
    if len(saes) < 2:
        raise UserError(f"--series '{series}' holds {len(saes)} SAE(s) (folders with {CFG}, or a sweep's "
                        f"<checkpoint>/{arm}/{TRAIN_SAE.folder}); tracking needs at least 2")
    if all(s.step is not None for s in saes):
        saes.sort(key=lambda s: (s.step, s.name))
    return saes


def live_features(folder: Path) -> list[int] | None:
    """The features that fired on the SAE's held-out states (its sparsity file), or None without one."""
    log10 = load_log10_density(folder)
    # The sparsity file writes log10(1e-10) for a latent that never fired.
    return None if log10 is None else [int(i) for i in (log10 > -10).nonzero().flatten()]


def shared_init(saes: list[SeriesSAE]) -> int | None:
    """The seed all of ``saes`` drew their fresh decoders from, when they share one (None otherwise): their
    decoders then start alike, and at short training they stay close to that start (a trained row of the sweep's
    SAEs keeps median cosine 0.86 with its initial row, BENCHMARKS.md), so decoder cosine sees the shared start."""
    trained = [sae_metadata(s.folder).get("rlsae", {}).get("config", {}) for s in saes]
    if not all(isinstance(c, dict) and c.get("init_from") is None for c in trained):
        return None
    seeds = {c.get("seed") for c in trained}
    return next(iter(seeds)) if len(seeds) == 1 and None not in seeds else None


def explanations(sae: SeriesSAE) -> list[str | None]:
    """Each feature's explanation where it passes interpret's rule; empty without an interpret output."""
    if sae.interpret is None:
        return []
    from rlsae.analysis.results import load_result

    found = load_result(sae.interpret).explanations
    return [text if ok else None for text, ok in zip(found.formula, found.explained.tolist())]


def _recording(sae: SeriesSAE) -> Any:
    from rlsae.record import Recording

    named = sae_metadata(sae.folder).get("recording")
    if not isinstance(named, str) or not Path(named).is_dir():
        raise UserError(f"SAE '{sae.folder}' names no recording that is still there ({named!r}): --match codes "
                        "feeds each checkpoint's recorded states to its agent; use --match decoder without them")
    return Recording.open(named)


@dataclass(frozen=True)
class CheckpointReader:
    """One checkpoint of the series, loaded once: its recording, and its agent and SAE to encode frame stacks."""

    recording: Any
    agent: torch.nn.Module
    sae: torch.nn.Module

    @classmethod
    def of(cls, sae: SeriesSAE) -> CheckpointReader:
        recording = _recording(sae)
        return cls(recording, recording.agent().model, load_sae(sae.folder))

    def codes(self, obs: np.ndarray) -> np.ndarray:
        """The SAE's codes of its agent's recorded layer on the frame stacks ``obs``."""
        from rlsae.record.recorder import layer_forward

        layer = self.recording.manifest["layer"]
        with torch.no_grad():
            acts = torch.cat([layer_forward(self.agent, layer, obs[i:i + 512], "cpu")[0].flatten(1)
                              for i in range(0, len(obs), 512)])
            return self.sae.encode(acts).numpy()


def pair_codes(a: CheckpointReader, b: CheckpointReader, states: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Both SAEs' codes on the same frame stacks: ``states`` // 2 drawn from each one's recording, fed to each
    checkpoint's own agent, its layer encoded by its own SAE."""
    rng = np.random.default_rng(seed)
    recordings = (a.recording, b.recording)
    halves = [rng.choice(len(r), min(len(r), states // 2), replace=False) for r in recordings]
    obs = np.concatenate([r.observations(np.sort(i)) for r, i in zip(recordings, halves)])
    return a.codes(obs), b.codes(obs)


def run_track(cfg: TrackConfig) -> tuple[list[SeriesSAE], Lineage]:
    """The series' SAEs in order and their lineage, saved to ``cfg.out``/track.json."""
    saes = series_saes(cfg.series, cfg.arm)
    said = [explanations(s) for s in saes]
    names = [s.name for s in saes]
    if cfg.match == "codes":
        readers = [CheckpointReader.of(s) for s in saes]  # a middle checkpoint serves two pairs
        pairs = ProgressBar(list(zip(readers, readers[1:])), desc="track: codes on shared states", unit="pair",
                            disable=not cfg.progress)
        lineage = trace_codes(names, [pair_codes(a, b, cfg.states, cfg.seed) for a, b in pairs], explanations=said)
    else:
        decoders = []
        for sae in ProgressBar(saes, desc="track: loading SAEs", unit="SAE", disable=not cfg.progress):
            weights = load_sae(sae.folder).W_dec.detach()
            if decoders and weights.shape[1] != decoders[0].shape[1]:
                raise UserError(f"--series '{cfg.series}': SAE '{sae.folder}' reads {weights.shape[1]} inputs but "
                                f"'{saes[0].folder}' reads {decoders[0].shape[1]}: track SAEs of one layer")
            decoders.append(weights)
        lineage = trace_decoders(names, decoders, explanations=said)
    cfg.out.mkdir(parents=True, exist_ok=True)
    lineage.save(cfg.out / TRACK_JSON)
    return saes, lineage


def format_lineage(lineage: Lineage, saes: list[SeriesSAE], live: list[int] | None) -> str:
    order = "agent step" if all(s.step is not None for s in saes) else "folder name"
    lines = [f"{len(saes)} SAEs in {order} order: " + ", ".join(s.name for s in saes)]
    for step in lineage.steps:
        lines.append(f"  {step.before} -> {step.after}: {step.born:,} born, {step.lost:,} lost, {step.split:,} split, "
                     f"{step.merged:,} merged; {step.traced:.1%} traced ({lineage.measure} >= {lineage.threshold:g})")
    final = lineage.checkpoints[-1]
    chosen = [final.features[i] for i in live] if live is not None else final.features
    which = "live features" if live is not None else "features (no sparsity file: live ones unknown)"
    traced = sum(f.ancestor is not None for f in chosen) / max(len(chosen), 1)
    lines.append(f"{final.name}: {traced:.1%} of its {len(chosen):,} {which} have an ancestor in "
                 f"{lineage.checkpoints[-2].name}")
    return "\n".join(lines)


def main(cfg: TrackConfig) -> None:
    saes, lineage = run_track(cfg)
    seed = shared_init(saes) if cfg.match == "decoder" else None
    if seed is not None:
        print(f"note: these SAEs all started from seed {seed}'s random decoder, which decoder cosine partly sees; "
              "--match codes compares what the features do")
    print(format_lineage(lineage, saes, live_features(saes[-1].folder)))
    print(f"lineage: {cfg.out / TRACK_JSON}")

