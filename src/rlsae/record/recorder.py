"""`rlsae record`: play an agent and store, for every step, a layer's activations and the game state.

Running on an existing store finishes its last run if that was interrupted (the same settings are
required; it continues the very same games, so the result equals an uninterrupted run). A finished
store is left alone unless ``--append`` asks for ``--steps`` more steps as a new run: with the same
``--num-envs`` the new run continues the games in progress; with another count it starts new ones
(the old ones stay in the store as incomplete episodes).

Which parallelism when: on one machine with 2 cores, the default (``--workers 1``: the emulators in
one worker process, the network in this one, taking turns on the two halves of the envs). With more
cores, or several machines: ``--shard K/N`` for K = 0..N-1 as N processes (each with its own worker,
so about two cores each), anywhere; copy the shard folders into one OUT and every later stage reads
OUT as one recording.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rlsae.agents.checkpoint import MANIFEST as AGENT_MANIFEST
from rlsae.agents.checkpoint import WEIGHTS
from rlsae.agents.evaluate import ACT_HELP, ACTS, check_act, choose
from rlsae.agents.protocol import AGENT_HELP, HEAD_UNAVAILABLE, OBSERVATION, check_head, load, weights_sha256
from rlsae.common.errors import UserError
from rlsae.common.hooks import capture, hooked
from rlsae.common.outputs import holds_only_marker
from rlsae.common.progress import ProgressBar
from rlsae.common.runtime import PLAY_DEVICE_HELP, one_thread, provenance, resolve_device
from rlsae.config import check_options, option, require, to_dict
from rlsae.envs.atari import DEFAULT_GAME, FRAME_SKIP, NOOP_MAX, check_game, rng_actions
from rlsae.envs.batch import EnvBatch
from rlsae.envs.emulator import MAX_EPISODE_FRAMES, rng_from_str, rng_to_str
from rlsae.record.store import (
    AGENT,
    CHUNKS,
    FORMAT,
    FORMAT_VERSION,
    RESUME,
    ChunkWriter,
    committed_chunks,
    read_chunk_file,
    read_store_manifest,
    remove_partial_chunks,
    shard_folder,
    step_array_specs,
    write_store_manifest,
)

# The settings of a run that a resumed run must share (the store's identity checks the rest).
RUN_SETTINGS = ("steps", "num_envs", "epsilon", "seed", "chunk_size", "act")
# Keys that stores and runs written before them lack, with the value those had.
ADDED_LATER = {"output": "q-values", "act": "greedy"}


@dataclass
class RecordConfig:
    out: Path = option(Path("runs/recording"), "store folder; an interrupted recording there is finished")
    checkpoint: Path | None = option(None, "agent checkpoint folder (default: the shipped agent); or --agent")
    agent: str | None = option(None, AGENT_HELP)
    game: str | None = option(None, "ALE game, any spelling (default: the agent's own; "
                              f"{DEFAULT_GAME} for a factory that names none)")
    layer: str | None = option(None, "layer to record, a name from model.named_modules() (default: the agent's "
                               "own, 'hidden' for rlsae agents)")
    steps: int = option(100_000, "agent steps to record (rounded up to a multiple of --num-envs)", low=1)
    num_envs: int = option(16, "games played in parallel", low=1, high=4096)
    epsilon: float = option(0.01, "probability of a random action (below the 0.05 of scoring: mostly the agent's "
                            "own choices)", low=0, high=1)
    seed: int = option(1, "seed for no-op starts and random actions", low=0)
    act: str = option("greedy", ACT_HELP, choices=list(ACTS))
    dtype: str = option("float32", "activation storage type (float16 halves the size)",
                        choices=["float32", "float16"])
    chunk_size: int = option(65_536, "steps per chunk file (rounded down to a multiple of --num-envs)", low=1)
    workers: int = option(1, "emulator processes beside the network's: 0, 1 (two cores) or 2 (three); the same "
                          "recording for each. More cores: --shard", low=0, high=2)
    snapshot_every: int = option(16, "emulator snapshot every N steps of an episode (frames re-render from the "
                                 "nearest one)", low=1)
    append: bool = option(False, "add --steps more steps to a finished store, as a new run")
    shard: str | None = option(None, "K/N: record shard K (from 0) of N into OUT/shard-K-of-N, one process each; "
                               "later stages read OUT as one recording")
    device: str = option("cpu", PLAY_DEVICE_HELP)
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        check_options(self)
        self.device = resolve_device(self.device)
        self.shard_index = parse_shard(self.shard)
        require(self.checkpoint is None or self.agent is None, "give --checkpoint or --agent, not both")

    @property
    def store(self) -> Path:
        """The store folder this config writes: OUT, or OUT/shard-K-of-N."""
        return self.out if self.shard_index is None else self.out / shard_folder(*self.shard_index)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'K/N' -> (K, N) with 0 <= K < N."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    require(sep == "/" and k.isdigit() and n.isdigit() and int(k) < int(n),
            f"--shard must be K/N with 0 <= K < N (e.g. 0/4), got '{text}'")
    return int(k), int(n)


def record(cfg: RecordConfig) -> Path:
    """Record the agent ``--agent`` or ``--checkpoint`` names (default: the shipped one) into ``cfg.out``;
    returns the store path."""
    agent = load(cfg.agent or cfg.checkpoint, cfg.device)
    check_act(cfg.act, agent.output)
    layer = cfg.layer or agent.layer
    require(layer is not None, f"the agent '{cfg.agent}' names no layer to read: pass --layer NAME")
    folder = Path(agent.source["checkpoint"]) if agent.source.get("kind") == "rlsae-checkpoint" else None
    return record_model(agent.model, layer, cfg, game=cfg.game or agent.game or DEFAULT_GAME, agent=agent.source,
                        agent_folder=folder, head=agent.head if layer == agent.layer else None, output=agent.output,
                        value=agent.value if layer == agent.layer else None)


def record_model(model: nn.Module, layer: str, cfg: RecordConfig, game: str = DEFAULT_GAME,
                 agent: dict[str, Any] | None = None, agent_folder: Path | None = None,
                 head: str | None = None, output: str = "q-values", value: str | None = None) -> Path:
    """Record any Q-network: ``model(obs uint8 [B, 4, 84, 84]) -> Q [B, n_actions]``, reading ``layer``
    (``output`` "policy": an actor-critic whose forward gives its action logits, stored as ``q_values``;
    ``value`` names its value head, an nn.Linear on ``layer``).

    ``agent`` describes the model for the manifest (default: its class name and weight hash; a factory's
    ``source`` lets later stages rebuild it); ``agent_folder``, an rlsae checkpoint, is copied into the
    store so it is self-contained. ``head`` names the nn.Linear mapping ``layer`` to the Q-values; it is
    checked on the first observation, and without it the one such layer is looked for (none: the metrics
    that need a head are unavailable later).
    """
    game = check_game(game)
    model = model.to(cfg.device).eval()
    out = cfg.store
    n = cfg.num_envs
    k, shards = cfg.shard_index or (0, 1)
    probe = EnvBatch(game, 1, cfg.seed, cfg.snapshot_every)
    probe.reset_all()
    n_actions = probe.n_actions
    act, q = layer_forward(model, layer, probe.obs, cfg.device)
    require(q.ndim == 2 and q.shape[1] == n_actions,
            f"the model must map {OBSERVATION} to [B, {n_actions}] Q-values (the {n_actions} actions of "
            f"'{game}'); it gave {tuple(q.shape)}")
    head = check_head(model, head, act, q)
    if head is None:
        print(f"record: {HEAD_UNAVAILABLE}")
    sha = weights_sha256(model)
    cls = type(model)
    agent = {**(agent or {"kind": "module", "class": f"{cls.__module__}.{cls.__qualname__}"}), "sha256": sha}
    identity = {"game": game, "layer": layer, "d_act": int(act[0].numel()), "n_actions": n_actions, "output": output,
                "activation_dtype": cfg.dtype, "snapshot_every": cfg.snapshot_every,
                **({"shard": [k, shards]} if cfg.shard_index else {})}

    if (out / "manifest.json").exists():
        manifest = read_store_manifest(out)
        for key, value in identity.items():
            if manifest.get(key, ADDED_LATER.get(key)) != value:
                raise UserError(f"store '{out}' was recorded with {key}={manifest.get(key)!r}, "
                                f"not {value!r}: record into a new --out folder")
        if manifest["agent"]["sha256"] != sha:
            raise UserError(f"store '{out}' was recorded by another agent (weights differ): "
                            "record into a new --out folder")
    else:
        require(not out.exists() or holds_only_marker(out),
                f"'{out}' exists, is not empty and is not a recording: choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **identity,
                    "activation_shape": list(act.shape[1:]), "agent": agent, "head": head, "value": value,
                    "env": {"frame_skip": FRAME_SKIP, "noop_max": NOOP_MAX, "repeat_action_probability": 0.0,
                            "max_episode_frames": MAX_EPISODE_FRAMES, "stack": 4, "obs": [84, 84]},
                    "provenance": provenance(), "runs": [], "n_steps": 0, "n_chunks": 0}

    if agent_folder is not None and not (out / AGENT).exists():
        tmp = out / (AGENT + ".tmp")
        tmp.mkdir(exist_ok=True)
        try:
            for name in (WEIGHTS, AGENT_MANIFEST):
                shutil.copy2(Path(agent_folder) / name, tmp / name)
        except OSError as err:  # e.g. a full disk: name the copy, not its source, and leave no half copy
            shutil.rmtree(tmp, ignore_errors=True)
            raise OSError(err.errno, err.strerror, str(out / AGENT)) from err
        tmp.rename(out / AGENT)
    remove_partial_chunks(out)
    chunks = committed_chunks(out)
    done = sum(int(np.load(c / "actions.npy", mmap_mode="r").shape[0]) for c in chunks)
    runs = manifest["runs"]
    if runs and done < runs[-1]["start_step"] + runs[-1]["steps"]:
        run = runs[-1]  # interrupted: finish it, with the settings it was started with
        changed = {k: (run["config"].get(k, ADDED_LATER.get(k)), getattr(cfg, k)) for k in RUN_SETTINGS
                   if run["config"].get(k, ADDED_LATER.get(k)) != getattr(cfg, k)}
        require(not changed, f"'{out}' holds an interrupted recording made with other settings ("
                + ", ".join(f"--{k.replace('_', '-')} {a} here, {b} now" for k, (a, b) in changed.items())
                + "): run again with its settings to finish it, or record into a new --out")
    elif runs and not cfg.append:
        made = runs[-1]["config"]
        other = [f"--{k.replace('_', '-')} {made.get(k, ADDED_LATER.get(k))}" for k in RUN_SETTINGS
                 if made.get(k, ADDED_LATER.get(k)) != getattr(cfg, k)]
        print(f"'{out}' is complete: {done} steps in {len(runs)} run(s); nothing to do (--append adds "
              f"--steps more as a new run)" + (f"; it was recorded with {', '.join(other)}" if other else ""))
        return out
    else:
        steps = -(-cfg.steps // n) * n
        # a shard's envs are envs k*n .. k*n + n-1 of one big batch: their own seeds, hence their own games
        run = {"start_step": done, "steps": steps, "num_envs": n, "epsilon": cfg.epsilon, "seed": cfg.seed + k * n,
               "config": to_dict(cfg), "provenance": provenance()}
        runs.append(run)
    run_index = len(runs) - 1
    with one_thread():  # the network runs beside the emulators: one core each
        _record_run(model, layer, manifest, run, run_index, out, chunks, done, cfg)
    return out


def layer_forward(model: nn.Module, layer: str, obs: np.ndarray, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(layer output [B, ...] as float32, Q-values [B, A]) on the CPU."""
    cache: dict[str, torch.Tensor] = {}
    with torch.no_grad(), hooked(model, {layer: capture(cache, layer)}):
        q = model(torch.from_numpy(obs).to(device))
    if layer not in cache:
        raise UserError(f"layer '{layer}' was not run by the model's forward pass")
    return cache[layer].float().cpu(), q.float().cpu()


