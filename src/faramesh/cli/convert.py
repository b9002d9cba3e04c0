"""`faramesh convert PATH --to fpl|yaml|json [-o OUT]`: the same policy in another form.

Every form encodes the same IR, so a converted policy makes the same decisions. The
result goes to stdout, or replaces OUT atomically.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

from faramesh.cli.edge import EXIT_FAILED, EXIT_OK, CliError, load_feature, usage_error
from faramesh.cli.output import err, write_atomically
from faramesh.errors import FarameshError
from faramesh.fpl.loader import load_policy_ir
from faramesh.policy import ir

# form -> (module, function) turning the IR into text of that form
EMITTERS = {
    "fpl": ("faramesh.fpl.emit", "ir_to_fpl"),
    "yaml": ("faramesh.fpl.ir_codec", "dump_yaml"),
    "json": ("faramesh.fpl.ir_codec", "dump_json"),
}
SUFFIX_FORMS = {".fms": "fpl", ".fpl": "fpl", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="policy file, or a directory meaning its stack file")
    parser.add_argument("--to", required=True, choices=tuple(EMITTERS),
                        help="the form to write")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="write to OUT instead of stdout (replaced atomically)")


def convert(policy: ir.PolicyIR, form: str) -> str:
    module, name = EMITTERS[form]
    emit = cast(Callable[[ir.PolicyIR], str], load_feature(module, name))
    try:
        text = emit(policy)
    except FarameshError as exc:  # e.g. a construct this form cannot express yet
        raise CliError(exc.code, str(exc), status=EXIT_FAILED) from None
    return text if text.endswith("\n") else text + "\n"


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        implied = SUFFIX_FORMS.get(Path(args.output).suffix.lower())
        if implied is not None and implied != args.to:
            raise usage_error(f"`{args.output}` names a {implied} file but --to is {args.to}",
                              hint=f"use --to {implied}, or another file name")
    text = convert(load_policy_ir(Path(args.path)), args.to)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomically(Path(args.output), text)
        err(f"wrote {args.output} ({args.to})")
    return EXIT_OK
