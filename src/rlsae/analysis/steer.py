"""`rlsae steer`: play games with one SAE feature clamped, ablated or boosted, and compare with the clean agent.

The Golden Gate experiment: clamp a feature at 10x its largest activation and watch what the agent
does. Clean and steered games start from the same seeds (same no-op starts, same random actions), so
score differences come from the edit. The action shift is measured on the same states: at every state
the steered agent visits, both the clean and the steered policy choose an action.

Games from the start test a feature only where the agent goes anyway. ``--starts N`` plays instead from N
states of the SAE's recording (``--start-where`` picks them, e.g. "the bottom-left pill is there and not
the nearest"), each for ``--goal-steps`` steps, the clean and the steered agent from the same states.

    OUT/
      steering.json               every feature's result (the --json file holds the same)
      feature_00042/heatmap.png   where the player (the game spec's) spends time: clean | steered games
      feature_00042/game.gif      the first steered game (its first --gif-steps steps)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import binomtest
from torch import nn

from rlsae.agents.evaluate import ACT_HELP, ACTS, check_act, sampling_noise
from rlsae.agents.protocol import AGENT_HELP
from rlsae.agents.rollout import BatchGames, Starts, quotas, rollout
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.results import load_result
from rlsae.analysis.states import select_states, state_facts
from rlsae.analysis.steer_media import heatmap_png, save_gif
from rlsae.analysis.steer_results import GoalReached, StartsUsed, SteeredFeature, SteeringRun
from rlsae.analysis.steering import MODES, action_distribution, steering_hook, total_variation
from rlsae.common.errors import UserError
from rlsae.common.files import read_json
from rlsae.common.hooks import HookFn, capture, hooked
from rlsae.common.outputs import write_results
from rlsae.common.progress import ProgressBar
from rlsae.common.runtime import PLAY_DEVICE_HELP, one_thread, provenance, resolve_device
from rlsae.config import check_options, option, require, to_dict
from rlsae.envs.conjunctions import SEPARATOR
from rlsae.envs.facts import binary_descriptions, binary_facts, decode_facts
from rlsae.envs.games import game_spec
from rlsae.record.recording import Recording
from rlsae.record.render import ReplayMismatch
from rlsae.sae import SparseAutoencoder, load_sae
from rlsae.sae.io import SAE_HELP, sae_folder

RESULTS = "steering.json"
STARTS_FROM = 200_000  # --starts are drawn from the recording's first whole episodes up to this many states


@dataclass
class SteerConfig:
    sae: Path = option(Path("runs/sae"), SAE_HELP)
    feature: int | None = option(None, "feature to steer", low=0)
    top: int = option(0, "instead of --feature: steer the N live features with the best labels (needs --interpret)",
                      low=0)
    mode: str = option("clamp", "clamp: hold it at strength x its max activation; ablate: remove it; add: "
                       "strength x its max along its decoder direction", choices=list(MODES))
    strength: float = option(10.0, "multiple of the feature's max activation (clamp target or amount added)")
    interpret: Path | None = option(None, "interpret output: the features' max activations (default: "
                                    "measured on the clean agent's own games)")
    recording: Path | None = option(None, "recording whose agent is steered (default: the SAE's, from cfg.json)")
    agent: str | None = option(None, "the recording's " + AGENT_HELP + " (only if it cannot be rebuilt)")
    episodes: int = option(30, "games per condition (clean, and each steered feature)", low=1)
    num_envs: int = option(16, "games played in parallel", low=1, high=4096)
    epsilon: float = option(0.01, "probability of a random action, as in record (same random draws in every condition)",
                            low=0, high=1)
    seed: int = option(1, "seed for no-op starts and random actions", low=0)
    act: str = option("greedy", ACT_HELP, choices=list(ACTS))
    max_steps: int = option(5000, "agent steps per game at most (a steered agent may never finish a game)", low=1)
    gif_steps: int = option(400, "agent steps of the first steered game shown in the GIF (0: no GIF)", low=0)
    goal: str | None = option(None, "fact as interpret names it (FACT or FACT=VALUE), 'not FACT', 'A & B': "
                              "share of games where it holds")
    goal_steps: int = option(200, "agent steps from a game's start within which --goal must hold (with --starts: "
                             "how long each is played)", low=1)
    starts: int = option(0, "play from N states of the SAE's recording (where --start-where holds) instead of from "
                         "--episodes game starts", low=0)
    start_where: str | None = option(None, "what holds on the --starts states, in --goal's form")
    out: Path = option(Path("runs/steer"), "output folder; features already steered there with the same "
                       "settings are kept and skipped")
    json: Path | None = option(None, "also write the results to this JSON file")
    device: str = option("cpu", PLAY_DEVICE_HELP)
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        check_options(self)
        require((self.feature is None) != (self.top == 0),
                "give either --feature I or --top N (with --interpret), not both and not neither")
        require(self.top == 0 or self.interpret is not None, "--top needs --interpret DIR to rank features")
        require(self.start_where is None or self.starts > 0, "--start-where needs --starts N")
        self.sae, self.out = sae_folder(self.sae), Path(self.out)
        self.device = resolve_device(self.device)


@dataclass
class Play:
    """What happened in a set of games."""

    scores: list[float]
    actions: np.ndarray        # [steps] greedy action of the policy that played
    clean_actions: np.ndarray  # [steps] greedy action of the unedited agent on the same states
    player_x: np.ndarray       # [steps] the player's screen position (the game spec's ``position``)
    player_y: np.ndarray
    games: np.ndarray          # [steps] which game each step belongs to (env index x quota + game of that env)
    game_steps: np.ndarray     # [steps] the step's index in its game
    rams: np.ndarray           # [steps, 128]
    truncated: int             # games stopped at max_steps
    max_activation: np.ndarray | None  # [d_sae] largest feature activations seen (clean play only)
    gif_frames: list[np.ndarray] = field(default_factory=list)
    background: np.ndarray | None = None  # first screen, to draw heatmaps on


@one_thread()
@torch.no_grad()
def play(model: nn.Module, layer: str, game: str, cfg: SteerConfig, edit: HookFn | None = None,
         sae: SparseAutoencoder | None = None, desc: str = "clean", starts: Starts | None = None) -> Play:
    """Play ``cfg.episodes`` full games (each env a fixed quota, as in evaluation) with ``edit`` on ``layer``;
    or, given ``starts``, one game from each of those states for ``cfg.goal_steps`` steps.

    With ``sae`` (clean play), the largest activation of every feature is tracked on the way.
    """
    quota = quotas(cfg.episodes if starts is None else len(starts.states), cfg.num_envs)
    games = BatchGames(game, quota, cfg.seed, starts, film=cfg.gif_steps)
    acted, clean_acted, rams, game_ids, game_steps = [], [], [], [], []
    max_act = np.zeros(sae.d_sae, np.float32) if sae is not None else None
    clean_greedy = np.zeros(0, np.int64)
    draws = np.random.default_rng([cfg.seed, 1])

    def act(observations: np.ndarray) -> np.ndarray:
        nonlocal max_act, clean_greedy
        obs = torch.from_numpy(observations).to(cfg.device)
        cache: dict[str, torch.Tensor] = {}
        with hooked(model, {layer: capture(cache, layer)} if sae is not None else {}):
            q_clean = model(obs)
        if edit is not None:
            with hooked(model, {layer: edit}):
                q = model(obs)
        else:
            q = q_clean
        if sae is not None:
            max_act = np.maximum(max_act, sae.encode(cache[layer].float()).max(0).values.cpu().numpy())
        noise = sampling_noise(tuple(q.shape), cfg.act, draws)  # the same draw for the clean and edited policy
        clean_greedy = (q_clean.float().cpu().numpy() + noise).argmax(1)
        return (q.float().cpu().numpy() + noise).argmax(1)

    def watch(greedy: np.ndarray, counting: np.ndarray, finished: np.ndarray) -> None:
        acted.append(greedy[counting])
        clean_acted.append(clean_greedy[counting])
        rams.append(games.envs.ram()[counting])
        game_ids.append((np.arange(len(quota)) * quota.max() + finished)[counting])
        game_steps.append(games.game_steps()[counting])

    played = rollout(games, act, quota, rng=np.random.default_rng(cfg.seed), epsilon=cfg.epsilon,
                     max_steps=cfg.max_steps if starts is None else cfg.goal_steps, on_step=watch,
                     progress=cfg.progress, label=desc)
    ram = np.concatenate(rams)
    x, y = player_position(ram, game)
    truncated = played.truncated if starts is None else 0  # a start's game is cut by design
    return Play(played.scores, np.concatenate(acted), np.concatenate(clean_acted), x, y, np.concatenate(game_ids),
                np.concatenate(game_steps), ram, truncated, max_act, games.frames, games.background)


def goal_reached(played: Play, game: str, goal: str, steps: int) -> GoalReached:
    """Share of ``played``'s games in which the binary fact ``goal`` holds within their first ``steps`` steps,
    each game's first step where it does (None: not within ``steps``), and the first game's path until then."""
    order = np.lexsort((played.game_steps, played.games))
    facts = binary_facts(decode_facts(played.rams[order], played.games[order], actions=played.actions[order],
                                      game=game), game)
    holds = np.empty(len(order), bool)
    holds[order] = fact_holds(facts, goal)
    first: list[int | None] = []
    for g in np.unique(played.games):
        hits = np.flatnonzero((played.games == g) & holds & (played.game_steps < steps))
        first.append(int(played.game_steps[hits].min()) if len(hits) else None)
    path = (played.games == played.games[0]) & (played.game_steps < steps)
    return GoalReached(share=float(np.mean([f is not None for f in first])), games=len(first), first_step=first,
                       path=np.stack([played.player_x[path], played.player_y[path]], 1).round(1).tolist()
                       if len(played.player_x) else [])


def fact_holds(facts: dict[str, np.ndarray], expression: str) -> np.ndarray:
    """Where ``expression`` holds: a binary fact's name, or 'not' and one, or several joined by ' & '."""
    holds = np.ones(len(next(iter(facts.values()))), bool)
    for part in expression.split(SEPARATOR):
        name = part.removeprefix("not ")
        holds &= ~facts[name] if part.startswith("not ") else facts[name]
    return holds


