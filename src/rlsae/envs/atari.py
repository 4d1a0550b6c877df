"""ALE environments: a C++ vector env for agents and a colour env for people.

All preprocessing (84x84 grey, frame-skip 4 with max-pool, 4-frame stack, no-op starts, episodic life,
reward clipping) is done by ALE's own vector env; nothing here re-implements it.
"""

from __future__ import annotations

import difflib
import os
import re
from functools import cache

import gymnasium as gym
import numpy as np
from ale_py import ALEInterface, LoggerMode, roms
from ale_py.vector_env import AtariVectorEnv

from rlsae.common.errors import UserError

DEFAULT_GAME = "ms_pacman"  # the game a command plays when neither the user nor the agent names one
SCREEN_WIDTH, SCREEN_HEIGHT = 160, 210  # every ALE game's screen
FRAME_SKIP = 4
NOOP_MAX = 30


def check_game(game: str) -> str:
    """The snake_case ROM id of ``game``, in any of ALE's spellings (``ms_pacman``, ``MsPacman``,
    ``ALE/MsPacman-v5``, ``MsPacmanNoFrameskip-v4``); a UserError with the closest names if ALE lacks it."""
    ids = {rom.replace("_", ""): rom for rom in roms.get_all_rom_ids()}
    key = re.sub(r"^ALE/|(NoFrameskip|Deterministic)?-v\d+$", "", game.strip()).replace("_", "").lower()
    if key in ids:
        return ids[key]
    close = [ids[k] for k in difflib.get_close_matches(key, list(ids), n=3, cutoff=0.6)]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UserError(f"unknown ALE game '{game}': give an ALE ROM id such as 'ms_pacman' or 'pong' "
                    f"(or a Gymnasium id such as 'ALE/Pong-v5').{hint}")


@cache
def action_names(game: str) -> tuple[str, ...]:
    """The names of ``game``'s minimal action set (ALE's action meanings), in the agents' action order."""
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.loadROM(str(roms.get_rom_path(check_game(game))))
    return tuple(action.name for action in ale.getMinimalActionSet())


def default_threads(num_envs: int) -> int:
    return max(1, min(num_envs, os.cpu_count() or 1))


def make_vector_env(game: str = DEFAULT_GAME, num_envs: int = 8, *, training: bool,
                    num_threads: int | None = None) -> AtariVectorEnv:
    """Vectorised env with the standard DQN preprocessing.

    ``training=True`` adds what only the learner should see: a termination signal at each life lost
    (the game goes on; this is envpool's/PQN's "life loss info") and rewards clipped to [-1, 1].
    Evaluation uses full games and unclipped scores. Sticky actions are off (the DQN protocol).
    Episodes auto-reset in the same step, so the returned observation always belongs to a live game.
    """
    return AtariVectorEnv(
        check_game(game), num_envs,
        num_threads=num_threads or default_threads(num_envs),
        repeat_action_probability=0.0,
        frameskip=FRAME_SKIP, noop_max=NOOP_MAX, stack_num=4, img_height=84, img_width=84,
        grayscale=True, maxpool=True,
        episodic_life=False, life_loss_info=training, reward_clipping=training,
        autoreset_mode="SameStep",
    )


def make_render_env(game: str = DEFAULT_GAME) -> gym.Env:
    """Single env with full-colour 210x160 RGB observations, for showing states to people.

    Same frame-skip and sticky-action settings as the vector env, so an action sequence replays to the
    same game (the recorder relies on this to re-render frames instead of storing them).
    """
    import ale_py

    gym.register_envs(ale_py)
    return gym.make(f"ALE/{_env_name(check_game(game))}-v5", obs_type="rgb", frameskip=FRAME_SKIP,
                    repeat_action_probability=0.0, full_action_space=False)


def _env_name(game: str) -> str:
    return "".join(part.capitalize() for part in game.split("_"))


def rng_actions(rng: np.random.Generator, greedy: np.ndarray, epsilon: float, n: int) -> np.ndarray:
    """Epsilon-greedy: replace each greedy action by a uniform one with probability ``epsilon``."""
    explore = rng.random(greedy.shape[0]) < epsilon
    return np.where(explore, rng.integers(0, n, greedy.shape[0]), greedy)
