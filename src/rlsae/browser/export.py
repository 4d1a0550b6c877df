"""Write a :class:`BrowserData` as a static folder that opens from disk (``file://``, no server).

    out_dir/
      index.html            the page (a copy of static/index.html with the run's title)
      assets/               the page's scripts (charts.js, common.js, the pages' files, browser.js) and browser.css,
                            copied from the package's static folder
      data/summary.js       run summary, clusters, action names
      data/features.js      the feature list: one compact row per feature
      data/frames.js        the frame table: per frame [sheet URL number, tile index, tiles in the sheet,
                            player x, player y]; features name frames by their number in it
      data/f/<id>.js        one feature's details, loaded on demand by an injected <script>
      data/track.js         the features' lineage across checkpoints (built with `browse --track`), on demand
      frames/<hash>.<ext>   images and sheets of frames, named by content hash, so each is stored once
      media/<hash>.<ext>    steering GIFs and other copied files
      manifest.json         what was exported, by what

Data files are JavaScript (``RLSAE.summary = {...};``), not JSON, because a page opened from disk
may not fetch() files in Chromium, but it may load scripts.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.analysis.explain import ExplanationScores
from rlsae.analysis.labels import LABEL_SCORES, LabelScores
from rlsae.browser.data import BrowserData, Clip, Feature, FrameItem, FrameSource, ImageSource, Tile, log10_density
from rlsae.common.errors import UserError
from rlsae.common.files import write_bytes, write_json
from rlsae.common.outputs import check_output_folder
from rlsae.common.records import declared
from rlsae.common.runtime import provenance
from rlsae.config import require

STATIC_FILES = ("charts.js", "common.js", "map.js", "summary.js", "list.js", "frames.js", "feature.js", "clusters.js",
                "track.js", "steer_bench.js", "browser.js", "browser.css")
LIST_COLUMNS = ["id", "alive", "density", "max_activation", "label", *LABEL_SCORES, "explanation", "explained",
                "explanation_f1", "found_cosine", "cluster_id", "top_action", "bottom_action", "facts", "map_xy"]
IO_THREADS = 8
_MAGIC = [(b"\x89PNG", "png"), (b"GIF8", "gif"), (b"\xff\xd8\xff", "jpg")]


def encode_png(frame: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of an ``H x W x 3`` (or ``H x W``) uint8 frame (~0.7 ms for a 210x160 Atari frame)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(buffer, "PNG",
                                                                      compress_level=compress_level)
    return buffer.getvalue()


def _image_extension(data: bytes, origin: str) -> str:
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise UserError(f"{origin}: not a PNG, WebP, GIF or JPEG image; pass encoded bytes, an image path "
                    "or an H x W x 3 uint8 array")


def _parallel(fn: Any, jobs: list[Any], workers: int = IO_THREADS) -> list[Any]:
    """``[fn(job) for job in jobs]`` on threads: file creation waits on the disk, not the CPU."""
    if len(jobs) < 64:
        return [fn(job) for job in jobs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, jobs, chunksize=64))


class _MediaStore:
    """Content-addressed image/file writer: the same content is written (and encoded) once."""

    def __init__(self, out_dir: Path, compress_level: int) -> None:
        self.out_dir = out_dir
        self.compress_level = compress_level
        self.seen: dict[str, str] = {}
        self.arrays: dict[int, str] = {}  # id(array or bytes) -> stored name; they outlive the export
        self.pending: list[tuple[Path, bytes]] = []
        self.written = 0

    def _store(self, data: bytes, folder: str, ext: str) -> str:
        """Name the content and queue it for writing (see :meth:`flush`); return its relative URL."""
        key = f"{folder}/{hashlib.blake2b(data, digest_size=10).hexdigest()}.{ext}"
        if key not in self.seen:
            self.seen[key] = key
            self.pending.append((self.out_dir / key, data))
        return key

    def flush(self) -> None:
        """Write the queued files that are not on disk yet (content-named, so present means right)."""
        def write(job: tuple[Path, bytes]) -> int:
            if job[0].exists():
                return 0
            write_bytes(*job)
            return 1

        self.written += sum(_parallel(write, self.pending))
        self.pending.clear()

    def encode_arrays(self, arrays: list[tuple[np.ndarray, str]], workers: int) -> None:
        """Encode (array, origin) pairs to PNG on ``workers`` threads (Pillow releases the GIL)."""
        for array, origin in arrays:
            require(array.dtype == np.uint8 and array.ndim in (2, 3),
                    f"{origin}: image arrays must be H x W (x 3) uint8, got {array.dtype} {array.shape}")
        todo = [a for a, _ in arrays if id(a) not in self.arrays]
        with ThreadPoolExecutor(max(1, workers)) as pool:
            encoded = pool.map(lambda a: encode_png(a, self.compress_level), todo, chunksize=64)
            for array, png in zip(todo, encoded):
                self.arrays[id(array)] = self._store(png, "frames", "png")

    def image(self, source: ImageSource, origin: str) -> str:
        """Relative URL of the stored image."""
        if isinstance(source, np.ndarray):
            if id(source) not in self.arrays:
                self.encode_arrays([(source, origin)], 1)
            return self.arrays[id(source)]
        if isinstance(source, (str, Path)):
            data = self._read(Path(source), origin)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            # a sheet is shared by many tiles: name it once, not once per tile
            if id(source) not in self.arrays:
                data = bytes(source)
                self.arrays[id(source)] = self._store(data, "frames", _image_extension(data, origin))
            return self.arrays[id(source)]
        else:
            raise UserError(f"{origin}: unsupported image type {type(source).__name__}")
        return self._store(data, "frames", _image_extension(data, origin))

    def file(self, path: Path, origin: str) -> str:
        data = self._read(Path(path), origin)
        ext = Path(path).suffix.lstrip(".").lower() or "bin"
        return self._store(data, "media", ext)

    @staticmethod
    def _read(path: Path, origin: str) -> bytes:
        try:
            return path.read_bytes()
        except OSError as e:
            raise UserError(f"{origin}: cannot read {path}: {e.strerror}") from e


_PLAIN = (int, float, str, type(None))  # exactly these types (not bool, not numpy): JSON-ready but for floats


def _clean(value: Any, digits: int = 6) -> Any:
    """JSON-ready copy: numpy types to Python, floats rounded, NaN/inf to None, paths to strings."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v, digits) for k, v in value.items()}
    if isinstance(value, list) and all(type(v) in _PLAIN for v in value):  # the bulk: clips, frame table rows
        return [(float(f"{v:.{digits}g}") if math.isfinite(v) else None) if type(v) is float else v for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist(), digits)
    if isinstance(value, (list, tuple)):
        return [_clean(v, digits) for v in value]
    if is_dataclass(value):
        return _clean({f.name: getattr(value, f.name) for f in fields(value)}, digits)
    raise UserError(f"cannot export a value of type {type(value).__name__}: {value!r:.80}")