def check_fact(expression: str, game: str, option_name: str) -> None:
    """A one-line error unless every part of ``expression`` names a binary fact of ``game`` (perhaps after 'not')."""
    names = list(binary_descriptions(game=game))
    for fact in (part.removeprefix("not ") for part in expression.split(SEPARATOR)):
        require(fact in names, f"{option_name} '{expression}': '{fact}' is not a fact of {game}; close names: "
                f"{', '.join(difflib.get_close_matches(fact, names, 5, 0.5)) or 'none'}")


def choose_starts(rec: Recording, where: str | None, n: int, seed: int) -> Starts:
    """``n`` recorded states (drawn with ``seed``) where ``where`` holds and the game goes on, ready to play on."""
    states = select_states(rec, STARTS_FROM)
    ok = ~np.asarray(rec.dones)[states]
    if where is not None:
        ok &= fact_holds(binary_facts(state_facts(rec, states), rec.manifest["game"]), where)
    candidates = states[ok]
    require(len(candidates) >= n, f"--starts {n}: the recording has {len(candidates)} such states"
            + (f" (where {where})" if where else "") + f" among its first {len(states)}")
    return restart(rec, np.sort(np.random.default_rng(seed).choice(candidates, n, replace=False)))


def restart(rec: Recording, chosen: np.ndarray) -> Starts:
    """The recording's states ``chosen``, re-created by replay to play on from."""
    try:
        obs, blobs = rec.restart_points(chosen)
    except ReplayMismatch as err:
        raise UserError(f"--starts: cannot re-create the recording's states here: {err}") from None
    return Starts(chosen, obs, blobs, np.asarray(rec.episode_steps)[chosen])


