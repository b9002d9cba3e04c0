"""`faramesh rollback [--dir DIR] [--to VERSION]`: put an earlier policy version back in
force: the one before the current one, or the stored version whose hash starts with
`VERSION`. The versions are those the daemon has applied (`DATA_DIR/policies/`)."""

from __future__ import annotations

import argparse

from faramesh.cli.control import add_dir, control, short, target_of
from faramesh.cli.edge import EXIT_OK
from faramesh.cli.output import out, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--to", metavar="VERSION",
                        help="a stored version hash or a prefix of one (default: the "
                             "version in force before the current one)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    fields = {} if args.to is None else {"version": args.to}
    result = control(target_of(args.dir).settings, "rollback", **fields)
    if args.format == "json":
        print_json(result)
    elif result.get("changed"):
        out(f"rolled back: {short(result.get('previous_version'))} -> "
            f"{short(result.get('policy_version'))}")
    else:
        out(f"unchanged: policy {short(result.get('policy_version'))} is already in force")
    return EXIT_OK
