"""Recording -> reopening: consistent arrays, manifest, episodes; appending; resuming after a crash."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rlsae.common.errors import UserError
from rlsae.envs.batch import EnvBatch
from rlsae.record.recorder import record
from rlsae.record.recording import Recording
from rlsae.record.store import ChunkedArray


def test_arrays_are_consistent(live_recording: tuple[Path, np.ndarray]) -> None:
    rec = Recording.open(live_recording[0])
    n = len(rec)
    assert n == 1100 == rec.manifest["n_steps"]
    expected = {"activations": (np.float32, (n, 512)), "q_values": (np.float32, (n, 9)),
                "actions": (np.uint8, (n,)), "rewards": (np.float32, (n,)), "dones": (np.bool_, (n,)),
                "episode_ids": (np.int64, (n,)), "episode_steps": (np.int64, (n,)),
                "lives": (np.uint8, (n,)), "ram": (np.uint8, (n, 128))}
    for name, (dtype, shape) in expected.items():
        arr = getattr(rec, name)
        assert arr.dtype == dtype and arr.shape == shape, name
        assert isinstance(arr.parts[0], np.memmap)
    assert [len(p) for p in rec.actions.parts] == [256, 256, 256, 256, 76]
    m = rec.manifest
    assert (m["game"], m["layer"], m["d_act"], m["n_actions"]) == ("ms_pacman", "hidden", 512, 9)
    assert m["agent"]["manifest"]["algorithm"] == "none" and len(m["agent"]["sha256"]) == 64
    assert m["runs"][0]["epsilon"] == 1.0 and "torch" in m["provenance"]
    # every episode's steps are 0..len-1; games ended (random play dies in ~500 steps) and restarted
    ep = rec.episodes
    ids, steps = np.asarray(rec.episode_ids), np.asarray(rec.episode_steps)
    for e, length in zip(ep["episode_id"], ep["length"]):
        assert np.array_equal(np.sort(steps[ids == e]), np.arange(length))
    assert ep["complete"].sum() >= 2 and len(ep["episode_id"]) >= 4
    assert np.array_equal(ep["score"][ep["complete"]] > 0, np.ones(ep["complete"].sum(), bool))
    lives = np.asarray(rec.lives)
    # ALE's lives() counts the life in play; RAM byte 123 holds the reserve lives
    assert lives.max() == 3 and np.array_equal(lives, np.asarray(rec.ram)[:, 123] % 4 + 1)


def test_chunked_array_indexing() -> None:
    parts = [np.arange(0, 6).reshape(3, 2), np.arange(6, 8).reshape(1, 2), np.arange(8, 14).reshape(3, 2)]
    whole = np.concatenate(parts)
    arr = ChunkedArray(parts, whole.dtype, (2,))
    assert arr.shape == (7, 2) and len(arr) == 7
    assert np.array_equal(arr[3], whole[3]) and np.array_equal(arr[-1], whole[-1])
    assert np.array_equal(arr[2:6], whole[2:6]) and np.array_equal(arr[::3], whole[::3])
    idx = np.array([6, 0, 3, 3, 1])
    assert np.array_equal(arr[idx], whole[idx]) and np.array_equal(arr[idx, 1], whole[idx, 1])
    assert np.array_equal(arr[whole[:, 0] > 5], whole[whole[:, 0] > 5])
    assert np.array_equal(np.asarray(arr), whole)
    with pytest.raises(IndexError):
        arr[7]


def test_float16_and_user_module(tmp_path: Path) -> None:
    import torch
    from torch import nn

    from rlsae.record.recorder import RecordConfig, record_model

    class Net(nn.Module):  # someone's own network: any layer name, any output shape
        def __init__(self) -> None:
            super().__init__()
            self.torso = nn.Sequential(nn.Conv2d(4, 8, 8, stride=8), nn.ReLU())
            self.q = nn.Linear(8 * 10 * 10, 9)

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.q(self.torso(obs.float() / 255).flatten(1))

    cfg = RecordConfig(out=tmp_path / "rec", steps=24, num_envs=3, dtype="float16", progress=False)
    record_model(Net(), "torso.1", cfg)
    rec = Recording.open(tmp_path / "rec")
    assert rec.activations.shape == (24, 800) and rec.activations.dtype == np.float16
    assert rec.manifest["activation_shape"] == [8, 10, 10] and rec.manifest["agent"]["class"].endswith(".Net")
    with pytest.raises(UserError, match="user module"):
        rec.load_agent()


def test_append_continues_games(tmp_path: Path, agent: Path, cfg_for: Any, capsys: pytest.CaptureFixture[str]) -> None:
    record(cfg_for(tmp_path / "rec", agent, steps=40))
    record(cfg_for(tmp_path / "rec", agent, steps=40))  # finished: says so and adds nothing
    assert "is complete: 40 steps" in capsys.readouterr().out and len(Recording.open(tmp_path / "rec")) == 40
    record(cfg_for(tmp_path / "rec", agent, steps=40, append=True))
    rec = Recording.open(tmp_path / "rec")
    assert len(rec) == 80 and len(rec.manifest["runs"]) == 2 and rec.manifest["runs"][1]["start_step"] == 40
    # same env count: the two games in progress go on (steps 0..39 per env, no new episode)
    assert np.array_equal(np.asarray(rec.episode_ids), np.tile([0, 1], 40))
    assert np.array_equal(np.asarray(rec.episode_steps), np.repeat(np.arange(40), 2))
    # epsilon 0: every action is the greedy one
    assert np.array_equal(np.asarray(rec.actions), np.asarray(rec.q_values).argmax(1))
    # another env count starts new games; old ones stay incomplete
    record(cfg_for(tmp_path / "rec", agent, steps=9, num_envs=3, append=True))
    rec = Recording.open(tmp_path / "rec")
    assert len(rec) == 89 and set(np.asarray(rec.episode_ids)[80:]) == {2, 3, 4}
    assert rec.render_frames([1, 79, 88]).shape == (3, 210, 160, 3)


def test_crash_then_resume_equals_uninterrupted(tmp_path: Path, agent: Path, cfg_for: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    record(cfg_for(tmp_path / "whole", agent, steps=100, epsilon=0.3))

    original, calls = EnvBatch.send_step, []

    def crashing_step(self: EnvBatch, g: int, actions: np.ndarray) -> None:
        calls.append(1)
        if len(calls) == 73:  # mid-chunk: chunks 0 and 1 (32 steps = 32 half-batch steps each) committed
            raise KeyboardInterrupt
        original(self, g, actions)

    monkeypatch.setattr(EnvBatch, "send_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        record(cfg_for(tmp_path / "cut", agent, steps=100, epsilon=0.3))
    monkeypatch.setattr(EnvBatch, "send_step", original)
    assert (tmp_path / "cut" / "chunks" / "000002.partial").exists()
    assert len(Recording.open(tmp_path / "cut")) == 64  # only complete chunks count

    with pytest.raises(UserError, match=r"other settings \(--steps 100 here, 5 now, --epsilon 0.3 here, 0.9 now\)"):
        record(cfg_for(tmp_path / "cut", agent, steps=5, epsilon=0.9))
    record(cfg_for(tmp_path / "cut", agent, steps=100, epsilon=0.3))  # finishes the interrupted run
    whole, cut = Recording.open(tmp_path / "whole"), Recording.open(tmp_path / "cut")
    assert len(cut) == 100 and len(cut.manifest["runs"]) == 1
    assert not (tmp_path / "cut" / "chunks" / "000002.partial").exists()
    for name in ("activations", "q_values", "actions", "rewards", "dones", "episode_ids", "episode_steps",
                 "lives", "ram"):
        assert np.array_equal(np.asarray(getattr(whole, name)), np.asarray(getattr(cut, name))), name
    assert np.array_equal(cut.render_frames([70, 99]), whole.render_frames([70, 99]))


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc: Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_sigkill_leaves_no_torn_chunk(tmp_path: Path, agent: Path, cfg_for: Any) -> None:
    out = tmp_path / "rec"
    code = ("from pathlib import Path; from rlsae.record.recorder import RecordConfig, record; "
            f"record(RecordConfig(out=Path({str(out)!r}), checkpoint=Path({str(agent)!r}), steps=4000, "
            "num_envs=2, epsilon=0.2, chunk_size=32, snapshot_every=8, progress=False))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[2], env=env)
    try:
        deadline = time.monotonic() + 120
        while not (out / "chunks" / "000003").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "recorder died or stalled"
            time.sleep(0.05)
        time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers, "the emulators run in a worker process"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in workers):  # orphans notice and exit
        assert time.monotonic() < deadline, "the emulator process outlived the killed recorder"
        time.sleep(0.05)
    rec = Recording.open(out)
    n = len(rec)
    assert n >= 128 and n % 32 == 0 and n < 4000
    assert json.loads((out / "manifest.json").read_text())["n_steps"] in (n, n - 32)
    # resuming finishes the killed run to its 4,000 steps; shorten its stored target to keep this quick
    target = n + 64
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["runs"][-1]["steps"] = target
    (out / "manifest.json").write_text(json.dumps(manifest))
    record(cfg_for(out, agent, steps=4000, epsilon=0.2))
    rec = Recording.open(out)
    assert len(rec) == target
    ids, steps = np.asarray(rec.episode_ids), np.asarray(rec.episode_steps)
    for e in np.unique(ids):  # the resumed steps continue the same games, no gaps or repeats
        assert np.array_equal(np.sort(steps[ids == e]), np.arange((ids == e).sum()))


def test_bad_paths_are_user_errors(tmp_path: Path, agent: Path, cfg_for: Any) -> None:
    with pytest.raises(UserError, match="no recording at .*nowhere"):
        Recording.open(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        Recording.open(tmp_path / "bad")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        record(cfg_for(tmp_path / "other", agent))
    record(cfg_for(tmp_path / "rec", agent, steps=4))
    with pytest.raises(UserError, match="layer"):
        record(cfg_for(tmp_path / "rec", agent, layer="conv3_relu"))
    np.save(tmp_path / "rec" / "chunks" / "000000" / "ram.npy", np.zeros((4, 3), np.uint8))
    with pytest.raises(UserError, match="ram.npy"):
        Recording.open(tmp_path / "rec")


def test_the_recording_is_the_same_for_any_number_of_emulator_processes(tmp_path: Path, agent: Path,
                                                                        cfg_for: Any) -> None:
    recs = {w: Recording.open(record(cfg_for(tmp_path / f"w{w}", agent, steps=120, num_envs=3, epsilon=0.5,
                                             workers=w))) for w in (0, 1, 2)}
    for name in ("activations", "q_values", "actions", "rewards", "dones", "episode_ids", "episode_steps",
                 "lives", "ram"):
        assert np.array_equal(np.asarray(getattr(recs[0], name)), np.asarray(getattr(recs[1], name))), name
        assert np.array_equal(np.asarray(getattr(recs[0], name)), np.asarray(getattr(recs[2], name))), name
    for a, b in zip(recs[0].chunks, recs[2].chunks):
        assert (a / "snapshots.bin").read_bytes() == (b / "snapshots.bin").read_bytes()
    assert np.array_equal(recs[2].render_frames([5, 100]), recs[0].render_frames([5, 100]))


def test_shards_are_read_as_one_recording(tmp_path: Path, agent: Path, cfg_for: Any) -> None:
    out = tmp_path / "rec"
    for k in (1, 0):  # any order, as separate processes or machines would
        record(cfg_for(out, agent, steps=60, epsilon=0.5, shard=f"{k}/2"))
    record(cfg_for(out, agent, steps=8, shard="2/3"))
    with pytest.raises(UserError, match=r"stray \['shard-2-of-3'\]"):
        Recording.open(out)
    shutil.rmtree(out / "shard-2-of-3")
    whole = Recording.open(out)
    parts = [Recording.open(out / f"shard-{k}-of-2") for k in (0, 1)]
    assert len(whole) == 120 == sum(len(p) for p in parts) and whole.manifest["shards"] == 2
    assert np.array_equal(np.asarray(whole.activations), np.concatenate([np.asarray(p.activations) for p in parts]))
    assert not np.array_equal(np.asarray(parts[0].actions), np.asarray(parts[1].actions))  # other games
    ids = np.asarray(whole.episode_ids)
    assert np.array_equal(ids[:60] % 2, np.zeros(60)) and np.array_equal(ids[60:] % 2, np.ones(60))
    episodes = whole.episodes
    assert len(np.unique(episodes["episode_id"])) == len(episodes["episode_id"]) == 4
    assert np.array_equal(ids[episodes["start_step"]], episodes["episode_id"])
    assert (np.asarray(whole.episode_steps)[episodes["start_step"]] == 0).all()
    assert np.array_equal(whole.render_frames([61, 119]), parts[1].render_frames([1, 59]))
    assert whole.load_agent()[1]["game"] == "ms_pacman"
    shutil.rmtree(out / "shard-0-of-2")
    with pytest.raises(UserError, match=r"missing \[0\]"):
        Recording.open(out)