def player_position(ram: np.ndarray, game: str) -> tuple[np.ndarray, np.ndarray]:
    """The player's screen x and y at each step, from the game spec (empty where the spec has none)."""
    spec = game_spec(game)
    if spec.position is None:
        return np.zeros(0), np.zeros(0)
    facts = decode_facts(ram, game=game)
    x, y = (np.full(len(ram), float(v)) if isinstance(v, (int, float)) else facts[v] for v in spec.position)
    return x, y


def top_features(interpret_dir: Path, n: int) -> list[int]:
    """The ``n`` live features whose labels have the highest held-out AUROC."""
    result = load_result(interpret_dir)
    score = np.where(result.alive, np.nan_to_num(result.label_scores.auroc, nan=0.0), -np.inf)
    return [int(f) for f in np.argsort(-score, kind="stable")[:n] if result.alive[f]]


# Settings that decide a feature's result: a rerun on the same --out must match them to reuse results.
SETTINGS = ("mode", "strength", "interpret", "recording", "episodes", "num_envs", "epsilon", "seed", "max_steps",
            "gif_steps", "goal", "goal_steps", "starts", "start_where", "act")


def _settings(config: dict[str, Any], sae_folder: Path, cwd: Path = Path()) -> dict[str, Any]:
    """The SETTINGS of a config dict, with paths resolved (one folder spelled two ways is one folder), relative
    ones against ``cwd``."""
    out = {k: config.get(k) for k in SETTINGS}  # a setting added since is None (its default) in older results
    if out["goal"] is None and not out["starts"]:  # then its step budget decides nothing (older results lack both)
        out["goal_steps"] = None
    out["starts"] = out["starts"] or 0  # older results lack it
    out["act"] = out["act"] or "greedy"  # older results lack it too: they played greedy
    for k in ("interpret", "recording"):
        out[k] = None if out[k] is None else str((cwd / out[k]).resolve())
    return {"sae": str(Path(sae_folder).resolve()), **out}


