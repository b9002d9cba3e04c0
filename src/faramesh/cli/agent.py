"""`faramesh agent quiesce|resume|phase`: act on one agent of the running daemon.

`quiesce ID` is the agent's own kill switch (its calls are denied with KILL_SWITCH),
`resume ID` lifts it, `phase ID PHASE [--session SID]` moves the agent (or one of its
sessions) to a declared phase.
"""

from __future__ import annotations

import argparse

from faramesh.cli.control import add_dir, control, target_of
from faramesh.cli.edge import EXIT_OK
from faramesh.cli.kill import switch
from faramesh.cli.output import out, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    quiesce = actions.add_parser("quiesce", help="deny every call of the agent",
                                 allow_abbrev=False)
    quiesce.add_argument("agent_id", metavar="ID")
    quiesce.add_argument("--reason", metavar="TEXT", help="why, kept in the record")
    resume = actions.add_parser("resume", help="lift the agent's kill switch",
                                allow_abbrev=False)
    resume.add_argument("agent_id", metavar="ID")
    phase = actions.add_parser("phase", help="move the agent to a declared phase",
                               allow_abbrev=False)
    phase.add_argument("agent_id", metavar="ID")
    phase.add_argument("phase", metavar="PHASE")
    phase.add_argument("--session", metavar="SID", help="only this session of the agent")
    for sub in (quiesce, resume, phase):
        add_dir(sub)
        sub.add_argument("--format", choices=("text", "json"), default="text",
                         help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    if args.action == "quiesce":
        return switch(args, agent_id=args.agent_id, release=False, reason=args.reason)
    if args.action == "resume":
        return switch(args, agent_id=args.agent_id, release=True, reason=None)
    result = control(target_of(args.dir).settings, "phase", agent_id=args.agent_id,
                     session_id=args.session, phase=args.phase)
    if args.format == "json":
        print_json(result)
    else:
        where = f"session `{args.session}` of " if args.session else ""
        out(f"{where}agent `{args.agent_id}` is now in phase `{args.phase}`")
    return EXIT_OK
