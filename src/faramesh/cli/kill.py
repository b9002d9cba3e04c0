"""`faramesh kill [--agent ID] [--reason TEXT] [--release]`: engage the kill switch (every
call of the agent, or of every agent, is denied with KILL_SWITCH in every mode) or, with
`--release`, lift it. The switch is recorded in the WAL: a restart does not lift it."""

from __future__ import annotations

import argparse
from typing import Any

from faramesh.cli.control import add_dir, control, target_of
from faramesh.cli.edge import EXIT_OK, usage_error
from faramesh.cli.output import out, print_json

DEFAULT_REASON = "killed from the command line"


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--agent", metavar="ID", help="one agent (default: every agent)")
    parser.add_argument("--reason", metavar="TEXT",
                        help=f"why, kept in the record (default: `{DEFAULT_REASON}`)")
    parser.add_argument("--release", action="store_true", help="lift the kill switch")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def switch(args: argparse.Namespace, *, agent_id: str | None, release: bool,
           reason: str | None) -> int:
    """Engage or release the kill switch for `agent_id` (None: every agent); print it."""
    settings = target_of(args.dir).settings
    if release:
        result: dict[str, Any] = control(settings, "release", agent_id=agent_id)
    else:
        result = control(settings, "kill", agent_id=agent_id,
                         reason=reason or DEFAULT_REASON)
    if args.format == "json":
        print_json(result)
        return EXIT_OK
    who = f"agent `{agent_id}`" if agent_id else "every agent"
    out(f"kill switch released for {who}" if release
        else f"kill switch engaged for {who}: {reason or DEFAULT_REASON}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.release and args.reason is not None:
        raise usage_error("--reason goes with a kill, not with --release")
    return switch(args, agent_id=args.agent, release=args.release, reason=args.reason)
