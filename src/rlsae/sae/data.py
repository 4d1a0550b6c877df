"""Activations for SAE training and evaluation: a recording's states split by whole episodes.

The split is a pure function of the episode id, so it stays the same when a recording is appended to,
and `train-sae`, `evaluate` and `interpret` agree on which states are held out without passing lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlsae.common.errors import UserError
from rlsae.record.recording import Recording

_GOLDEN = 2654435761  # Knuth's multiplicative hash: spreads consecutive ids evenly over [0, 2^32)


def heldout_mask(episode_ids: np.ndarray, fraction: float) -> np.ndarray:
    """True for states of held-out episodes (about ``fraction`` of the episodes)."""
    ids = np.asarray(episode_ids, np.uint64)
    return ((ids * np.uint64(_GOLDEN)) % np.uint64(2**32)) < np.uint64(int(fraction * 2**32))


@dataclass
class ActivationData:
    """One split of a recording's states, in RAM: activations and the clean Q-values they produce."""

    activations: torch.Tensor  # float32 [n, d_in]
    episode_ids: np.ndarray    # [n]

    def __len__(self) -> int:
        return self.activations.shape[0]


def load_split(recording: Recording, heldout_fraction: float, heldout: bool,
               max_states: int | None = None, seed: int = 0) -> ActivationData:
    """The held-out (or training) states of ``recording``; a random subset if ``max_states`` is set."""
    mask = heldout_mask(np.asarray(recording.episode_ids), heldout_fraction)
    index = np.flatnonzero(mask if heldout else ~mask)
    if index.size == 0:
        which = "held-out" if heldout else "training"
        raise UserError(f"recording '{recording.path}' has no {which} states ({len(recording)} steps in "
                        f"{len(np.unique(np.asarray(recording.episode_ids)))} episodes, held-out fraction "
                        f"{heldout_fraction}): record more steps or change --heldout-fraction")
    if max_states is not None and index.size > max_states:
        index = np.sort(np.random.default_rng(seed).choice(index, max_states, replace=False))
    x = np.asarray(recording.activations[index], dtype=np.float32)
    check_finite_states(recording, index, x, "held-out" if heldout else "training")
    return ActivationData(torch.from_numpy(x), np.asarray(recording.episode_ids[index]))


def check_finite_states(recording: Recording, index: np.ndarray, x: np.ndarray, what: str) -> None:
    """A UserError naming the chunk and row of the first of the states ``index`` (activations ``x``)
    that holds NaN or inf: every result computed from them would be NaN."""
    bad = np.flatnonzero(~np.isfinite(x).all(1))
    if bad.size:
        step = int(index[bad[0]])
        offsets = recording.activations.offsets
        chunk = int(np.searchsorted(offsets, step, side="right")) - 1
        raise UserError(f"recording '{recording.path}': the activations of row {step - offsets[chunk]} of chunk "
                        f"'{recording.chunks[chunk].name}' (step {step}) hold NaN or inf, and {bad.size - 1} more "
                        f"of the {index.size} {what} rows: results computed from them would be NaN; re-record "
                        "those chunks")


def load_activations(path: Path) -> np.ndarray:
    """A user's activations: a 2-D float .npy array [states, d], read without unpickling anything."""
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"--activations '{path}' not found") from None
    except (ValueError, OSError) as err:
        raise UserError(f"--activations '{path}' is not a plain .npy array ({str(err).splitlines()[0]}): save it "
                        "with numpy.save from a float array") from None
    if x.ndim != 2 or x.dtype.kind != "f" or len(x) < 2:
        raise UserError(f"--activations '{path}' holds {x.dtype} {x.shape}: give a float array [states, d] with "
                        "at least 2 rows (flatten each state's activations)")
    return x


def split_rows(x: np.ndarray, heldout_fraction: float, seed: int,
               max_states: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(training rows, held-out rows) of ``x``: a seeded random ``heldout_fraction`` held out (at least one
    row each), the training rows cut to ``max_states``. Rows have no episodes to split by."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_held = min(len(x) - 1, max(1, round(heldout_fraction * len(x))))
    train, held = np.sort(order[n_held:][:max_states]), np.sort(order[:n_held])
    return (torch.from_numpy(np.asarray(x[train], np.float32)), torch.from_numpy(np.asarray(x[held], np.float32)))


def check_finite_rows(x: torch.Tensor, what: str) -> None:
    """A UserError naming the first row of ``x`` [n, d] that holds NaN or inf."""
    bad = (~torch.isfinite(x).all(1)).nonzero()
    if bad.numel():
        raise UserError(f"{what}: row {int(bad[0])} holds NaN or inf values ({bad.numel()} such rows of {len(x)})")


def q_head(recording: Recording) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The Q-head's (weight [n_actions, d_in], bias [n_actions]) when a linear head reads the recorded layer."""
    if recording.head is None:
        return None
    weight, bias = recording.head
    return torch.from_numpy(weight.copy()), torch.from_numpy(bias.copy())


@torch.no_grad()
def geometric_median(x: torch.Tensor, iterations: int = 30, eps: float = 1e-6) -> torch.Tensor:
    """Weiszfeld's algorithm: the point minimising the summed distances to the rows of ``x``.

    A better start for b_dec than the mean on skewed (post-ReLU) data (Bricken et al. 2023).
    """
    median = x.mean(0)
    for _ in range(iterations):
        weights = 1.0 / (x - median).norm(dim=1).clamp_min(eps)
        median = (weights[:, None] * x).sum(0) / weights.sum()
    return median
