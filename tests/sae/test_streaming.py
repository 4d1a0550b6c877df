"""train-sae's streamed training data: every training state served, no held-out one, in memory that does
not grow with the recording, resumable to the same result."""

import os
import shutil
import signal
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from rlsae.config import from_flags
from rlsae.record.recording import Recording
from rlsae.sae.data import PIECE_ROWS, RecordingBatches, Shuffle, heldout_mask, load_split
from rlsae.sae.train import LOG, Trainer, TrainSAEConfig, train_sae


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000, 4097])
def test_shuffle_is_a_seeded_permutation(n: int) -> None:
    order = Shuffle(n, (3, 0))(np.arange(n))
    assert sorted(order.tolist()) == list(range(n))
    assert (Shuffle(n, (3, 0))(np.arange(n)) == order).all()
    if n >= 64:
        assert (Shuffle(n, (4, 0))(np.arange(n)) != order).mean() > 0.9


def _split(recording: Recording, fraction: float) -> tuple[set[int], set[int]]:
    held = heldout_mask(np.asarray(recording.episode_ids), fraction)
    return set(np.flatnonzero(~held).tolist()), set(np.flatnonzero(held).tolist())


def test_batches_cover_the_training_states_and_never_a_heldout_one(tiny_recording: Path) -> None:
    recording = Recording.open(tiny_recording)
    training, heldout = _split(recording, 0.25)
    assert training and heldout
    stream = RecordingBatches(recording, 0.25, seed=3, buffer_rows=100)
    assert len(stream) == len(training)
    served: Counter[int] = Counter()
    x = np.asarray(recording.activations, np.float32)
    for _ in range(3 * len(training) // 32):
        steps, batch = stream.draw(32)
        assert torch.equal(batch, torch.from_numpy(x[steps.numpy()]))  # the activations of those steps
        served.update(steps.tolist())
    assert set(served) == training and not set(served) & heldout
    # Each state is read once per pass: served, waiting in the buffer, or read ahead.
    state = stream.state()  # once the background refill is done
    read = served + Counter(state["buffer_steps"].tolist()) + Counter(state["pending_steps"].tolist())
    assert set(read.values()) <= {state["epoch"], state["epoch"] + 1} and state["epoch"] >= 2


def test_max_states_keeps_that_many_training_states(tiny_recording: Path) -> None:
    recording = Recording.open(tiny_recording)
    training, _ = _split(recording, 0.25)
    stream = RecordingBatches(recording, 0.25, seed=1, max_states=150, buffer_rows=64)
    served = {s for _ in range(20) for s in stream.draw(32)[0].tolist()}
    assert len(stream) == 150 and len(served) == 150 and served <= training


def _longer(recording: Path, out: Path, times: int) -> Path:
    """``recording`` with its chunks repeated ``times`` times (the same states again: only the length matters)."""
    shutil.copytree(recording, out, ignore=shutil.ignore_patterns("chunks"))
    chunks = sorted((recording / "chunks").iterdir())
    for i in range(times * len(chunks)):
        shutil.copytree(chunks[i % len(chunks)], out / "chunks" / f"{i:06d}")
    return out


def _peak_bytes(load, path: Path) -> int:
    """Peak bytes allocated in Python and numpy while ``load`` read the recording at ``path`` (opened
    before), plus the torch tensors it returned."""
    recording = Recording.open(path)
    tracemalloc.start()
    held = load(recording)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak + sum(t.nbytes for t in held)


def test_streamed_memory_does_not_grow_with_the_recording(tiny_recording: Path, tmp_path: Path) -> None:
    def streamed(recording: Recording) -> list[torch.Tensor]:
        stream = RecordingBatches(recording, 0.25, seed=1, buffer_rows=128)
        for _ in range(30):
            stream.draw(32)
        return [stream.buffer, stream.steps]

    def in_ram(recording: Recording) -> list[torch.Tensor]:
        return [load_split(recording, 0.25, heldout=False).activations]

    short, long = tiny_recording, _longer(tiny_recording, tmp_path / "long", 8)
    assert len(Recording.open(long)) == 8 * len(Recording.open(short))
    streamed_short, streamed_long = _peak_bytes(streamed, short), _peak_bytes(streamed, long)
    assert streamed_long < 1.1 * streamed_short
    assert streamed_short < 2 * (128 + 2 * PIECE_ROWS) * 512 * 4  # the buffer and a few pieces
    assert _peak_bytes(in_ram, long) > 6 * _peak_bytes(in_ram, short)  # what loading it all costs


def test_a_streamed_run_resumes_to_the_same_result(tiny_recording: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)

    def cfg(out: str) -> TrainSAEConfig:
        return from_flags(TrainSAEConfig, dict(recording=tiny_recording, out=tmp_path / out, d_sae=64, k=4,
                                               samples=40 * 64, batch_size=64, heldout_fraction=0.25, lr=2e-3,
                                               log_every=10, save_every=7, progress=False))

    straight = train_sae(cfg("a"))

    class Interrupting(Trainer):
        def train_step(self, x: torch.Tensor) -> dict[str, float]:
            if self.step == 25:
                os.kill(os.getpid(), signal.SIGINT)
            return super().train_step(x)

    with pytest.raises(KeyboardInterrupt):
        train_sae(cfg("b"), trainer=Interrupting)
    resumed = train_sae(cfg("b"))
    assert resumed["fvu"] == pytest.approx(straight["fvu"], rel=1e-5)
    assert (tmp_path / "a" / LOG).read_text().splitlines()[-1].split('"wall"')[0] == \
        (tmp_path / "b" / LOG).read_text().splitlines()[-1].split('"wall"')[0]