def _js(assignment: str, payload: Any) -> bytes:
    return (f"{assignment}" + json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            + ");\n").encode()


def _argmax(values: list[float], sign: float) -> int | None:
    if not values or not any(v * sign > 0 for v in values):
        return None
    return int(np.argmax(np.asarray(values, dtype=float) * sign))


def _label_scores(f: Feature) -> dict[str, float | None]:
    return asdict(f.label_scores) if f.label_scores is not None else dict.fromkeys(LABEL_SCORES)


def _list_row(f: Feature) -> list[Any]:
    return [f.id, f.alive, f.density, f.max_activation, f.label, *_label_scores(f).values(), f.explanation,
            f.explained, f.explanation_scores.f1 if f.explanation_scores is not None else None,
            f.other_seed.cosine if f.other_seed is not None else None, f.cluster_id,
            _argmax(f.advantage_effect, 1.0), _argmax(f.advantage_effect, -1.0),
            " ".join(fact.fact for top in f.facts for fact in [top, *top.variants]), f.map_xy]  # fact names: searched


class _FrameTable:
    """Numbers the distinct frames (by identity) and their sheets, for data/frames.js."""

    def __init__(self, media: _MediaStore) -> None:
        self.media = media
        self.ids: dict[int, int] = {}
        self.rows: list[list[Any]] = []
        self.sheets: dict[str, int] = {}
        self.clips: dict[int, list[int]] = {}  # id(list of frames) -> frame numbers: clips share their lists

    def frame(self, source: FrameSource, position: tuple[float, float] | None, origin: str) -> int:
        if id(source) in self.ids:
            return self.ids[id(source)]
        sheet, index, count = ((source.sheet, source.index, source.count) if isinstance(source, Tile)
                               else (source, 0, 1))
        url = self.media.image(sheet, origin)
        x, y = position if position is not None else (None, None)
        self.ids[id(source)] = len(self.rows)
        self.rows.append([self.sheets.setdefault(url, len(self.sheets)), index, count, x, y])
        return self.ids[id(source)]

    def clip(self, clip: Clip, origin: str) -> dict[str, Any]:
        if id(clip.frames) not in self.clips:
            positions = clip.positions or [None] * len(clip.frames)
            self.clips[id(clip.frames)] = [self.frame(s, p, origin) for s, p in zip(clip.frames, positions)]
        return {"frames": self.clips[id(clip.frames)], "activations": clip.activations, "centre": clip.centre}

    def item(self, item: FrameItem, origin: str) -> dict[str, Any]:
        return {"frame": self.frame(item.image, item.position, origin), "activation": item.activation,
                "step": item.step, "caption": item.caption,
                "clip": None if item.clip is None else self.clip(item.clip, origin)}


