"""Activations for SAE training and evaluation: a recording's states split by whole episodes.

The split is a pure function of the episode id, so it stays the same when a recording is appended to,
and `train-sae`, `evaluate` and `interpret` agree on which states are held out without passing lists.

`train-sae` streams its training states (:class:`RecordingBatches`): pieces of ``PIECE_ROWS`` consecutive
steps are read in a seeded random order into a shuffle buffer of at most ``BUFFER_ROWS`` states, and each
batch is drawn at random from the buffer, so the memory it takes does not grow with the recording.
Rows are read from the chunk files rather than through the memmaps, whose touched pages would count in
the process's resident memory until the recording is closed.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlsae.common.errors import UserError
from rlsae.record.recording import Recording
from rlsae.record.store import ChunkedArray

_GOLDEN = 2654435761  # Knuth's multiplicative hash: spreads consecutive ids evenly over [0, 2^32)
PIECE_ROWS = 64  # consecutive steps read at once (4 steps of 16 games): one 128 KiB read at d=512 float32
BUFFER_ROWS = 65_536  # the shuffle buffer: 128 MiB at d=512; a state stays in it for ~BUFFER_ROWS / batch batches
_UPCOMING = 1024  # pieces whose places in the order are computed at once
HELDOUT_STATES = 16_384  # held-out states train-sae measures its SAE on (a random subset of larger splits)


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
    ids = recording.episode_ids
    index = np.concatenate([start + np.flatnonzero(heldout_mask(read_rows(part, 0, len(part)), heldout_fraction)
                                                   == heldout)
                            for part, start in zip(ids.parts, ids.offsets[:-1])] or [np.empty(0, np.int64)])
    if index.size == 0:
        _no_states(recording, heldout_fraction, "held-out" if heldout else "training")
    if max_states is not None and index.size > max_states:
        index = np.sort(np.random.default_rng(seed).choice(index, max_states, replace=False))
    x = read_steps(recording.activations, index).astype(np.float32, copy=False)
    check_finite_states(recording, index, x, "held-out" if heldout else "training")
    return ActivationData(torch.from_numpy(x), read_steps(ids, index))


def _no_states(recording: Recording, heldout_fraction: float, which: str) -> None:
    raise UserError(f"recording '{recording.path}' has no {which} states ({len(recording)} steps in "
                    f"{len(np.unique(np.asarray(recording.episode_ids)))} episodes, held-out fraction "
                    f"{heldout_fraction}): record more steps or change --heldout-fraction")


def read_rows(part: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of one chunk's array; a memmap's are read from its file (see the module's note)."""
    if not isinstance(part, np.memmap) or not part.flags.c_contiguous:
        return np.asarray(part[start:stop])
    per_row = int(np.prod(part.shape[1:], dtype=np.int64))
    flat = np.fromfile(part.filename, part.dtype, (stop - start) * per_row, offset=part.offset
                       + start * per_row * part.dtype.itemsize)
    return flat.reshape(stop - start, *part.shape[1:])


def read_steps(array: ChunkedArray, steps: np.ndarray) -> np.ndarray:
    """``array[steps]`` for sorted ``steps``, reading each touched piece of ``PIECE_ROWS`` rows once."""
    out = np.empty((len(steps), *array.shape[1:]), array.dtype)
    if not len(steps):
        return out
    chunk = np.searchsorted(array.offsets, steps, side="right") - 1
    local = steps - array.offsets[chunk]
    piece = chunk * (1 << 40) + local // PIECE_ROWS  # one key per (chunk, piece)
    bounds = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        part, first = array.parts[chunk[a]], int(local[a])
        out[a:b] = read_rows(part, first, int(local[b - 1]) + 1)[local[a:b] - first]
    return out


