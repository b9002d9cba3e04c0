"""`faramesh`: build the argument parser, run one command, map every failure to an exit status.

Command modules are imported only for the command that runs (as pypa/hatch's lazy command
groups do): `faramesh --help` lists the commands from the table below without importing
any of them, so it stays fast and never loads YAML, RE2 or the compiler.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import sys
from collections.abc import Sequence
from typing import NoReturn

PROG = "faramesh"

# (name, module, one-line summary): the order here is the order in `--help`.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("check", "faramesh.cli.check", "check that policy files compile"),
    ("fmt", "faramesh.cli.fmt", "format FPL policy files canonically"),
    ("eval", "faramesh.cli.eval", "decide one action against a policy, print the decision"),
    ("test", "faramesh.cli.test", "run a fixture of expected decisions against a policy"),
    ("lint", "faramesh.cli.lint", "report likely mistakes in a policy"),
    ("convert", "faramesh.cli.convert", "convert a policy between FPL, YAML and JSON"),
    ("demo", "faramesh.cli.demo", "check the bundled example stack, then run the daemon on it"),
    ("serve", "faramesh.cli.serve", "run the daemon in the foreground"),
    ("apply", "faramesh.cli.apply", "check the stack and put it in force (starts the daemon)"),
    ("status", "faramesh.cli.status", "show the running daemon's state"),
    ("plan", "faramesh.cli.plan", "show what applying the stack would change"),
    ("rollback", "faramesh.cli.rollback", "put an earlier policy version back in force"),
    ("kill", "faramesh.cli.kill", "engage or release the kill switch"),
    ("agent", "faramesh.cli.agent", "quiesce, resume or move one agent to a phase"),
    ("destroy", "faramesh.cli.destroy", "stop the daemon and remove its data"),
)
MODULES = {name: module for name, module, _ in COMMANDS}


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises a structured usage error instead of exiting."""

    def error(self, message: str) -> NoReturn:
        from faramesh.cli.edge import usage_error

        raise usage_error(message, hint=f"see `{self.prog} --help`")


def build_parser(command: str | None) -> ArgumentParser:
    """The parser; only `command`'s own module is imported to declare its arguments."""
    from faramesh import __version__

    parser = ArgumentParser(prog=PROG, allow_abbrev=False,
                            description="faramesh: FPL policy tooling, and the daemon that "
                                        "decides every tool call an agent makes.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name, module_name, summary in COMMANDS:
        command_parser = sub.add_parser(name, help=summary, description=summary,
                                        allow_abbrev=False)
        if name == command:
            importlib.import_module(module_name).configure(command_parser)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in MODULES else None
    return None


def _wants_json(command: str | None, argv: Sequence[str]) -> bool:
    """Whether errors should be JSON, decided before parsing so usage errors agree."""
    if command == "eval":
        return True
    return "--format=json" in argv or ("--format", "json") in itertools.pairwise(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status. Never raises, never shows a traceback
    unless FARAMESH_DEBUG=1."""
    as_json = False
    try:
        args_list = list(sys.argv[1:] if argv is None else argv)
        command = _command_of(args_list)
        as_json = _wants_json(command, args_list)
        args = build_parser(command).parse_args(args_list)
        if args.command is None:
            from faramesh.cli.edge import usage_error

            raise usage_error("a command is required", hint=f"see `{PROG} --help`")
        status = importlib.import_module(MODULES[args.command]).run(args)
        return int(status)
    except SystemExit as exc:  # --help and --version finish through argparse's exit
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        _detach_stdout()
        return 1
    except BaseException as exc:  # the edge: every failure becomes a structured error
        from faramesh.cli.edge import report

        return report(exc, as_json=as_json)


def _detach_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests, embedding)
        pass
