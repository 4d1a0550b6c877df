"""`rlsae steer-bench`: are SAE features better handles on the agent's behaviour than neurons, probes and noise?

For each steering goal of the game's spec (``SteeringGoal``: a fact to reach within N steps, or to keep
throughout them), from recorded mid-game states from which the recording's agent did not meet it:

1. The starts are split by episode into fit starts (handles are chosen on them) and held-out starts (they
   are scored on them).
2. Handles are unit directions in the layer, each added at a few L2 sizes (multiples of the layer's mean
   activation norm), so every edit changes the activation by exactly the same amount:
   - the best feature and the best neuron (either sign): every live one is ranked by a one-step push (how
     far adding it moves the greedy action towards the actions the agent takes on its way to the goal, on
     the Q-head), the top ``--screen`` are played from a few fit starts, the best ``--confirm`` of those from
     all of them;
   - the feature whose interpret AUROC for the goal's fact is highest (with ``--interpret``);
   - the linear-probe direction and the difference of means of the layer between recorded states that reach
     the goal within its horizon and those that do not (fit episodes only);
   - controls: a random live feature, the best feature sign-flipped, and fresh Gaussian noise at every step.
3. Scores on the held-out starts: success with its Wilson 95% interval, the paired change against the
   clean agent from the same starts (McNemar exact), the points scored over the goal's steps, and how much
   the policy moves on states unrelated to the goal (where it already holds): the share of those whose
   greedy action changes.

    OUT/
      steer_bench.json   every goal finished so far (an interrupted run continues from it)
      steer_bench.png    success per goal and handle at the largest size
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import binomtest

from rlsae.agents.protocol import AGENT_HELP
from rlsae.agents.rollout import Starts
from rlsae.analysis.interpret import sae_recording
from rlsae.analysis.per_fact import logistic_regression
from rlsae.analysis.results import load_result
from rlsae.analysis.states import select_states, state_facts
from rlsae.analysis.steer import Play, SteerConfig, check_fact, fact_holds, goal_reached, play, restart
from rlsae.analysis.steer_bench_results import CONTROLS, GoalBench, HandleScore, Screened, SteerBenchRun
from rlsae.common.errors import UserError
from rlsae.common.files import atomic_path
from rlsae.common.hooks import HookFn
from rlsae.common.records import plain
from rlsae.common.runtime import PLAY_DEVICE_HELP, provenance, resolve_device
from rlsae.config import check_options, option, require, to_dict
from rlsae.envs.conjunctions import SEPARATOR
from rlsae.envs.facts import binary_facts
from rlsae.envs.games import game_spec
from rlsae.envs.games.spec import SteeringGoal
from rlsae.envs.sequences import within_next
from rlsae.record.recording import Recording
from rlsae.sae import SparseAutoencoder, load_sae
from rlsae.sae.io import SAE_HELP, sae_folder

RESULTS = "steer_bench.json"
PICTURE = "steer_bench.png"
Z95 = 1.959963984540054


@dataclass
class SteerBenchConfig:
    sae: Path = option(Path("runs/sae"), SAE_HELP)
    interpret: Path | None = option(None, "interpret output of the SAE: adds the feature its AUROC points to for "
                                    "each goal's fact")
    recording: Path | None = option(None, "recording whose agent is steered and whose states are the starts "
                                    "(default: the SAE's, from cfg.json)")
    agent: str | None = option(None, "the recording's " + AGENT_HELP + " (only if it cannot be rebuilt)")
    goals: tuple[str, ...] = option((), "steering goals of the game's spec, by name (default: all of them)")
    fit_starts: int = option(4, "starts per goal the handles are chosen on", low=1)
    held_starts: int = option(12, "held-out starts per goal the handles are scored on", low=1)
    screen: int = option(4, "features (and neurons) with the best one-step push played in the screening", low=1)
    screen_starts: int = option(2, "fit starts each screened unit plays from", low=1)
    confirm: int = option(2, "screened features (and neurons) played from every fit start", low=1)
    sizes: tuple[float, ...] = option((0.2,), "L2 norms of the edit, as multiples of the layer's mean "
                                      "activation norm (one feature makes ~0.03-0.1 of it)", gt=0)
    imminent: int = option(30, "a start of a goal kept throughout its steps must not fail within this many recorded "
                           "steps (a loss it cannot avoid)", low=1)
    unrelated: int = option(512, "states (where the goal already holds) the policy movement is measured on", low=1)
    max_states: int = option(200_000, "recorded states (whole episodes) starts and directions are drawn from",
                             low=100)
    epsilon: float = option(0.01, "probability of a random action, as in record (same draws in every condition)",
                            low=0, high=1)
    num_envs: int = option(16, "games played in parallel", low=1, high=4096)
    seed: int = option(1, "seed for the starts, the random controls and the random actions", low=0)
    out: Path = option(Path("runs/steer-bench"), "output folder; goals already benchmarked there with the same "
                       "settings are kept and skipped")
    device: str = option("cpu", PLAY_DEVICE_HELP)
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        check_options(self)
        require(self.confirm <= self.screen, f"--confirm {self.confirm} must be at most --screen {self.screen}")
        require(len(self.sizes) > 0, "--sizes needs at least one size")
        self.sae, self.out = sae_folder(self.sae), Path(self.out)
        self.sizes = tuple(sorted(float(s) for s in self.sizes))
        self.device = resolve_device(self.device)


@dataclass
class Layer:
    """What the benchmark knows of the steered layer: its Q-head, its mean norm, the SAE's live features."""

    weight: np.ndarray  # [n_actions, d]
    bias: np.ndarray    # [n_actions]
    norm: float
    live: np.ndarray    # live feature indices
    decoder: np.ndarray  # [d_sae, d] unit decoder directions


