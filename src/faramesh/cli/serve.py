"""`faramesh serve [--dir DIR]`: run the daemon of a stack in the foreground until a
signal or a control `stop` ends it.

The flags override the stack's `runtime` block. `faramesh apply` starts this same command
in the background when no daemon answers.
"""

from __future__ import annotations

import argparse
from typing import Any

from faramesh.cli.control import add_dir, stack_dir_of
from faramesh.cli.edge import CliError, load_feature


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--mode", choices=("enforce", "audit"),
                        help="enforce decisions, or only record them (default: the "
                             "runtime block, else enforce)")
    parser.add_argument("--durability", choices=("fsync", "os"),
                        help="answer after fsync, or once the OS has the record "
                             "(default: the runtime block, else fsync)")
    parser.add_argument("--socket", metavar="PATH", help="the agents' unix socket")
    parser.add_argument("--http", metavar="HOST:PORT|off",
                        help="where the HTTP API listens, or `off` (default: 127.0.0.1:7790)")


def check_http(value: str) -> str:
    """`off`, or `host:port` with a port in 1..65535; a usage error otherwise."""
    if value == "off":
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CliError("INVALID_ARGUMENT", f"--http `{value}` is not HOST:PORT or `off`",
                       hint="for example --http 127.0.0.1:7790")
    return value


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags override (only those given)."""
    found = {"mode": args.mode, "durability": args.durability, "socket": args.socket,
             "http_listen": None if args.http is None else check_http(args.http)}
    return {key: value for key, value in found.items() if value is not None}


def run(args: argparse.Namespace) -> int:
    overrides = overrides_of(args)
    serve = load_feature("faramesh.daemon.serve", "run")
    return int(serve(stack_dir_of(args.dir), **overrides))
