"""Game knowledge lives in the game specs: no module outside rlsae/envs/ names Ms. Pac-Man."""

from __future__ import annotations

import re
from pathlib import Path

import rlsae

PACKAGE = Path(rlsae.__file__).parent
GAME_WORDS = re.compile(r"pac-?man|ms_pacman|MS_PACMAN", re.IGNORECASE)


def game_name_uses(root: Path) -> list[str]:
    """``file:line: text`` of every line under ``root`` outside envs/ that names the game (code, strings,
    comments and docstrings alike)."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        if (root / "envs") in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if GAME_WORDS.search(line):
                hits.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    return hits


def test_no_module_outside_envs_names_the_game() -> None:
    hits = game_name_uses(PACKAGE)
    assert not hits, "name the game only in rlsae/envs/ (ask the game spec):\n" + "\n".join(hits)


def test_the_check_finds_a_planted_name(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "game.py").write_text('GAME = "ms_pacman"\n')
    (tmp_path / "analysis.py").write_text('x = 1\n# where Ms. Pac-Man goes\n')
    assert game_name_uses(tmp_path) == [f"{tmp_path.name}/analysis.py:2: # where Ms. Pac-Man goes"]