class Shuffle:
    """A seeded random order of range(n) that is never held: ``order(positions)`` are the items at those
    positions. A 4-round Feistel network on the smallest even power of two >= n, re-applied to values >= n
    (cycle walking), so it is a bijection of range(n)."""

    def __init__(self, n: int, key: tuple[int, ...]):
        self.n, self.half = n, max(1, ((int(n) - 1).bit_length() + 1) // 2)
        self.mask = np.uint64((1 << self.half) - 1)
        self.keys = np.random.default_rng(list(key)).integers(0, 2**63, size=4, dtype=np.uint64)

    def _encrypt(self, v: np.ndarray) -> np.ndarray:
        left, right = v >> np.uint64(self.half), v & self.mask
        for k in self.keys:
            h = (right ^ k) * np.uint64(0x9E3779B97F4A7C15)  # wraps modulo 2^64
            h = (h ^ (h >> np.uint64(31))) * np.uint64(0xD6E8FEB86659FD93)
            left, right = right, left ^ ((h ^ (h >> np.uint64(32))) & self.mask)
        return (left << np.uint64(self.half)) | right

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        out = self._encrypt(np.asarray(positions, np.uint64))
        outside = out >= self.n
        while outside.any():
            out[outside] = self._encrypt(out[outside])
            outside = out >= self.n
        return out.astype(np.int64)


class TensorBatches:
    """Training batches from states held in RAM: a fresh seeded permutation for each pass over them."""

    def __init__(self, x: torch.Tensor, seed: int):
        check_finite_rows(x, "training data")
        self.x = x
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(x), generator=self.generator)
        self.cursor = 0

    def __len__(self) -> int:
        return len(self.x)

    def sample(self) -> torch.Tensor:
        """The states the input statistics and the initialisation are computed on: all of them."""
        return self.x

    def next(self, size: int) -> torch.Tensor:
        if self.cursor + size > len(self.order):
            self.order = torch.randperm(len(self.order), generator=self.generator)
            self.cursor = 0
        index = self.order[self.cursor:self.cursor + size]
        self.cursor += size
        return self.x[index]

    def state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order, "cursor": self.cursor}

    def close(self) -> None:
        """Nothing to free: the states are the caller's."""

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.cursor = state["order"], state["cursor"]


