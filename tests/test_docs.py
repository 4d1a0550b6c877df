"""The README and docs/ say what the code does.

docs/reference.md is the parser's own output; every `rlsae ...` line in a fenced bash block of README.md or
docs/*.md parses through the real CLI parser and config validation; the README's test command is the one
.ci/run runs; the first screen holds what a newcomer needs; links point at files that exist; and the
documented train-agent -> evaluate-agent -> series workflow runs for real at a tiny size.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rlsae.cli import COMMANDS, build_parser, main, reference_markdown
from rlsae.common.errors import UserError
from rlsae.config import from_args

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FIRST_SCREEN = 40  # lines
SEPARATORS = {"&&", "||", ";", "|", "&"}
REDIRECTS = {">", ">>", "<", ">&", "<&", "&>"}
WRAPPERS = {"setsid", "nohup", "time", "exec"}


def bash_blocks(page: Path) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL)


def simple_commands(block: str) -> list[list[str]]:
    """The block's commands as argument lists: continuations joined, comments, redirections, environment
    assignments and process wrappers (nohup, nice -n N, ...) dropped."""
    commands: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        tokens = list(lexer)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token in SEPARATORS:
                commands.append(current)
                current = []
            elif token in REDIRECTS:
                i += 1  # its target
            elif not (token.isdigit() and i + 1 < len(tokens) and tokens[i + 1] in REDIRECTS):  # the 2 of 2>&1
                current.append(token)
            i += 1
        commands.append(current)
    cleaned = []
    for command in commands:
        while command and ("=" in command[0] and not command[0].startswith("-") or command[0] in WRAPPERS):
            command = command[1:]
        if command[:2] == ["nice", "-n"]:
            command = command[3:]
        if command:
            cleaned.append(command)
    return cleaned


def documented_commands() -> list[tuple[str, list[str]]]:
    """(page, the arguments after `rlsae`) for every rlsae command in a bash block."""
    return [(page.relative_to(ROOT).as_posix(), command[1:]) for page in PAGES for block in bash_blocks(page)
            for command in simple_commands(block) if command[0] == "rlsae"]


def parse(argv: list[str]) -> object:
    """The command's validated config, as `rlsae` builds it before doing any work."""
    parser = build_parser(argv[0])
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"rlsae {shlex.join(argv)}: the parser refuses it (see the error above)")
    cfg = from_args(args._command.config(), args)
    if args._command.name == "steer":  # fact expressions are checked when the games start: check them here
        from rlsae.analysis.steer import check_fact
        from rlsae.envs.atari import DEFAULT_GAME

        for name in ("goal", "start_where"):
            if getattr(cfg, name):
                check_fact(getattr(cfg, name), DEFAULT_GAME, "--" + name.replace("_", "-"))
    return cfg


def test_the_shell_reader_finds_commands_behind_wrappers_and_separators() -> None:
    block = ("OMP_NUM_THREADS=1 setsid nohup nice -n 10 rlsae train-agent --out runs/a \\\n"
             "    --no-progress >> runs/a.log 2>&1 &\n"
             "git clone --depth 1 URL rlsae && cd rlsae && rlsae demo   # a comment\n"
             "rlsae steer --goal 'not a & b'\n")
    assert [c for c in simple_commands(block) if c[0] == "rlsae"] == [
        ["rlsae", "train-agent", "--out", "runs/a", "--no-progress"], ["rlsae", "demo"],
        ["rlsae", "steer", "--goal", "not a & b"]]


@pytest.mark.parametrize("page,argv", documented_commands(), ids=lambda v: v if isinstance(v, str) else v[0])
def test_every_documented_command_parses_and_validates(page: str, argv: list[str]) -> None:
    parse(argv)


def test_a_wrong_documented_command_would_fail() -> None:
    """The check above can fail: an unknown flag, a value out of range and a misspelt fact are caught."""
    with pytest.raises(pytest.fail.Exception, match="the parser refuses it"):
        parse(["record", "--stepz", "10"])
    with pytest.raises(UserError, match="--k"):
        parse(["train-sae", "--k", "0"])
    with pytest.raises(UserError, match="pacman_region=bottom_left"):
        parse(["steer", "--feature", "1", "--goal", "pacman_region=botom_left"])