def _run_directory(sae_resolved: str, sae_given: str) -> Path:
    """Where a steer run that stored its paths as given (older rlsae) ran: the resolved SAE folder less the
    given spelling; the current directory when they do not line up (or the paths were stored resolved)."""
    given, resolved = Path(sae_given).parts, Path(sae_resolved).parts
    if Path(sae_given).is_absolute() or not given or resolved[-len(given):] != given:
        return Path()
    return Path(*resolved[: -len(given)])


def _finished(cfg: SteerConfig, sae_folder: Path) -> dict[int, SteeredFeature]:
    """Results already in ``cfg.out`` (feature -> result), if they were made with the same settings."""
    path = cfg.out / RESULTS
    if not path.exists():
        return {}
    document = SteeringRun.load(path)
    try:
        config = document.config
        before = _settings(config, document.sae, _run_directory(document.sae, config["sae"]))
    except (KeyError, TypeError, ValueError):
        raise UserError(f"'{path}' is not a steering result of this rlsae: choose another --out") from None
    now = _settings(to_dict(cfg), sae_folder)
    results = {r.feature: r for r in document.results}
    changed = [k for k in now if before[k] != now[k]]
    require(not changed, f"'{cfg.out}' holds steering results made with other settings ({', '.join(changed)}): "
            "use the same settings to add features to it, or another --out")
    return results