@dataclass
class Handle:
    name: str
    unit: int | None
    direction: np.ndarray | None  # unit vector; None: fresh Gaussian noise each step


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """Paired successes: (a only, b only, exact two-sided p of that split)."""
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    return only_a, only_b, float(binomtest(only_a, only_a + only_b).pvalue) if only_a + only_b else 1.0


def goal_table(goals: tuple[str, ...], game: str) -> list[SteeringGoal]:
    """The game spec's steering goals named by ``goals`` (all of them when empty)."""
    declared = {g.name: g for g in game_spec(game).steering_goals}
    require(bool(declared), f"the game spec of {game} declares no steering goals")
    for name in goals:
        require(name in declared, f"--goals: '{name}' is not a steering goal of {game}; close names: "
                f"{', '.join(difflib.get_close_matches(name, list(declared), 5, 0.5)) or 'none'} (all: "
                f"{', '.join(declared)})")
    return [declared[n] for n in dict.fromkeys(goals)] if goals else list(declared.values())


def negation(expression: str) -> str:
    """The expression that fails where a single (possibly negated) fact holds."""
    require(SEPARATOR not in expression, f"a 'throughout' goal must be one fact or 'not FACT', got '{expression}'")
    return expression.removeprefix("not ") if expression.startswith("not ") else f"not {expression}"


@dataclass
class Labels:
    """Per selected recorded state: where the goal is still open (``open``: the probe is fitted there), met within
    its horizon in the recording, eligible as a start (open and not met), unrelated to it."""

    states: np.ndarray
    episodes: np.ndarray
    open: np.ndarray
    eligible: np.ndarray
    reached: np.ndarray
    unrelated: np.ndarray


