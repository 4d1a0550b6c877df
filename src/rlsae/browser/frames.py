"""Re-render recorded states for the browser as sheets: consecutive steps of an episode in one image.

A clip (the steps around an example) needs every step in a stretch of game, and clips of many examples
overlap, so the unit of work is a block of SHEET_STEPS consecutive steps of one episode: the block is
replayed in one pass from the nearest emulator snapshot (stepping the emulator with the recorded actions,
~1-3 ms a step, where a lone state costs a snapshot restore and up to 15 replayed steps, ~10 ms) and
written as one palette PNG of its frames stacked top to bottom. Each block is rendered once, whichever
features show it; blocks are shared out to worker processes, which also encode.
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import numpy as np

from rlsae.browser.data import Tile
from rlsae.browser.export import encode_png
from rlsae.common.progress import ProgressBar
from rlsae.record.recording import Recording

SHEET_STEPS = 16  # steps per sheet: a +-8 clip spans at most two sheets
JOB_STATES = 512  # states per job: small enough to balance the workers, large enough to replay in runs
T = TypeVar("T")
_worker_recording: Recording | None = None
_palette: np.ndarray | None = None  # packed RGB -> palette index (-1: not seen yet), per process
_colours: list[int] = []


def _indexed(frames: np.ndarray) -> np.ndarray | None:
    """``frames`` [..., 3] as palette indices into ``_colours`` (None past 256 colours; Atari has 128)."""
    global _palette
    if _palette is None:
        _palette = np.full(1 << 24, -1, np.int16)
    packed = (frames[..., 0].astype(np.int32) << 16) | (frames[..., 1].astype(np.int32) << 8) | frames[..., 2]
    index = _palette[packed]
    if (index < 0).any():
        for colour in np.unique(packed[index < 0]).tolist():
            _palette[colour] = len(_colours)
            _colours.append(colour)
        if len(_colours) > 256:
            return None
        index = _palette[packed]
    return index.astype(np.uint8)


def encode_sheet(frames: np.ndarray, compress_level: int = 3) -> bytes:
    """One PNG of ``frames`` [n, H, W, 3] stacked top to bottom: palette colours where they fit (lossless,
    ~2x smaller and faster than RGB), RGB otherwise."""
    from PIL import Image

    stacked = frames.reshape(-1, *frames.shape[2:])
    index = _indexed(stacked)
    if index is None:
        return encode_png(stacked, compress_level)
    image = Image.fromarray(index, "P")
    image.putpalette([c >> shift & 255 for c in _colours for shift in (16, 8, 0)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()


def _render(path: str, blocks: list[np.ndarray], compress_level: int) -> list[bytes]:
    global _worker_recording
    if _worker_recording is None or str(_worker_recording.path) != path:
        _worker_recording = Recording.open(path)
    frames = _worker_recording.render_frames(np.concatenate(blocks))
    cuts = np.cumsum([len(b) for b in blocks])[:-1]
    return [encode_sheet(part, compress_level) for part in np.split(frames, cuts)]


def sheet_blocks(rec: Recording, indices: np.ndarray) -> list[np.ndarray]:
    """The blocks holding ``indices``: each the recording indices of SHEET_STEPS consecutive steps of one
    episode (fewer at an episode's end), in step order; blocks ordered by episode and step."""
    ids, steps = np.asarray(rec.episode_ids, np.int64), np.asarray(rec.episode_steps, np.int64)
    key = ids * (1 << 32) + steps // SHEET_STEPS
    wanted = np.unique(key[np.asarray(indices, np.int64)])
    members = np.flatnonzero(np.isin(key, wanted))
    members = members[np.lexsort((steps[members], ids[members]))]
    cuts = np.flatnonzero(np.diff(key[members]) != 0) + 1
    return np.split(members, cuts) if members.size else []


def _jobs(blocks: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Runs of blocks of about JOB_STATES states (blocks come sorted, so a run replays forward)."""
    jobs: list[list[np.ndarray]] = [[]]
    size = 0
    for block in blocks:
        if size >= JOB_STATES:
            jobs.append([])
            size = 0
        jobs[-1].append(block)
        size += len(block)
    return [job for job in jobs if job]


def render_tiles(rec: Recording, indices: np.ndarray, workers: int = 2, compress_level: int = 3,
                 progress: bool = True, meanwhile: Callable[[], T] = lambda: None) -> tuple[dict[int, Tile], T]:
    """A :class:`Tile` for each recording index in ``indices`` (and for the rest of each one's block), and what
    ``meanwhile()`` returns: it runs in this process while the workers render."""
    blocks = sheet_blocks(rec, np.unique(np.asarray(indices, np.int64)))
    jobs = _jobs(blocks)
    bar = ProgressBar(total=sum(len(b) for b in blocks), desc="rendering frames", unit="frame",
                      disable=not progress)
    out: dict[int, Tile] = {}

    def keep(job: list[np.ndarray], sheets: list[bytes]) -> None:
        for block, sheet in zip(job, sheets):
            out.update((int(g), Tile(sheet, i, len(block))) for i, g in enumerate(block))
            bar.update(len(block))

    path = str(rec.path)
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            keep(job, _render(path, job, compress_level))
        other = meanwhile()
    else:
        # fork: workers start in milliseconds, without re-importing torch
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [(job, pool.submit(_render, path, job, compress_level)) for job in jobs]
            other = meanwhile()
            for job, future in futures:
                keep(job, future.result())
    bar.close()
    return out, other