def steer_features(sae_folder: Path, features: list[int], cfg: SteerConfig) -> list[SteeredFeature]:
    """Steer each of ``features`` in turn (one set of clean games serves them all); write and return results.

    ``steering.json`` is rewritten after every feature, so an interrupted run keeps the finished ones;
    features already in it (with the same settings) are not steered again.
    """
    sae = load_sae(sae_folder, cfg.device)
    for f in features:
        require(0 <= f < sae.d_sae, f"feature {f} out of range [0, {sae.d_sae}) for the SAE at '{sae_folder}'")
    done = _finished(cfg, sae_folder)
    todo = [f for f in dict.fromkeys(features) if f not in done]
    if len(todo) < len(set(features)):
        print(f"{len(set(features)) - len(todo)} of {len(set(features))} features already steered in '{cfg.out}'")
    if todo:
        _steer(sae, sae_folder, todo, cfg, done)
    if cfg.json is not None:
        write_results(Path(cfg.json), read_json(cfg.out / RESULTS, "steering results"), "--json")
    return [done[f] for f in features]


def _steer(sae: SparseAutoencoder, sae_folder: Path, features: list[int], cfg: SteerConfig,
           done: dict[int, SteeredFeature]) -> None:
    """Steer ``features``, adding each result to ``done`` and saving them all after each one."""
    rec = sae_recording(sae_folder, cfg.recording)
    rec.use_agent(cfg.agent, cfg.device)
    check_act(cfg.act, rec.output)
    model, _ = rec.load_agent(cfg.device)
    layer, game = rec.manifest["layer"], rec.manifest["game"]
    for expression, option_name in ((cfg.goal, "--goal"), (cfg.start_where, "--start-where")):
        if expression is not None:  # before any game is played
            check_fact(expression, game, option_name)
    starts = choose_starts(rec, cfg.start_where, cfg.starts, cfg.seed) if cfg.starts else None
    clean = play(model, layer, game, cfg, sae=sae if cfg.interpret is None else None, starts=starts)
    goal_clean = None if cfg.goal is None else goal_reached(clean, game, cfg.goal, cfg.goal_steps)
    if cfg.interpret is not None:
        max_act = load_result(cfg.interpret).max_activation
        require(len(max_act) == sae.d_sae, f"'{cfg.interpret}' describes {len(max_act)} features, the SAE has "
                f"{sae.d_sae}: pass the interpret output of this SAE")
        source = f"interpret output {cfg.interpret}"
    else:
        max_act, source = clean.max_activation, "the clean agent's own games"
    cfg.out.mkdir(parents=True, exist_ok=True)
    n_actions = int(rec.manifest["n_actions"])
    for f in ProgressBar(features, desc="steering", unit="feature", disable=not cfg.progress or len(features) < 2):
        value = 0.0 if cfg.mode == "ablate" else cfg.strength * float(max_act[f])
        steered = play(model, layer, game, cfg, steering_hook(sae, f, cfg.mode, value), desc=f"feature {f}",
                       starts=starts)
        folder = cfg.out / f"feature_{f:05d}"
        folder.mkdir(exist_ok=True)
        heatmap = heatmap_png(folder / "heatmap.png", clean.background,
                              [("clean", clean.player_x, clean.player_y),
                               (f"{cfg.mode} #{f}", steered.player_x, steered.player_y)],
                              game_spec(game).playfield) if len(clean.player_x) else None
        gif = save_gif(folder / "game.gif", steered.gif_frames) if steered.gif_frames else None
        p_clean = action_distribution(steered.clean_actions, n_actions)
        p_steered = action_distribution(steered.actions, n_actions)
        done[f] = SteeredFeature(
            feature=f, mode=cfg.mode, strength=cfg.strength, value=value, max_activation=float(max_act[f]),
            max_activation_source=source, tv_distance=total_variation(p_clean, p_steered),
            score_clean=float(np.mean(clean.scores)), score_steered=float(np.mean(steered.scores)),
            action_clean=p_clean.tolist(), action_steered=p_steered.tolist(),
            action_clean_own_games=action_distribution(clean.actions, n_actions).tolist(),
            scores_clean=clean.scores, scores_steered=steered.scores, truncated_clean=clean.truncated,
            truncated_steered=steered.truncated, steps_steered=len(steered.actions),
            heatmap=None if heatmap is None else str(heatmap.relative_to(cfg.out)),
            gif=None if gif is None else str(gif.relative_to(cfg.out)),
            # with starts, scores are points over --goal-steps from those states
            starts=None if starts is None else StartsUsed(len(starts.states), cfg.start_where, cfg.goal_steps),
            **({} if cfg.goal is None else {
                "goal": cfg.goal, "goal_steps": cfg.goal_steps, "goal_clean": goal_clean,
                "goal_steered": goal_reached(steered, game, cfg.goal, cfg.goal_steps)}))
        SteeringRun(sae=str(Path(sae_folder).resolve()), recording=str(rec.path.resolve()),
                    # paths stored resolved: a rerun from another directory still finds them the same
                    config={**to_dict(cfg), **_settings(to_dict(cfg), sae_folder)}, provenance=provenance(),
                    results=list(done.values())).save(cfg.out / RESULTS)