def _feature_detail(f: Feature, media: _MediaStore, table: _FrameTable) -> dict[str, Any]:
    origin = f"feature {f.id}"
    frames = [{"title": group.title, "items": [table.item(item, f"{origin}, frame group {group.title!r}")
                                               for item in group.items]}
              for group in f.frames]
    steering = None
    if f.steering is not None:
        s = f.steering
        steering = {"mode": s.mode, "strength": s.strength, "tv_distance": s.tv_distance,
                    "score_clean": s.score_clean, "score_steered": s.score_steered,
                    "action_clean": s.action_clean, "action_steered": s.action_steered, "note": s.note,
                    "heatmap": None if s.heatmap is None else media.image(s.heatmap, f"{origin} heatmap"),
                    "gif": None if s.gif is None else media.file(s.gif, f"{origin} steering gif")}
    return {"id": f.id, "alive": f.alive, "density": f.density, "max_activation": f.max_activation,
            "label": f.label, "label_scores": None if f.label_scores is None else asdict(f.label_scores),
            "explanation": f.explanation, "explained": f.explained,
            "explanation_scores": None if f.explanation_scores is None else asdict(f.explanation_scores),
            "place_field": f.place_field, "other_seed": f.other_seed,
            "region": f.region,
            "related": {title: [[r.kind, r.unit, r.value] for r in units] for title, units in f.related.items()},
            "cluster_id": f.cluster_id,
            "cluster_name": f.cluster_name, "action_effect": f.action_effect, "advantage_effect": f.advantage_effect,
            "value_shift": f.value_shift, "value_effect": f.value_effect, "histogram": f.histogram,
            "facts": [asdict(fact) for fact in f.facts], "frames": frames, "steering": steering}


def _arrays(features: list[Feature]) -> list[tuple[np.ndarray, str]]:
    """Every distinct (by identity) image array in the features, with where it came from."""
    found: dict[int, tuple[np.ndarray, str]] = {}
    for f in features:
        items = [item for group in f.frames for item in group.items]
        frames = [*(item.image for item in items), *(s for item in items if item.clip for s in item.clip.frames)]
        sources = [s.sheet if isinstance(s, Tile) else s for s in frames]
        if f.steering is not None:
            sources.append(f.steering.heatmap)
        for source in sources:
            if isinstance(source, np.ndarray):
                found.setdefault(id(source), (source, f"feature {f.id}"))
    return list(found.values())