def test_the_readme_tours_every_command() -> None:
    toured = {argv[0] for page, argv in documented_commands() if page == "README.md"}
    assert toured == {c.name for c in COMMANDS}


def test_the_reference_is_generated_from_the_parser() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text()
    assert committed == reference_markdown(), (
        "docs/reference.md is out of date: python -m rlsae.cli --markdown > docs/reference.md")
    for command in COMMANDS:
        assert f"## rlsae {command.name}\n" in committed


def test_the_first_screen_installs_runs_and_tests() -> None:
    screen = "\n".join(README.read_text().splitlines()[:FIRST_SCREEN])
    commands = [shlex.join(c) for block in bash_blocks(README) for c in simple_commands(block)]
    install = re.search(r"^git clone --depth 1 \S+ rlsae && cd rlsae && pip install torch==2\.13\.0 && "
                        r"pip install -e \. && rlsae demo$", screen, re.MULTILINE)
    assert install, "the first screen lacks the install-and-run command"
    assert re.search(r"!\[[^\]]+\]\(docs/[\w.-]+\.png\)", screen), "the first screen lacks a picture"
    assert "torch==2.13.0` picks the CPU build" in screen
    test_command = ci_test_command()
    assert test_command in screen.splitlines(), "the first screen lacks .ci/run's test command"
    assert "rlsae demo" in commands


def ci_test_command() -> str:
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line]
    assert len(lines) == 1, ".ci/run should run the tests in one line"
    return lines[0].strip()


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    blocks = [b.strip() for b in bash_blocks(README) if "pytest" in b]
    assert blocks == [ci_test_command()]


def anchors(page: Path) -> set[str]:
    """The #fragments GitHub gives the page's headings."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", page.read_text(), re.MULTILINE)}


def test_links_point_at_files_and_headings_that_exist() -> None:
    broken = []
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)]*))?\)", page.read_text()):
            linked = page.parent / target if target else page
            if re.match(r"[a-z]+:", target):
                continue
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
                broken.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, broken


def _documented(page: str, command: str, having: str = "") -> list[str]:
    """The first documented `rlsae COMMAND` on the page (with the flag ``having``)."""
    (argv, *_) = [argv for p, argv in documented_commands()
                  if p == page and argv[0] == command and having in argv + [""]]
    return argv


def _shrunk(argv: list[str], **sizes: str | list[str]) -> list[str]:
    """The documented command with the given options set to a tiny size (replaced, or added)."""
    out = list(argv)
    for name, value in sizes.items():
        flag = "--" + name.replace("_", "-")
        values = value if isinstance(value, list) else [value]
        if flag in out:
            i = out.index(flag) + 1
            end = i
            while end < len(out) and not out[end].startswith("--"):
                end += 1
            out[i:end] = values
        else:
            out += [flag, *values]
    return out


def test_the_documented_training_workflow_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README's train-agent and evaluate-agent, and docs/agents.md's series: made by train-agent under
    OUT/series/, loaded by path. Run in a scratch folder, so the documented runs/ paths land there."""
    monkeypatch.chdir(tmp_path)
    tiny = dict(total_steps="64", num_envs="2", rollout_steps="8", minibatch_size="16", eval_every="64",
                eval_episodes="1", device="cpu")
    train = _documented("docs/agents.md", "train-agent", having="--keep-steps")
    assert train[train.index("--keep-steps") + 1] == "0"
    assert main(_shrunk(train, keep_steps=["0", "32"], no_progress=[], **tiny)) == 0
    out = Path(train[train.index("--out") + 1])
    assert {p.name for p in (out / "series").iterdir()} == {"0", "32", "final"}

    evaluate = _documented("README.md", "evaluate-agent")
    assert Path(evaluate[evaluate.index("--checkpoint") + 1]) == out / "best"
    assert main(_shrunk(evaluate, episodes="1", num_envs="1")) == 0
    assert Path(evaluate[evaluate.index("--json") + 1]).is_file()

    record = _documented("docs/agents.md", "record")
    checkpoint = Path(record[record.index("--checkpoint") + 1])
    assert checkpoint.parent == out / "series"
    assert main(_shrunk(record, checkpoint=str(out / "series" / "32"), steps="1000", num_envs="2",
                        no_progress=[])) == 0
    from rlsae.record import Recording

    assert len(Recording.open(Path(record[record.index("--out") + 1])).activations) == 1000
