"""Property tests of the on-disk store: what the writer commits the reader returns, indexed any way,
and no damage to a manifest gets past the reader as anything but a UserError."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rlsae.common.errors import UserError
from rlsae.record import ChunkedArray, Recording
from rlsae.record.store import CHUNKS, FORMAT, FORMAT_VERSION, ChunkWriter, step_array_specs, write_store_manifest

D_ACT, N_ACTIONS = 3, 5


@given(lengths=st.lists(st.integers(0, 7), min_size=1, max_size=5), data=st.data())
def test_chunked_array_indexes_like_the_concatenated_array(lengths: list[int], data: st.DataObject) -> None:
    parts = [np.arange(sum(lengths[:i]), sum(lengths[: i + 1])).reshape(-1, 1) * [1, -1] for i in range(len(lengths))]
    whole, chunked = np.concatenate(parts), ChunkedArray(parts, np.dtype(np.int64), (2,))
    n = len(whole)
    assert chunked.shape == whole.shape and np.array_equal(np.asarray(chunked), whole)
    start, stop = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([None, 1, 2, 3]))
    assert np.array_equal(chunked[start:stop:step], whole[start:stop:step])
    if n:
        idx = data.draw(st.lists(st.integers(-n, n - 1), max_size=12))
        assert np.array_equal(chunked[np.asarray(idx, np.int64)], whole[np.asarray(idx, np.int64)])
        mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        assert np.array_equal(chunked[mask], whole[mask])
        i = data.draw(st.integers(-n, n - 1))
        assert np.array_equal(chunked[i], whole[i]) and np.array_equal(chunked[i, 1], whole[i, 1])


def _rows(rng: np.random.Generator, n: int, first_step: int) -> dict[str, np.ndarray]:
    return {"activations": rng.standard_normal((n, D_ACT)).astype(np.float32),
            "q_values": rng.standard_normal((n, N_ACTIONS)).astype(np.float32),
            "actions": rng.integers(0, N_ACTIONS, n).astype(np.uint8),
            "rewards": rng.choice([0.0, 10.0, 50.0], n).astype(np.float32), "dones": rng.random(n) < 0.1,
            "episode_ids": np.zeros(n, np.int64), "episode_steps": np.arange(first_step, first_step + n),
            "lives": rng.integers(0, 4, n).astype(np.uint8), "ram": rng.integers(0, 256, (n, 128)).astype(np.uint8)}


def _write_store(folder: Path, chunk_lengths: list[int], seed: int) -> dict[str, np.ndarray]:
    """Commit chunks of random rows (one episode across them all) and a manifest; returns all rows."""
    rng = np.random.default_rng(seed)
    specs = step_array_specs(D_ACT, N_ACTIONS, "float32")
    written: list[dict[str, np.ndarray]] = []
    for c, length in enumerate(chunk_lengths):
        writer = ChunkWriter(folder / CHUNKS / f"{c:06d}", length, specs)
        if c == 0:
            writer.episodes.append({"episode_id": 0, "env": 0, "noops": 0, "start_step": 0, "run": 0})
        done = sum(chunk_lengths[:c])
        for piece in np.array_split(np.arange(length), min(3, length)):  # a few writes per chunk
            rows = _rows(rng, len(piece), done + int(piece[0]) if len(piece) else done)
            writer.write(rows)
            written.append(rows)
        writer.commit({"next_episode_id": np.array(1)})
    n = sum(chunk_lengths)
    write_store_manifest(folder, {"format": FORMAT, "format_version": FORMAT_VERSION, "game": "ms_pacman",
                                  "layer": "hidden", "d_act": D_ACT, "n_actions": N_ACTIONS,
                                  "activation_dtype": "float32", "snapshot_every": 16, "agent": {},
                                  "runs": [{"start_step": 0, "steps": n}], "n_steps": n,
                                  "n_chunks": len(chunk_lengths)})
    return {name: np.concatenate([w[name] for w in written]) for name in specs}


@settings(max_examples=25, deadline=None)
@given(chunk_lengths=st.lists(st.integers(1, 40), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_what_the_writer_commits_the_reader_returns(chunk_lengths: list[int], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        expected = _write_store(Path(tmp), chunk_lengths, seed)
        rec = Recording.open(tmp)
        assert len(rec) == sum(chunk_lengths) and len(rec.chunks) == len(chunk_lengths)
        for name, values in expected.items():
            assert np.array_equal(np.asarray(getattr(rec, name)), values), name
        episodes = rec.episodes
        assert episodes["length"].tolist() == [sum(chunk_lengths)]
        assert np.isclose(episodes["score"][0], expected["rewards"].sum(dtype=np.float64))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=6)
FIELDS = ["format", "format_version", "game", "layer", "d_act", "n_actions", "activation_dtype", "snapshot_every",
          "agent", "runs", "n_steps"]


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(FIELDS), value=JSON, drop=st.booleans())
def test_a_damaged_manifest_is_a_user_error_or_harmless(field: str, value: Any, drop: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _write_store(Path(tmp), [8], 0)
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        if drop:
            del manifest[field]
        else:
            manifest[field] = value
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest))
        try:
            assert len(Recording.open(tmp)) == 8  # a change that leaves the data readable
        except UserError as err:
            assert "\n" not in str(err)


@settings(max_examples=30, deadline=None)
@given(content=st.binary(max_size=64))
def test_a_garbage_manifest_file_is_a_user_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _write_store(Path(tmp), [4], 0)
        (Path(tmp) / "manifest.json").write_bytes(content)
        try:
            Recording.open(tmp)
        except UserError:
            return
        raise AssertionError("garbage accepted as a manifest")
