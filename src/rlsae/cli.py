"""The `rlsae` command: one subcommand per pipeline stage.

    train-agent -> evaluate-agent -> record -> train-sae -> evaluate -> interpret -> steer -> browse
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlsae.common.errors import UserError
from rlsae.config import add_options, block_options, flag_name, from_args


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    config: Callable[[], type]
    run: Callable[[Any], None]
    # (config attribute naming the output folder, kind of output written there[, its flag if not the attribute's])
    out: tuple[str, ...] | None = None
    files: tuple[str, ...] = ()         # config fields naming output files (--json, --png)


def _train_agent(cfg: Any) -> None:
    from rlsae.agents.train import train_agent

    best = train_agent(cfg)
    print(f"best checkpoint: {best}")


def _evaluate_agent(cfg: Any) -> None:
    from rlsae.agents.evaluate import agent_policy, check_act, play_games, summarize
    from rlsae.agents.protocol import load
    from rlsae.envs.atari import DEFAULT_GAME

    agent = load(cfg.agent or cfg.checkpoint, cfg.device)
    game = cfg.game or agent.game or DEFAULT_GAME
    check_act(cfg.act, agent.output)
    scores = play_games(agent_policy(agent.model, cfg.device, cfg.act, cfg.seed), cfg.episodes, game=game,
                        num_envs=cfg.num_envs, epsilon=cfg.epsilon, seed=cfg.seed)
    summary = summarize(scores)
    print(f"{game}: {summary['episodes']} games, mean {summary['mean_score']:.1f}, "
          f"median {summary['median_score']:.1f}, std {summary['std_score']:.1f}, "
          f"min {summary['min_score']:.0f}, max {summary['max_score']:.0f}")
    if cfg.json:
        from rlsae.common.outputs import write_results

        write_results(cfg.json, {"checkpoint": str(cfg.agent or cfg.checkpoint or "default"),
                                  "epsilon": cfg.epsilon, "act": cfg.act, **summary}, "--json")


def _record(cfg: Any) -> None:
    from rlsae.record import Recording, record

    print(Recording.open(record(cfg)))


def _train_sae(cfg: Any) -> None:
    from rlsae.sae.train import train_sae

    result = train_sae(cfg)
    done = "already trained with these settings, nothing to do:" if result.get("finished") else "saved"
    print(f"{done} {result['out']} ({result['steps']} steps, {result['wall_time_s']} s); held-out: "
          + ", ".join(f"{k} {result[k]:.4g}" for k in ("fvu", "l0", "dead_fraction", "action_agreement", "policy_kl")
                      if k in result))


def _evaluate(cfg: Any) -> None:
    from rlsae.sae.evaluate import evaluate_sae, format_report, results_path

    print(format_report(evaluate_sae(cfg), results_path(cfg)))


def _lazy(module: str, name: str) -> Callable[[], type]:
    def load() -> type:
        import importlib

        return getattr(importlib.import_module(module), name)
    return load


COMMANDS = [
    Command("demo", "the whole pipeline on the shipped agent in ~10 minutes on 2 cores: record, train-sae, evaluate, "
            "interpret, steer, browse", _lazy("rlsae.demo", "DemoConfig"),
            lambda cfg: _lazy("rlsae.demo", "main")()(cfg), out=("out", "demo")),
    Command("train-agent", "train a PQN, DQN or PPO agent on an Atari game",
            _lazy("rlsae.agents.train", "TrainAgentConfig"), _train_agent, out=("out", "agent")),
    Command("evaluate-agent", "play full games with an agent and print its score",
            _lazy("rlsae.agents.evaluate", "EvaluateAgentConfig"), _evaluate_agent, files=("json",)),
    Command("record", "play an agent and store a layer's activations, Q-values and game state",
            _lazy("rlsae.record", "RecordConfig"), _record, out=("store", "recording", "--out")),
    Command("train-sae", "train a sparse autoencoder on a recording's activations",
            _lazy("rlsae.sae.train", "TrainSAEConfig"), _train_sae, out=("out", "sae")),
    Command("evaluate", "measure an SAE: reconstruction, sparsity, action fidelity, spliced game score",
            _lazy("rlsae.sae.evaluate", "EvaluateSAEConfig"), _evaluate, out=("sae", "sae"), files=("json", "png")),
    Command("interpret", "read every SAE feature: density, examples, action effect, labels from game facts",
            _lazy("rlsae.analysis.interpret", "InterpretConfig"),
            lambda cfg: _lazy("rlsae.analysis.interpret", "main")()(cfg), out=("out", "interpret")),
    Command("steer", "play with a feature clamped, ablated or added; report action shift, score, heatmap, GIF",
            _lazy("rlsae.analysis.steer", "SteerConfig"), lambda cfg: _lazy("rlsae.analysis.steer", "main")()(cfg),
            out=("out", "steer"), files=("json",)),
    Command("steer-bench", "benchmark steering handles per goal: SAE features vs neurons, probes and random controls",
            _lazy("rlsae.analysis.steer_bench", "SteerBenchConfig"),
            lambda cfg: _lazy("rlsae.analysis.steer_bench", "main")()(cfg), out=("out", "steer-bench")),
    Command("sweep", "dead features vs skill: an SAE per checkpoint of a series, metrics against the agent's score",
            _lazy("rlsae.sweep", "SweepConfig"), lambda cfg: _lazy("rlsae.sweep", "main")()(cfg),
            out=("out", "sweep")),
    Command("track", "follow SAE features across checkpoints: each feature's ancestor, births, losses, splits, merges",
            _lazy("rlsae.track", "TrackConfig"), lambda cfg: _lazy("rlsae.track", "main")()(cfg),
            out=("out", "track")),
    Command("browse", "write the static, offline feature browser from interpret (+ evaluate, steer) outputs",
            _lazy("rlsae.browser.build", "BrowseConfig"), lambda cfg: _lazy("rlsae.browser.build", "main")()(cfg),
            out=("out", "browser")),
]


def _run(command: Command, cfg: Any) -> None:
    """Check the command's output files and claim its output folder, then run it (see common/outputs.py)."""
    from rlsae.common.outputs import check_output_file, claim_output

    for name in command.files:
        if getattr(cfg, name) is not None:
            check_output_file(getattr(cfg, name), flag_name(name))
    if command.out is None:
        command.run(cfg)
        return
    field, kind, *flag = command.out
    with claim_output(getattr(cfg, field), kind, flag[0] if flag else flag_name(field)):
        command.run(cfg)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``selected`` command's options are built (None: all of them).

    Building a command's options imports its module (torch, ALE, ...): doing that for the one command
    being run keeps `rlsae --help` and every command's start-up quick.
    """
    parser = argparse.ArgumentParser(prog="rlsae", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        if selected is None or command.name == selected:
            add_options(p, command.config())
        p.set_defaults(_command=command)
    return parser


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bare | would end the table cell


def reference_markdown() -> str:
    """docs/reference.md: every command's options as its --help shows them (tests/test_docs.py keeps the
    committed page equal to this)."""
    parser = build_parser()
    lines = ["# Command reference", "",
             "Generated from the command-line parser by `python -m rlsae.cli --markdown > docs/reference.md`; "
             "`rlsae COMMAND --help` prints the same.", ""]
    # argparse has no public way to list a parser's options; reading its actions keeps the page exactly
    # what --help shows, ranges and defaults included.
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        lines += [f"## rlsae {name}", "", sub.description or "", "", "| option | what it sets |", "|---|---|"]
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or not action.option_strings or action.dest == "help":
                continue
            flag = " / ".join(action.option_strings)
            if action.choices:
                flag += " {" + ",".join(map(str, action.choices)) + "}"
            elif action.nargs != 0:  # not a --flag/--no-flag switch
                flag += f" {action.metavar}" + (" ..." if action.nargs == "*" else "")
            lines.append(f"| `{flag}` | {_cell(action.help or '')} |")
        lines.append("")
        for flag, choice, options in block_options(next(c for c in COMMANDS if c.name == name).config()):
            lines += [f"`--{flag} KEY=VALUE` for {choice} (a tuple as comma-separated values):", "",
                      "| key | what it sets |", "|---|---|",
                      *(f"| `{key}` | {_cell(text)} |" for key, text in options), ""]
    return "\n".join(lines)


def _interrupt_on_sigterm() -> None:
    """Make `kill` behave like Ctrl-C, so long jobs save their state on the way out.

    SIGINT alone is not enough: shells start background jobs with SIGINT ignored.
    """
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, handler)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Piped into a log, stdout is block-buffered: its lines would land after the stage lines (stderr) that
    # followed them, or all at exit.
    if callable(getattr(sys.stdout, "reconfigure", None)):
        sys.stdout.reconfigure(line_buffering=True)
    args = build_parser(argv[0] if argv else "").parse_args(argv)
    _interrupt_on_sigterm()
    command: Command = args._command
    try:
        _run(command, from_args(command.config(), args))
    except UserError as err:
        print(f"rlsae {command.name}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        print(f"rlsae {command.name}: error: disk full{f' writing {err.filename!r}' if err.filename else ''}; "
              "free some space and run the command again (finished parts are kept)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rlsae {command.name}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(reference_markdown(), end="")
        sys.exit(0)
    sys.exit(main())