def goal_labels(rec: Recording, states: np.ndarray, facts: dict[str, np.ndarray], goal: SteeringGoal,
                imminent: int) -> Labels:
    """Labels of the recorded ``states`` for ``goal``. A start is a state from which the recording's agent did not
    meet the goal: a 'once' goal does not hold and does not come within its horizon; a 'throughout' goal holds but
    fails within its horizon, though not within ``imminent`` steps. Unrelated states are those where a 'once'
    goal already holds (any state for a 'throughout' goal)."""
    order = np.lexsort((rec.episode_steps[states], rec.episode_ids[states]))  # episodes in play order
    episodes = rec.episode_ids[states]
    holds = fact_holds(facts, goal.expression)
    alive = ~np.asarray(rec.dones)[states]

    def ahead(event: np.ndarray, horizon: int) -> np.ndarray:
        out = np.empty(len(event), bool)
        out[order] = within_next(event[order], episodes[order], horizon)
        return out

    # an episode the recording (or the selection) cut off has no future to judge its last steps by
    last = np.zeros(len(states), bool)
    last[order] = np.r_[episodes[order][1:] != episodes[order][:-1], True]
    ep = rec.episodes
    unknown = ahead(last & ~ep["complete"][np.searchsorted(ep["episode_id"], episodes)], goal.horizon)
    if goal.holds == "once":
        still, reached, unrelated = alive & ~holds, ahead(holds, goal.horizon), holds
        eligible = still & ~reached & ~unknown
    else:
        fails = ~holds
        still, reached, unrelated = alive & holds, ~ahead(fails, goal.horizon), np.ones(len(states), bool)
        eligible = still & ~reached & ~ahead(fails, imminent) & ~unknown
    return Labels(states, episodes, still, eligible, reached, unrelated)


