"""Re-render recorded states as PNGs for the browser, each distinct state once, on several processes.

Rendering replays the game from the nearest emulator snapshot, so it costs ~1-2 ms a state and is the
bulk of a browser export; states are grouped by episode (one replay pass per stretch of game) and the
episodes shared out to worker processes, which also PNG-encode.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from rlsae.browser.export import encode_png
from rlsae.common.progress import ProgressBar
from rlsae.record.recording import Recording

JOB_STATES = 256  # states per job: small enough to balance the workers, large enough to replay in runs
_worker_recording: Recording | None = None


def _render(path: str, indices: np.ndarray, compress_level: int) -> list[bytes]:
    global _worker_recording
    if _worker_recording is None or str(_worker_recording.path) != path:
        _worker_recording = Recording.open(path)
    return [encode_png(frame, compress_level) for frame in _worker_recording.render_frames(indices)]


def _jobs(rec: Recording, indices: np.ndarray) -> list[np.ndarray]:
    """Split ``indices`` into jobs of about JOB_STATES states that keep each episode's states together."""
    order = np.lexsort((rec.episode_steps[indices], rec.episode_ids[indices]))
    ordered = indices[order]
    episodes = rec.episode_ids[ordered]
    cuts = [0]
    for boundary in np.flatnonzero(episodes[1:] != episodes[:-1]) + 1:
        if boundary - cuts[-1] >= JOB_STATES:
            cuts.append(int(boundary))
    return [ordered[a:b] for a, b in zip(cuts, [*cuts[1:], len(ordered)]) if b > a]


def render_pngs(rec: Recording, indices: np.ndarray, workers: int = 2, compress_level: int = 3,
                progress: bool = True) -> dict[int, bytes]:
    """PNG bytes of each distinct recording index in ``indices``."""
    unique = np.unique(np.asarray(indices, np.int64))
    if unique.size == 0:
        return {}
    jobs = _jobs(rec, unique)
    bar = ProgressBar(total=len(unique), desc="rendering frames", unit="frame", disable=not progress)
    out: dict[int, bytes] = {}
    path = str(rec.path)
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            out.update(zip(job.tolist(), _render(path, job, compress_level)))
            bar.update(len(job))
    else:
        # fork: workers start in milliseconds, without re-importing torch
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [(job, pool.submit(_render, path, job, compress_level)) for job in jobs]
            for job, future in futures:
                out.update(zip(job.tolist(), future.result()))
                bar.update(len(job))
    bar.close()
    return out