class RecordingBatches:
    """Training batches streamed from a recording's training episodes in bounded memory.

    Each pass visits the pieces (``PIECE_ROWS`` consecutive steps of a chunk) in a new seeded random order
    (:class:`Shuffle`) and reads their training states into a buffer of ``buffer_rows`` states; a batch is
    ``size`` states drawn from the buffer at random, whose places the next states read take. So every
    training state is served once per pass, never a held-out one, and a batch mixes states from about
    ``buffer_rows / PIECE_ROWS`` places in the recording. ``max_states`` keeps the training states of the
    first pieces of a fixed seeded order, the last one cut, to that many states.
    """

    def __init__(self, recording: Recording, heldout_fraction: float, seed: int, max_states: int | None = None,
                 buffer_rows: int = BUFFER_ROWS):
        self.recording, self.fraction, self.seed, self.buffer_rows = recording, heldout_fraction, seed, buffer_rows
        lengths = np.diff(recording.activations.offsets)
        self._first_piece = np.cumsum([0, *(-(-lengths // PIECE_ROWS))])  # of each chunk
        self._pieces = Shuffle(int(self._first_piece[-1]), (seed, 0))
        self.used, self.last_rows, self.states = self._subset(max_states)
        if self.states == 0:
            _no_states(recording, heldout_fraction, "training")
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self._pass = Shuffle(self.used, (seed, 1))
        self._upcoming: list[tuple[int, int, int]] = []  # (position, used piece, piece) of this pass, next last
        d = recording.activations.shape[1]
        self.pending_steps, self.pending = np.empty(0, np.int64), np.empty((0, d), np.float32)
        self.buffer, self.steps = torch.empty(0, d), torch.empty(0, dtype=torch.long)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="rlsae-stream")
        self._refill: Future[None] | None = None

    def __len__(self) -> int:
        return self.states

    def _training_steps(self, piece: int) -> tuple[np.ndarray, int, int, int]:
        """(the training states' steps, in the piece, and the piece's chunk, first and last row + 1 there)."""
        chunk = int(np.searchsorted(self._first_piece, piece, side="right")) - 1
        start = (piece - int(self._first_piece[chunk])) * PIECE_ROWS
        part = self.recording.episode_ids.parts[chunk]
        stop = min(start + PIECE_ROWS, len(part))
        training = ~heldout_mask(read_rows(part, start, stop), self.fraction)
        return int(self.recording.activations.offsets[chunk]) + start + np.flatnonzero(training), chunk, start, stop

    def _subset(self, max_states: int | None) -> tuple[int, int, int]:
        """(pieces used, training states kept of the last, training states): the first pieces of the fixed
        order up to ``max_states`` states (all without it), counted one piece at a time."""
        total, n_pieces = 0, self._pieces.n
        for first in range(0, n_pieces, _UPCOMING):
            pieces = self._pieces(np.arange(first, min(first + _UPCOMING, n_pieces)))
            for position, piece in enumerate(pieces.tolist(), start=first):
                found = len(self._training_steps(piece)[0])
                if max_states is not None and total + found >= max_states:
                    return position + 1, max_states - total, max_states
                total += found
        return n_pieces, PIECE_ROWS, total

    def _read(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` (steps, float32 activations) of the stream."""
        steps, x = np.empty(n, np.int64), np.empty((n, self.recording.activations.shape[1]), np.float32)
        have = min(n, len(self.pending_steps))
        steps[:have], x[:have] = self.pending_steps[:have], self.pending[:have]
        self.pending_steps, self.pending = self.pending_steps[have:], self.pending[have:]
        while have < n:
            if self.position == self.used:
                self.epoch, self.position = self.epoch + 1, 0
                self._pass = Shuffle(self.used, (self.seed, self.epoch + 1))
            if not len(self._upcoming) or self._upcoming[-1][0] != self.position:
                positions = np.arange(self.position, min(self.position + _UPCOMING, self.used))
                kept = self._pass(positions)  # which of the used pieces
                self._upcoming = list(zip(positions.tolist(), kept.tolist(), self._pieces(kept).tolist()))[::-1]
            _, kept, piece = self._upcoming.pop()
            self.position += 1
            found, chunk, start, stop = self._training_steps(piece)
            found = found[:self.last_rows] if kept == self.used - 1 else found
            local = found - int(self.recording.activations.offsets[chunk]) - start
            rows = read_rows(self.recording.activations.parts[chunk], start, stop)[local]
            check_finite_states(self.recording, found, rows, "streamed training")
            take = min(n - have, len(found))
            steps[have:have + take], x[have:have + take] = found[:take], rows[:take]
            self.pending_steps, self.pending = found[take:], rows[take:].astype(np.float32)
            have += take
        return steps, x

    def _fill(self, rows: int) -> None:
        steps, x = self._read(rows - len(self.buffer))
        if len(self.buffer):
            x, steps = np.concatenate([self.buffer.numpy(), x]), np.concatenate([self.steps.numpy(), steps])
        self.buffer, self.steps = torch.from_numpy(x), torch.from_numpy(steps)  # no second copy of a new buffer

    def sample(self) -> torch.Tensor:
        """The states the input statistics and the initialisation are computed on: the first buffer's."""
        self._wait()
        if not len(self.buffer):
            self._fill(min(self.buffer_rows, self.states))
        return self.buffer

    def next(self, size: int) -> torch.Tensor:
        return self.draw(size)[1]

    def draw(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(the recording's steps, their activations) of the next batch. The states that take their places
        are read in a background thread while the caller trains on them."""
        self._wait()
        if len(self.buffer) < size:
            self._fill(max(size, min(self.buffer_rows, self.states)))
        slots = torch.randperm(len(self.buffer), generator=self.generator)[:size]
        drawn = self.steps[slots], self.buffer.index_select(0, slots)
        self._refill = self._worker.submit(self._replace, slots)
        return drawn

    def _replace(self, slots: torch.Tensor) -> None:
        steps, x = self._read(len(slots))
        self.buffer.index_copy_(0, slots, torch.from_numpy(x))
        self.steps[slots] = torch.from_numpy(steps)

    def _wait(self) -> None:
        """Until the last batch's places are refilled (raising what the refill raised)."""
        refill, self._refill = self._refill, None
        if refill is not None:
            refill.result()

    def close(self) -> None:
        """Free the buffer and stop the reading thread; the stream cannot be drawn from after."""
        self._wait()
        self._worker.shutdown()
        self.buffer, self.pending = torch.empty(0, self.buffer.shape[1]), self.pending[:0]

    def state(self) -> dict[str, Any]:
        self._wait()
        return {"generator": self.generator.get_state(), "epoch": self.epoch, "position": self.position,
                "buffer_steps": self.steps.clone(), "pending_steps": torch.from_numpy(self.pending_steps.copy())}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue the stream where ``state`` left it: the same buffer re-read, the same states next."""
        self._wait()
        self.generator.set_state(state["generator"])
        self.epoch, self.position = state["epoch"], state["position"]
        self._pass, self._upcoming = Shuffle(self.used, (self.seed, self.epoch + 1)), []
        self.steps = state["buffer_steps"].long()
        self.buffer = self._reread(self.steps.numpy())
        self.pending_steps = state["pending_steps"].long().numpy()
        self.pending = self._reread(self.pending_steps).numpy()

    def _reread(self, steps: np.ndarray) -> torch.Tensor:
        order = np.argsort(steps, kind="stable")
        x = np.empty((len(steps), self.recording.activations.shape[1]), np.float32)
        x[order] = read_steps(self.recording.activations, steps[order])
        return torch.from_numpy(x)


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