def split_starts(labels: Labels, n_fit: int, n_held: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit starts, held-out starts, fit mask over the states): episodes are dealt to fit or held at random, so
    no held-out start shares a game with a start the handles were chosen on."""
    rng = np.random.default_rng(seed)
    ids = np.unique(labels.episodes)
    fit_episodes = rng.permutation(ids)[: max(1, len(ids) // 2)]
    fit = np.isin(labels.episodes, fit_episodes)
    chosen = []
    for part, n, name in ((fit, n_fit, "--fit-starts"), (~fit, n_held, "--held-starts")):
        pool = np.flatnonzero(labels.eligible & part)
        require(len(pool) >= n, f"{name} {n}: only {len(pool)} recorded states suit it (the goal open and "
                "not met by the recording's agent in its steps) in that half of the episodes; ask for fewer or record "
                "more")
        chosen.append(np.sort(rng.choice(pool, n, replace=False)))
    return chosen[0], chosen[1], fit


def layer_facts(rec: Recording, sae: SparseAutoencoder, states: np.ndarray, interpret: Path | None) -> Layer:
    """The head, the mean activation norm and the live features (interpret's, or those firing on ``states``)."""
    sample = np.sort(np.random.default_rng(0).choice(states, min(len(states), 4096), replace=False))
    acts = np.asarray(rec.activations[sample], np.float32)
    if interpret is not None:
        result = load_result(interpret)
        require(len(result.alive) == sae.d_sae, f"'{interpret}' describes {len(result.alive)} features, the SAE "
                f"has {sae.d_sae}: pass the interpret output of this SAE")
        live = np.flatnonzero(result.alive)
    else:
        with torch.no_grad():
            live = np.flatnonzero((sae.encode(torch.from_numpy(acts)) > 0).any(0).numpy())
    require(len(live) >= 2, "the SAE has fewer than 2 live features: nothing to benchmark")
    decoder = sae.W_dec.detach().float().numpy()
    return Layer(rec.head_weight, rec.head[1], float(np.linalg.norm(acts, axis=1).mean()), live,
                 decoder / np.maximum(np.linalg.norm(decoder, axis=1, keepdims=True), 1e-12))


def greedy(layer: Layer, acts: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[c, m] greedy actions on ``acts`` [m, d] with each of ``shift`` [c, d] added."""
    base = acts @ layer.weight.T + layer.bias
    return (base[None] + (shift @ layer.weight.T)[:, None]).argmax(2)


def action_push(layer: Layer, acts: np.ndarray, actions: np.ndarray, reached: np.ndarray,
                candidates: np.ndarray, size: float) -> np.ndarray:
    """Per candidate direction: how far adding it at ``size`` moves the greedy actions on ``acts`` towards the
    actions the agent took on its way to the goal (log-ratio of the actions' frequencies, reached vs not)."""
    n_actions = layer.weight.shape[0]
    counts = [np.bincount(actions[mask], minlength=n_actions) + 1.0 for mask in (reached, ~reached)]
    weight = np.log(counts[0] / counts[0].sum()) - np.log(counts[1] / counts[1].sum())
    clean = weight[greedy(layer, acts, np.zeros((1, acts.shape[1])))[0]].mean()
    pushed = np.concatenate([weight[greedy(layer, acts, size * chunk)].mean(1)
                             for chunk in np.array_split(candidates, max(1, len(candidates) // 256))])
    return pushed - clean


def fitted_directions(acts: np.ndarray, reached: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(probe direction, difference of means, the probe's accuracy on these states), unit vectors pointing
    towards 'reached'."""
    require(0 < reached.sum() < len(reached), "the fit states all reach the goal or none does: no probe or "
            "difference of means can be fitted (record more, or raise --max-states)")
    means = acts[reached].mean(0) - acts[~reached].mean(0)
    mu, sd = acts.mean(0), acts.std(0) + 1e-6
    w = logistic_regression((acts - mu) / sd, reached.astype(np.float64))
    accuracy = float(((((acts - mu) / sd) @ w[:-1] + w[-1] > 0) == reached).mean())
    probe = w[:-1] / sd  # the same boundary in the raw activations
    return unit(probe), unit(means), accuracy


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def adder(shifts: np.ndarray, noise: np.ndarray, seed: int) -> HookFn:
    """A hook adding ``shifts[i]`` to env i's activation, and fresh Gaussian noise of L2 norm ``noise[i]``."""
    shift, sizes = torch.from_numpy(shifts.astype(np.float32)), torch.from_numpy(noise.astype(np.float32))
    generator = torch.Generator().manual_seed(seed)

    def edit(act: torch.Tensor) -> torch.Tensor:
        fresh = torch.randn(act.shape, generator=generator)
        fresh = fresh / fresh.norm(dim=1, keepdim=True) * sizes[:, None]
        return act + (shift + fresh).to(act.device, act.dtype)
    return edit


@dataclass
class Outcome:
    reached: np.ndarray   # [games] bool, in the order asked
    scores: np.ndarray    # [conditions] mean points over the goal's steps


class Player:
    """Plays batches of (start, edit) games for one goal's steps, ``num_envs`` at a time."""

    def __init__(self, rec: Recording, model: torch.nn.Module, cfg: SteerBenchConfig, goal: SteeringGoal,
                 starts: Starts):
        self.model, self.layer, self.game = model, rec.manifest["layer"], rec.manifest["game"]
        self.cfg, self.goal, self.starts = cfg, goal, starts
        self.steer = SteerConfig(sae=cfg.sae, feature=0, num_envs=cfg.num_envs, epsilon=cfg.epsilon, seed=cfg.seed,
                                 gif_steps=0, goal_steps=goal.horizon, device=cfg.device, progress=cfg.progress)
        self.target = goal.expression if goal.holds == "once" else negation(goal.expression)

    def __call__(self, starts: np.ndarray, shifts: list[np.ndarray], noise: list[float], desc: str) -> Outcome:
        """Each condition c (``shifts[c]`` added, noise of norm ``noise[c]``) from every one of ``starts``
        (positions in ``self.starts``): reached [conditions x starts] flattened, and mean scores per condition."""
        games = [(c, s) for c in range(len(shifts)) for s in starts]
        reached, points = np.zeros(len(games), bool), np.zeros(len(shifts))
        for begin in range(0, len(games), self.cfg.num_envs):
            batch = games[begin: begin + self.cfg.num_envs]
            pick = [s for _, s in batch]
            chunk = Starts(self.starts.indices[pick], self.starts.obs[pick], [self.starts.states[i] for i in pick],
                           self.starts.episode_steps[pick])
            edit = adder(np.stack([shifts[c] for c, _ in batch]), np.array([noise[c] for c, _ in batch]),
                         self.cfg.seed + begin)
            played = play(self.model, self.layer, self.game, self.steer, edit, desc=desc, starts=chunk)
            first = goal_reached(played, self.game, self.target, self.goal.horizon).first_step
            hit = np.array([f is not None for f in first])
            reached[begin: begin + len(batch)] = hit if self.goal.holds == "once" else ~hit
            for (c, _), score in zip(batch, _scores_per_env(played, len(batch))):
                points[c] += score
        return Outcome(reached, points / len(starts))


def _scores_per_env(played: Play, n: int) -> np.ndarray:
    """Points each env's single game scored. ``rollout`` lists scores in the order games ended, those ending
    on the same step in env order; every game here starts on step 0, so its last step orders it."""
    ends = np.array([played.game_steps[played.games == g].max() for g in range(n)])
    order = np.lexsort((np.arange(n), ends))  # games that end together end in env order
    scores = np.zeros(n)
    scores[order] = played.scores
    return scores


def screen_units(player: Player, directions: np.ndarray, proxy: np.ndarray, units: np.ndarray, signs: np.ndarray,
                 cfg: SteerBenchConfig, size: float, fit: np.ndarray, kind: str) -> list[Screened]:
    """The top ``cfg.screen`` candidates by ``proxy`` played from the first fit starts, then the best
    ``cfg.confirm`` of those from all of them; returned best first."""
    top = np.argsort(-proxy, kind="stable")[: cfg.screen]
    few = fit[: cfg.screen_starts]
    shots = player(few, [size * directions[i] for i in top], [0.0] * len(top), f"screening {kind}s")
    screened = shots.reached.reshape(len(top), len(few)).sum(1)
    order = np.lexsort((-proxy[top], -screened))
    finalists = top[order[: cfg.confirm]]
    confirmed = player(fit, [size * directions[i] for i in finalists], [0.0] * len(finalists),
                       f"confirming {kind}s").reached.reshape(len(finalists), len(fit)).sum(1)
    confirm = dict(zip(finalists.tolist(), confirmed.tolist()))
    result = [Screened(int(units[i]), int(signs[i]), float(proxy[i]), int(screened[j]), confirm.get(int(i)))
              for j, i in enumerate(top)]
    return sorted(result, key=lambda s: (-(s.confirm_successes if s.confirm_successes is not None else -1),
                                         -s.screen_successes, -s.proxy))


def labeled_feature(interpret: Path, expression: str, live: np.ndarray) -> int | None:
    """The live feature whose held-out AUROC for the goal's fact (oriented as the expression) is highest."""
    result = load_result(interpret)
    part = expression.split(SEPARATOR)[0]
    name = part.removeprefix("not ")
    if name not in result.fact_names:
        return None
    auroc = np.nan_to_num(result.fact_auroc[:, result.fact_names.index(name)], nan=0.5)
    auroc = 1 - auroc if part.startswith("not ") else auroc
    return int(live[np.argmax(auroc[live])])


def bench_goal(rec: Recording, model: torch.nn.Module, layer: Layer, facts: dict[str, np.ndarray],
               states: np.ndarray, goal: SteeringGoal, cfg: SteerBenchConfig) -> GoalBench:
    """Choose every handle on the fit starts and score them on the held-out ones."""
    labels = goal_labels(rec, states, facts, goal, cfg.imminent)
    fit_pos, held_pos, fit_mask = split_starts(labels, cfg.fit_starts, cfg.held_starts, cfg.seed)
    try:
        starts = restart(rec, states[np.r_[fit_pos, held_pos]])
    except UserError as err:
        raise UserError(f"goal {goal.name}: {err}") from None
    fit, held = np.arange(len(fit_pos)), len(fit_pos) + np.arange(len(held_pos))
    player = Player(rec, model, cfg, goal, starts)
    rng = np.random.default_rng(cfg.seed)

    fit_states = np.flatnonzero(labels.open & fit_mask)
    fit_states = np.sort(rng.choice(fit_states, min(len(fit_states), 8000), replace=False))
    acts = np.asarray(rec.activations[states[fit_states]], np.float32)
    reached = labels.reached[fit_states]
    probe, means, accuracy = fitted_directions(acts, reached)
    size = cfg.sizes[-1] * layer.norm
    few = np.sort(rng.choice(len(acts), min(len(acts), 512), replace=False))
    actions = np.asarray(rec.actions[states[fit_states]], np.int64)
    d = acts.shape[1]

    def push(directions: np.ndarray) -> np.ndarray:  # at the smallest size: a large push saturates on one action
        return action_push(layer, acts[few], actions, reached, directions, cfg.sizes[0] * layer.norm)

    feature_dirs = layer.decoder[layer.live]
    features = screen_units(player, feature_dirs, push(feature_dirs), layer.live, np.ones(len(layer.live), int),
                            cfg, size, fit, "feature")
    neuron_dirs = np.concatenate([np.eye(d), -np.eye(d)]).astype(np.float32)
    neuron_units, neuron_signs = np.r_[np.arange(d), np.arange(d)], np.r_[np.ones(d, int), -np.ones(d, int)]
    neurons = screen_units(player, neuron_dirs, push(neuron_dirs), neuron_units, neuron_signs, cfg, size, fit,
                           "neuron")

    best, neuron = features[0].unit, neurons[0]
    others = layer.live[layer.live != best]
    handles = []
    if cfg.interpret is not None and (f := labeled_feature(cfg.interpret, goal.expression, layer.live)) is not None:
        handles.append(Handle("labeled feature", f, layer.decoder[f]))
    handles += [Handle("best feature", best, layer.decoder[best]),
                Handle("best neuron", neuron.unit, neuron.sign * np.eye(d, dtype=np.float32)[neuron.unit]),
                Handle("probe", None, probe), Handle("difference of means", None, means)]
    random_feature = int(rng.choice(others))
    handles += [Handle(CONTROLS[0], random_feature, layer.decoder[random_feature]),
                Handle(CONTROLS[1], best, -layer.decoder[best]), Handle(CONTROLS[2], None, None)]

    conditions = [(None, 0.0)] + [(h, s) for s in cfg.sizes for h in handles]
    shifts = [np.zeros(d) if h is None or h.direction is None else s * layer.norm * h.direction
              for h, s in conditions]
    noise = [s * layer.norm if h is not None and h.direction is None else 0.0 for h, s in conditions]
    outcome = player(held, shifts, noise, f"{goal.name}: held-out")
    reached_held = outcome.reached.reshape(len(conditions), len(held))
    clean = reached_held[0]

    unrelated = np.flatnonzero(labels.unrelated & ~fit_mask)
    unrelated = np.sort(rng.choice(unrelated, min(len(unrelated), cfg.unrelated), replace=False))
    u_acts = np.asarray(rec.activations[states[unrelated]], np.float32)
    scores = []
    for c, ((handle, s), hits) in enumerate(zip(conditions, reached_held)):
        if handle is None:
            continue
        gained, lost, p = mcnemar(hits, clean)
        low, high = wilson(int(hits.sum()), len(hits))
        scores.append(HandleScore(handle.name, handle.unit, s * layer.norm, s, float(hits.mean()), low, high,
                                  hits.tolist(), gained, lost, p, float(outcome.scores[c] - outcome.scores[0]),
                                  policy_movement(layer, u_acts, handle, s * layer.norm, rng)))
    return GoalBench(goal.name, goal.expression, goal.horizon, goal.holds, states[fit_pos].tolist(),
                     states[held_pos].tolist(), float(clean.mean()), clean.tolist(), float(outcome.scores[0]),
                     features, neurons, accuracy, scores, best_against(scores, cfg.sizes[-1]))


def policy_movement(layer: Layer, acts: np.ndarray, handle: Handle, size: float, rng: np.random.Generator) -> float:
    """Share of ``acts`` whose greedy action the edit changes (mean total variation of the greedy policies)."""
    if not len(acts):
        return float("nan")
    if handle.direction is None:
        noise = rng.standard_normal(acts.shape)
        shift = size * noise / np.linalg.norm(noise, axis=1, keepdims=True)
        edited = (((acts + shift) @ layer.weight.T) + layer.bias).argmax(1)
    else:
        edited = greedy(layer, acts, size * handle.direction[None])[0]
    return float((edited != greedy(layer, acts, np.zeros((1, acts.shape[1])))[0]).mean())


def best_against(scores: list[HandleScore], ratio: float) -> dict[str, float]:
    """At ``ratio``: the best feature's McNemar p against the best neuron and each control, signed negative
    where the other handle succeeded more often."""
    at = {s.handle: s for s in scores if s.size_ratio == ratio}
    best = np.array(at["best feature"].reached)
    out = {}
    for name in ("best neuron", "probe", "difference of means", *CONTROLS):
        other = np.array(at[name].reached)
        wins, losses, p = mcnemar(best, other)
        out[name] = p if wins >= losses else -p
    return out


def beats_all(goal: GoalBench, alpha: float = 0.05) -> bool:
    """The issue's test: the best feature beats every control and the best neuron (p < alpha, paired) while
    moving the policy on unrelated states less than every control does."""
    at = at_largest(goal)
    rivals = ("best neuron", *CONTROLS)
    return (all(0 < goal.best_vs[r] < alpha for r in rivals)
            and all(at["best feature"].policy_tv < at[c].policy_tv for c in CONTROLS))


# Settings that decide a goal's result: a rerun on the same --out must match them to reuse results.
SETTINGS = ("sae", "interpret", "recording", "fit_starts", "held_starts", "screen", "screen_starts", "confirm",
            "sizes", "imminent", "unrelated", "max_states", "epsilon", "num_envs", "seed")


def _settings(cfg: SteerBenchConfig | dict[str, Any]) -> dict[str, Any]:
    config = to_dict(cfg) if isinstance(cfg, SteerBenchConfig) else cfg
    out = {k: config.get(k) for k in SETTINGS}
    for k in ("sae", "interpret", "recording"):
        out[k] = None if out[k] is None else str(Path(out[k]).resolve())
    out["sizes"] = [float(s) for s in out["sizes"] or ()]
    return out


def _finished(cfg: SteerBenchConfig) -> dict[str, GoalBench]:
    """Goals already benchmarked in ``cfg.out`` with the same settings."""
    path = cfg.out / RESULTS
    if not path.exists():
        return {}
    before = SteerBenchRun.load(path)
    changed = [k for k, v in _settings(cfg).items() if _settings(before.config).get(k) != v]
    require(not changed, f"'{cfg.out}' holds a benchmark made with other settings ({', '.join(changed)}): use the "
            "same settings to continue it, or another --out")
    return {g.goal: g for g in before.goals}


def steer_bench(cfg: SteerBenchConfig, goals: list[SteeringGoal] | None = None) -> SteerBenchRun:
    """Benchmark ``goals`` (default: the game spec's that ``cfg.goals`` names), saving after each; goals already
    in ``cfg.out`` are not played again."""
    sae = load_sae(cfg.sae, cfg.device)
    rec = sae_recording(cfg.sae, cfg.recording)
    rec.use_agent(cfg.agent, cfg.device)
    game = rec.manifest["game"]
    goals = goals or goal_table(cfg.goals, game)
    for goal in goals:
        check_fact(goal.expression, game, f"the {game} spec's goal {goal.name}")
        if goal.holds == "throughout":
            negation(goal.expression)
    require(rec.head is not None, f"the recording's layer '{rec.manifest['layer']}' is not read by a known linear "
            "Q-head: steer-bench screens edits on the head")
    done = _finished(cfg)
    model, _ = rec.load_agent(cfg.device)
    states = select_states(rec, cfg.max_states)
    facts = binary_facts(state_facts(rec, states), game)
    layer = layer_facts(rec, sae, states, cfg.interpret)
    cfg.out.mkdir(parents=True, exist_ok=True)
    config = plain({**to_dict(cfg), **_settings(cfg)})  # tuples as lists: the same once read back
    run = SteerBenchRun(str(Path(cfg.sae).resolve()), str(rec.path.resolve()), layer.norm, config, provenance(),
                        [done[g.name] for g in goals if g.name in done])
    for goal in goals:
        if goal.name in done:
            print(f"{goal.name}: already benchmarked in '{cfg.out}'")
            continue
        try:
            done[goal.name] = bench_goal(rec, model, layer, facts, states, goal, cfg)
        except UserError as err:
            if len(goals) == 1:
                raise
            print(f"{goal.name}: skipped: {err}")  # the other goals still run; a rerun tries it again
            continue
        run = SteerBenchRun(run.sae, run.recording, run.activation_norm, config, run.provenance,
                            [done[g.name] for g in goals if g.name in done])
        run.save(cfg.out / RESULTS)
        print(f"{goal.name}: done ({len(run.goals)} of {len(goals)} goals)")
    if run.goals:
        picture(run, cfg.out / PICTURE)
    return run


HANDLE_ORDER = ("labeled feature", "best feature", "best neuron", "probe", "difference of means", *CONTROLS)


def handles_of(run: SteerBenchRun) -> list[str]:
    present = {s.handle for g in run.goals for s in g.handles}
    return [h for h in HANDLE_ORDER if h in present]


def at_largest(goal: GoalBench) -> dict[str, HandleScore]:
    top = max(s.size_ratio for s in goal.handles)
    return {s.handle: s for s in goal.handles if s.size_ratio == top}


def format_table(run: SteerBenchRun) -> str:
    """A markdown table, one row per goal and size: clean success, each handle's success (* paired p < 0.05
    against clean) and policy movement, and whether the best feature beat every control and the best neuron."""
    names = handles_of(run)
    head = "| goal | size | clean | " + " | ".join(names) + " | best feature beats all |"
    lines = [head, "|" + "---|" * (len(names) + 4)]
    for goal in run.goals:
        for ratio in sorted({s.size_ratio for s in goal.handles}):
            at = {s.handle: s for s in goal.handles if s.size_ratio == ratio}
            largest = ratio == max(s.size_ratio for s in goal.handles)
            verdict = ("yes" if beats_all(goal) else "no") if largest else ""
            lines.append(f"| {goal.goal} | {ratio:g} | {goal.clean_success:.0%} | "
                         + " | ".join(_cell(at.get(n)) for n in names) + f" | {verdict} |")
    return "\n".join(lines)


def _cell(score: HandleScore | None) -> str:
    """'58%* #1270 (tv 0.12)': success (* paired p < 0.05 vs clean), the unit, the policy movement."""
    if score is None:
        return "-"
    unit = f" #{score.unit}" if score.unit is not None else ""
    return f"{score.success:.0%}{'*' if score.p_clean < 0.05 else ''}{unit} (tv {score.policy_tv:.2f})"


def picture(run: SteerBenchRun, path: Path) -> Path:
    """Success per goal (rows) and handle (columns) at the largest size, clean first; * marks p < 0.05."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = handles_of(run)
    grid = np.full((len(run.goals), len(names) + 1), np.nan)
    marks = np.zeros_like(grid, bool)
    for r, goal in enumerate(run.goals):
        grid[r, 0] = goal.clean_success
        at = at_largest(goal)
        for c, name in enumerate(names, 1):
            if name in at:
                grid[r, c], marks[r, c] = at[name].success, at[name].p_clean < 0.05
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 3, 0.45 * len(run.goals) + 1.8))
    ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (r, c), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(c, r, f"{value:.0%}" + ("*" if marks[r, c] else ""), ha="center", va="center",
                    color="white" if value < 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(names) + 1), ["clean", *names], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(run.goals)), [g.goal for g in run.goals], fontsize=8)
    ax.set_title("goal reached from held-out starts (largest edit; * paired p < 0.05 vs clean)", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def main(cfg: SteerBenchConfig) -> None:
    """The CLI: benchmark, then print the table."""
    run = steer_bench(cfg)
    print(format_table(run))
    met = sum(beats_all(g) for g in run.goals)
    print(f"the best feature beats every control and the best neuron (p < 0.05) on {met} of {len(run.goals)} goals")
    print(f"written to {cfg.out / RESULTS}")

