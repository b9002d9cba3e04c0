"""`faramesh check [PATH ...]`: compile each policy and report every error with its location.

A directory means its stack file (`governance.fms`, ...). Exit 0 when every policy
compiles, 1 when any has errors or cannot be read.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from faramesh.cli.edge import EXIT_FAILED, EXIT_OK
from faramesh.cli.output import load_error_dict, out, plural, print_json
from faramesh.errors import PolicyError, PolicyLoadError
from faramesh.fpl.diagnostics import Diagnostic
from faramesh.fpl.loader import load_policy_ir, resolve_stack_path
from faramesh.policy import ir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help="a policy file, or a directory meaning its stack file "
                             "(default: the current directory)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


@dataclass(frozen=True)
class FileCheck:
    """The outcome of compiling one policy file."""

    path: str
    policy: ir.PolicyIR | None
    diagnostics: tuple[Diagnostic, ...] = ()
    load_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.policy is not None

    def errors(self) -> list[dict[str, object]]:
        if self.load_error is not None:
            return [load_error_dict(self.path, PolicyLoadError.code, self.load_error)]
        return [d.to_dict() for d in self.diagnostics]


def check_path(arg: str | Path) -> FileCheck:
    """Compile the policy at `arg` (a file, or a directory's stack file); never raises
    for a bad or missing policy."""
    path = Path(arg)
    try:
        path = resolve_stack_path(path)
        policy = load_policy_ir(path)
    except PolicyLoadError as exc:
        return FileCheck(str(path), None, load_error=str(exc))
    except PolicyError as exc:
        return FileCheck(str(path), None, exc.diagnostics)
    return FileCheck(str(path), policy)


def rule_count(policy: ir.PolicyIR) -> int:
    return sum(len(a.rules) + sum(len(p.rules) for p in a.phases) for a in policy.agents)


def summary(check: FileCheck) -> str:
    """One line for a file: `path: ok (2 agents, 20 rules)` or its error count."""
    if check.policy is not None:
        return (f"{check.path}: ok ({plural(len(check.policy.agents), 'agent')}, "
                f"{plural(rule_count(check.policy), 'rule')})")
    if check.load_error is not None:
        return f"{check.path}: error[{PolicyLoadError.code}]: {check.load_error}"
    return f"{check.path}: {plural(max(len(check.diagnostics), 1), 'error')}"


def run(args: argparse.Namespace) -> int:
    checks = [check_path(p) for p in args.paths]
    ok = all(c.ok for c in checks)
    if args.format == "json":
        print_json({"ok": ok, "files": [{"path": c.path, "ok": c.ok, "errors": c.errors()}
                                        for c in checks]})
        return EXIT_OK if ok else EXIT_FAILED
    for check in checks:
        for diagnostic in check.diagnostics:
            out(diagnostic.render())
        out(summary(check))
    failed = sum(not c.ok for c in checks)
    out(f"checked {plural(len(checks), 'file')}: {len(checks) - failed} ok, {failed} failed")
    return EXIT_OK if ok else EXIT_FAILED