def export_browser(data: BrowserData, out_dir: Path, *, png_compress_level: int = 3,
                   workers: int | None = None) -> Path:
    """Write the static browser for ``data`` into ``out_dir``; return the path of ``index.html``.

    Images given as arrays are PNG-encoded on ``workers`` threads (default: one per core, at most 8)
    at ``png_compress_level`` (0-9; 3 is ~2x faster than 6, ~1.5x larger); encoded bytes and
    image files are written as is. Re-exporting into the same folder overwrites the page and data;
    images from earlier exports stay (they are named by content, so they are never wrong).
    """
    data.validate()
    out_dir = Path(out_dir)
    check_output_folder(out_dir, "browser")  # never write over another command's output
    start = time.perf_counter()
    for sub in ("assets", "data/f", "frames", "media"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    media = _MediaStore(out_dir, png_compress_level)

    features = sorted(data.features, key=lambda f: f.id)
    media.encode_arrays(_arrays(features), workers or min(8, os.cpu_count() or 1))
    table = _FrameTable(media)
    feature_files = [(out_dir / "data" / "f" / f"{f.id}.js",
                      _js("RLSAE.receiveFeature(", _clean(_feature_detail(f, media, table)))) for f in features]
    write_bytes(out_dir / "data" / "frames.js", _js("RLSAE.setFrames(", _clean(
        {"sheets": list(table.sheets), "frames": table.rows}, digits=5)))

    s = data.summary
    density_log10 = (s.density_log10 if s.density_log10 is not None
                     else [log10_density(f.density) for f in features])
    summary = {
        "title": s.title, "notes": s.notes, "agent": s.agent, "sae": s.sae, "metrics": s.metrics,
        "fidelity": s.fidelity, "label_scores": declared(LabelScores), "action_names": s.action_names,
        "explanation_scores": declared(ExplanationScores), "explain_rule": s.explain_rule,
        "density_log10": density_log10,
        "density_sample": s.density_sample, "player": s.player, "frame_size": s.frame_size, "output": s.output,
        "sweep": None if s.sweep is None else {
            "plot": None if s.sweep.plot is None else media.image(s.sweep.plot, "sweep plot"),
            "numbers": s.sweep.numbers, "note": s.sweep.note},
        "training_curves": s.training_curves, "curve_names": s.curve_names, "label_comparison": s.label_comparison,
        "provenance": s.provenance, "n_features": len(features), "headlines": s.headlines,
        "found_again": s.found_again, "found_threshold": s.found_threshold,
        "clusters": [{"id": c.id, "name": c.name, "members": sorted(c.members)} for c in data.clusters],
        "track": None if data.track is None else "data/track.js",
    }
    if data.track is not None:
        write_bytes(out_dir / "data" / "track.js", _js("RLSAE.setTrack(", _clean(data.track)))
    write_bytes(out_dir / "data" / "summary.js", _js("RLSAE.setSummary(", _clean(summary)))
    rows = {"columns": LIST_COLUMNS, "rows": [_list_row(f) for f in features]}
    write_bytes(out_dir / "data" / "features.js", _js("RLSAE.setFeatures(", _clean(rows, digits=5)))
    # `rlsae browse --steer-bench` replaces it with a benchmark (rlsae.browser.build.write_steer_bench)
    write_bytes(out_dir / "data" / "steer_bench.js", b"RLSAE.setSteerBench(null);\n")

    media.flush()
    _parallel(lambda job: write_bytes(*job), feature_files)
    static = resources.files("rlsae") / "browser" / "static"
    for name in STATIC_FILES:
        write_bytes(out_dir / "assets" / name, (static / name).read_bytes())
    write_json(out_dir / "manifest.json", {
        "kind": "rlsae-browser", "n_features": len(features), "n_clusters": len(data.clusters),
        "images_written": media.written, "distinct_images": len(set(media.seen.values())),
        "export_seconds": round(time.perf_counter() - start, 3), "provenance": provenance()})
    page = (static / "index.html").read_text().replace("__TITLE__", html.escape(s.title))
    index = out_dir / "index.html"
    write_bytes(index, page.encode())  # last: a folder with index.html is a complete export
    return index

