"""Game-agnostic helpers for facts that look along an episode: the previous step, the next N steps.

Arrays hold one row per agent step, episodes contiguous and in play order (as ``decode_facts`` receives
them); nothing looks across an episode boundary.
"""

from __future__ import annotations

import numpy as np

from rlsae.common.errors import UserError


def episode_array(episode_ids: np.ndarray | None, n: int) -> np.ndarray:
    """``episode_ids`` as an int array of ``n`` steps (all one episode when None)."""
    episodes = np.zeros(n, np.int64) if episode_ids is None else np.asarray(episode_ids)
    if episodes.shape != (n,):
        raise UserError(f"episode_ids has shape {episodes.shape}, but there are {n} steps; "
                        "give one episode id per step")
    return episodes


def same_episode_as_next(episodes: np.ndarray) -> np.ndarray:
    """[n - 1] True where step t + 1 belongs to step t's episode."""
    return episodes[1:] == episodes[:-1]


def previous_delta(values: np.ndarray, episodes: np.ndarray) -> np.ndarray:
    """values[t] - values[t - 1] inside an episode; 0 at each episode's first step."""
    out = np.zeros_like(values)
    same = same_episode_as_next(episodes)
    out[1:] = np.where(same, values[1:] - values[:-1], 0)
    return out


def within_next(event: np.ndarray, episodes: np.ndarray, horizon: int, first: int = 0) -> np.ndarray:
    """True at step t when ``event`` holds at some step in [t + first, t + horizon) of t's episode.

    ``event[t]`` marks something that happens between step t and t + 1 (first=0) or at step t (first=1
    for strictly later steps).
    """
    n = len(event)
    same = same_episode_as_next(episodes)
    ends = np.append(np.flatnonzero(~same), n - 1)
    idx = np.arange(n)
    end = ends[np.searchsorted(ends, idx)] + 1
    start = np.minimum(idx + first, end)
    stop = np.minimum(idx + horizon, end)
    csum = np.concatenate([[0], np.cumsum(event)])
    return csum[np.maximum(stop, start)] - csum[start] > 0


def value_after(values: np.ndarray, episodes: np.ndarray, steps: int) -> np.ndarray:
    """values[t + steps], or the episode's last value where the episode ends sooner."""
    n = len(values)
    same = same_episode_as_next(episodes)
    ends = np.append(np.flatnonzero(~same), n - 1)
    idx = np.arange(n)
    return values[np.minimum(idx + steps, ends[np.searchsorted(ends, idx)])]
