"""`faramesh test --policy PATH --fixture FILE`: run a fixture of expected decisions.

Prints `PASS name` / `FAIL name: expected ..., got ... (rule file:line)` per case, then
`N passed, M failed`. Exit 1 on any failure, on a malformed fixture (reported at its
file:line:column) or when the policy does not compile.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from faramesh.cli.edge import EXIT_FAILED, EXIT_OK, usage_error
from faramesh.cli.fixtures import CaseResult, load_fixture, run_fixture
from faramesh.cli.output import out, print_json
from faramesh.fpl.loader import load_policy_ir
from faramesh.policy.evaluator import Policy


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", metavar="PATH",
                        help="policy file, or a directory meaning its stack file "
                             "(default: the fixture's `policy:`)")
    parser.add_argument("--fixture", required=True, metavar="FILE",
                        help="YAML file of cases (see docs/policy-testing.md)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def summary(results: list[CaseResult]) -> str:
    passed = sum(r.ok for r in results)
    return f"{passed} passed, {len(results) - passed} failed"


def run(args: argparse.Namespace) -> int:
    fixture = load_fixture(Path(args.fixture))
    policy_path = Path(args.policy) if args.policy else fixture.policy
    if policy_path is None:
        raise usage_error("no policy to test", hint="pass --policy PATH or set `policy:` in "
                          "the fixture")
    results = run_fixture(Policy(load_policy_ir(policy_path)), fixture)
    ok = all(r.ok for r in results)
    if args.format == "json":
        passed = sum(r.ok for r in results)
        print_json({"ok": ok, "passed": passed, "failed": len(results) - passed,
                    "cases": [r.to_dict() for r in results]})
    else:
        for result in results:
            out(result.line())
        out(summary(results))
    return EXIT_OK if ok else EXIT_FAILED