def steer(cfg: SteerConfig) -> list[SteeredFeature]:
    """Run the experiment ``cfg`` describes (one feature, or the top N of an interpret output)."""
    features = [cfg.feature] if cfg.feature is not None else top_features(cfg.interpret, cfg.top)
    require(bool(features), f"no live features in '{cfg.interpret}' to steer")
    return steer_features(cfg.sae, features, cfg)


def load_steering(folder: Path) -> list[SteeredFeature]:
    """Results of a ``rlsae steer --out folder`` run, with heatmap/gif as absolute paths."""
    path = Path(folder) / RESULTS
    if not path.is_file():
        raise UserError(f"no steering results at '{folder}': expected {RESULTS} written by `rlsae steer`")

    def absolute(name: str | None) -> str | None:
        return None if name is None else str(Path(folder) / name)

    return [replace(r, heatmap=absolute(r.heatmap), gif=absolute(r.gif)) for r in SteeringRun.load(path).results]


def goal_change(result: SteeredFeature) -> dict[str, Any]:
    """Paired over the same games (seeds or recorded starts): the share reaching the goal clean and steered,
    the games only the steered agent brought there (``gained``) and those only the clean one did (``lost``),
    and the two-sided exact binomial (McNemar) p-value of that split."""
    assert result.goal_clean is not None and result.goal_steered is not None
    clean = np.array([step is not None for step in result.goal_clean.first_step])
    steered = np.array([step is not None for step in result.goal_steered.first_step])
    gained, lost = int((steered & ~clean).sum()), int((clean & ~steered).sum())
    p = binomtest(gained, gained + lost).pvalue if gained + lost else 1.0
    return {"clean": float(clean.mean()), "steered": float(steered.mean()), "games": len(clean),
            "gained": gained, "lost": lost, "p": float(p)}


def describe_goal(result: SteeredFeature) -> str:
    """One sentence on a steered feature's goal, paired game by game ('' without a goal)."""
    if result.goal is None:
        return ""
    g = goal_change(result)
    starts = result.starts
    where = (f" from {starts.n} recorded states" + (f" where {starts.where}" if starts.where else "")
             if starts else "")
    return (f"{result.goal} within {result.goal_steps} steps{where}: {g['clean']:.0%} -> {g['steered']:.0%} "
            f"of {g['games']} games ({g['gained']} gained, {g['lost']} lost; paired p = {g['p']:.2g})")


def format_results(results: list[SteeredFeature]) -> str:
    def goal(r: SteeredFeature) -> str:
        return f"; {describe_goal(r)}" if r.goal is not None else ""
    return "\n".join(f"feature {r.feature} {r.mode} x{r.strength:g} (value {r.value:.3g}): "
                     f"action TV {r.tv_distance:.3f}, score {r.score_clean:.0f} -> {r.score_steered:.0f}"
                     + goal(r) for r in results)


def main(cfg: SteerConfig) -> None:
    """The CLI: steer, then print one line per feature."""
    print(format_results(steer(cfg)))
    print(f"written to {cfg.out / RESULTS}")