def _record_run(model: nn.Module, layer: str, manifest: dict[str, Any], run: dict[str, Any], run_index: int,
                out: Path, chunks: list[Path], done: int, cfg: RecordConfig) -> None:
    n = int(run["num_envs"])
    epsilon, n_actions = float(run["epsilon"]), int(manifest["n_actions"])
    act = run["config"].get("act", ADDED_LATER["act"])
    end = run["start_step"] + run["steps"]
    chunk_len = max(n, cfg.chunk_size // n * n)
    seed = int(run["seed"])
    # Two halves of the envs take turns: while the network evaluates one half here, the other half's
    # emulators run in a worker process. Each half has its own random actions and each env its own
    # no-ops (and each run its own), so the data do not depend on the workers.
    envs = EnvBatch(manifest["game"], n, seed, cfg.snapshot_every, run=run_index, groups=2, workers=cfg.workers)
    rngs = [np.random.default_rng([seed, run_index, 0, g]) for g in range(len(envs.blocks))]
    try:
        resume = read_chunk_file(chunks[-1] / RESUME, np.load) if chunks else None
        if resume is not None and len(resume["episode_ids"]) == n:
            envs.set_state(dict(resume))
            if "action_rngs" in resume:  # absent in stores from before per-half streams
                rngs = [rng_from_str(str(text)) for text in resume["action_rngs"]]
        else:
            if resume is not None:
                envs.next_episode_id = int(resume["next_episode_id"])
            envs.reset_all()
        bar = ProgressBar(total=run["steps"], initial=done - run["start_step"], desc="recording", unit="step",
                          disable=not cfg.progress, smoothing=0.05)
        specs = step_array_specs(manifest["d_act"], n_actions, manifest["activation_dtype"])
        while done < end:
            writer = ChunkWriter(out / CHUNKS / f"{len(chunks):06d}", min(chunk_len, end - done), specs)
            _record_chunk(model, layer, envs, rngs, epsilon, act, writer, done, run_index, cfg, bar)
            done += writer.length
            state = envs.get_state()
            state["action_rngs"] = np.array([rng_to_str(r) for r in rngs])
            writer.commit(state)
            chunks.append(writer.folder)
            manifest["n_steps"], manifest["n_chunks"] = done, len(chunks)
            write_store_manifest(out, manifest)
        bar.close()
    finally:
        envs.close()


def _record_chunk(model: nn.Module, layer: str, envs: EnvBatch, rngs: list[np.random.Generator], epsilon: float,
                  act: str, writer: ChunkWriter, done: int, run_index: int, cfg: RecordConfig,
                  bar: ProgressBar) -> None:
    """Fill ``writer`` (its rows start at global step ``done``): each block's rows in env order, block after
    block, one agent step of every env after another."""
    act_dtype = writer.specs["activations"][0]
    pending: dict[int, dict[str, np.ndarray]] = {}  # block -> its rows, waiting for its step to finish

    def finish(g: int) -> None:
        rows = pending.pop(g)
        rows["rewards"], rows["dones"], snapshots = envs.finish_step(g)
        for s in snapshots:  # keyed by (episode, step): the row may land in a later chunk or run
            writer.snapshot_keys.append((int(rows["episode_ids"][s.env - envs.blocks[g].start]), s.episode_step))
            writer.snapshot_blobs.append(s.blob)
        writer.write(rows)

    for base in range(done, done + writer.length, envs.num_envs):
        for g, block in enumerate(envs.blocks):
            if g in pending:
                finish(g)  # its observations are needed now
            act, q = layer_forward(model, layer, envs.obs[block], cfg.device)
            actions = rng_actions(rngs[g], choose(q, act, rngs[g]), epsilon, envs.n_actions)
            for i in np.flatnonzero(envs.episode_steps[block] == 0) + block.start:
                writer.episodes.append({"episode_id": int(envs.episode_ids[i]), "env": int(i),
                                        "noops": int(envs.noops[i]), "start_step": base + int(i), "run": run_index})
            pending[g] = {"activations": act.reshape(len(q), -1).numpy().astype(act_dtype),
                          "q_values": q.numpy(), "actions": actions.astype(np.uint8),
                          "episode_ids": envs.episode_ids[block].copy(),
                          "episode_steps": envs.episode_steps[block].copy(),
                          "lives": envs.lives(block), "ram": envs.ram(block)}
            envs.send_step(g, actions)
        bar.update(envs.num_envs)
    for g in list(pending):  # a chunk ends with every env at the same step: its resume state is whole
        finish(g)
