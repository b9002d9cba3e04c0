"""`faramesh lint [PATH]`: findings in a policy that compiles but is probably wrong.

Findings are warnings, printed like compile errors (`warning[code]`). Exit 1 when there
is any finding or the policy does not compile, 0 when there is none.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

from faramesh.cli.edge import EXIT_FAILED, EXIT_OK, load_feature
from faramesh.cli.output import out, plural, print_json, with_source_line
from faramesh.fpl.diagnostics import Diagnostic
from faramesh.fpl.loader import load_policy_ir, resolve_stack_path
from faramesh.policy import ir

LintFn = Callable[[ir.PolicyIR], list[Diagnostic]]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="a policy file, or a directory meaning its stack file "
                             "(default: the current directory)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def lint_function() -> LintFn:
    return cast(LintFn, load_feature("faramesh.fpl.lint", "lint_policy"))


def as_warning(finding: Diagnostic) -> Diagnostic:
    """Lint findings are warnings, whatever severity the check gave them, shown with their
    source line."""
    if finding.severity != "warning":
        finding = replace(finding, severity="warning")
    return with_source_line(finding)


def run(args: argparse.Namespace) -> int:
    lint_policy = lint_function()
    path = resolve_stack_path(Path(args.path))
    findings = sorted((as_warning(f) for f in lint_policy(load_policy_ir(path))),
                      key=lambda d: d.sort_key)
    if args.format == "json":
        print_json({"ok": not findings, "path": str(path),
                    "findings": [f.to_dict() for f in findings]})
    else:
        for finding in findings:
            out(finding.render())
        out(f"{path}: {plural(len(findings), 'finding') if findings else 'no findings'}")
    return EXIT_FAILED if findings else EXIT_OK
