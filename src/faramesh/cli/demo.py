"""`faramesh demo [--dir DIR]`: a stack end to end, as a first look at faramesh.

Checks the stack file, runs its fixtures (`*.tests.yaml` beside it), shows the decision
for each fixture case in a table (or, without a fixture, for one sample call per rule),
and lints it. Without `--dir` it then runs the daemon on a copy of the bundled example
stack (`faramesh/examples/`): the tour of `faramesh.examples.client` over the unix
socket, a hot swap, the status, and a check that every answered call is in the WAL.
Exit 0 only when all of that passed.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

from faramesh.cli.check import check_path, summary
from faramesh.cli.edge import EXIT_FAILED, EXIT_OK, CliError
from faramesh.cli.fixtures import CaseResult, FixtureError, load_fixture, run_fixture
from faramesh.cli.lint import as_warning, lint_function
from faramesh.cli.output import out, plural
from faramesh.fpl.loader import resolve_stack_path
from faramesh.policy import ir
from faramesh.policy.decision import Decision
from faramesh.policy.evaluator import Policy

FIXTURE_GLOBS = ("*.tests.yaml", "*.tests.yml")
MAX_SAMPLES = 12


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", metavar="DIR",
                        help="a stack directory to run on instead of the bundled examples")


def examples_dir() -> Path:
    root = resources.files("faramesh").joinpath("examples")
    if not isinstance(root, Path):
        raise CliError("EXAMPLES_UNAVAILABLE", "the bundled examples are not on the file "
                       "system", hint="copy them out and run `faramesh demo --dir DIR`")
    return root


def run(args: argparse.Namespace) -> int:
    if args.dir is not None:
        return demo(Path(args.dir))
    status = demo(examples_dir(), finish=False)
    if status != EXIT_OK:
        return status
    from faramesh.cli.demo_daemon import live_demo  # the daemon's imports: only here

    passed = live_demo(resolve_stack_path(examples_dir()))
    out(f"demo   {'passed' if passed else 'FAILED'}")
    return EXIT_OK if passed else EXIT_FAILED


def demo(root: Path, *, finish: bool = True) -> int:
    stack = resolve_stack_path(root)
    check = check_path(stack)
    for diagnostic in check.diagnostics:
        out(diagnostic.render())
    out(f"check  {summary(check)}")
    if check.policy is None:
        return EXIT_FAILED
    policy = Policy(check.policy)
    fixtures_ok, results = _run_fixtures(policy, stack.parent)
    out()
    if results:
        _table(["AGENT", "TOOL", "EFFECT", "CODE", "RULE", "TEST"],
               [[*_row(r.decision, stack.parent), "ok" if r.ok else "FAIL"] for r in results])
    else:
        _table(["AGENT", "TOOL", "EFFECT", "CODE", "RULE"],
               [_row(d, stack.parent) for d in _sample_decisions(policy)])
    out()
    lint_ok = _lint(check.policy)
    passed = fixtures_ok and lint_ok
    if finish or not passed:
        out(f"demo   {'passed' if passed else 'FAILED'}")
    return EXIT_OK if passed else EXIT_FAILED


def _run_fixtures(policy: Policy, directory: Path) -> tuple[bool, list[CaseResult]]:
    paths = sorted({p for pattern in FIXTURE_GLOBS for p in directory.glob(pattern)})
    if not paths:
        out(f"test   no fixture ({', '.join(FIXTURE_GLOBS)}) in {directory}")
        return True, []
    ok = True
    results: list[CaseResult] = []
    for path in paths:
        try:
            fixture = load_fixture(path)
        except FixtureError as exc:
            for diagnostic in exc.diagnostics:
                out(diagnostic.render())
            out(f"test   {path.name}: malformed fixture")
            ok = False
            continue
        found = run_fixture(policy, fixture)
        for result in found:
            if not result.ok:
                out(f"test   {result.line()}")
        passed = sum(r.ok for r in found)
        out(f"test   {path.name}: {passed} passed, {len(found) - passed} failed")
        ok = ok and passed == len(found)
        results.extend(found)
    return ok, results


def _sample_decisions(policy: Policy) -> list[Decision]:
    """One call per distinct rule pattern, with no arguments: shows what each tool does
    before anyone fills in the details (and that missing arguments fail closed)."""
    decisions: list[Decision] = []
    for agent in policy.ir.agents:
        agent_id = "any-agent" if agent.agent_id == ir.ANY_AGENT else agent.agent_id
        for pattern in dict.fromkeys(r.pattern for r in agent.rules):
            tool = pattern.replace("**", "example").replace("*", "example")
            decisions.append(policy.evaluate({"agent": agent_id, "tool": tool}))
            if len(decisions) >= MAX_SAMPLES:
                return decisions
    return decisions


def _row(decision: Decision, directory: Path) -> list[str]:
    ref = decision.rule_ref or "-"
    prefix = str(directory) + os.sep
    return [decision.agent_id or "-", decision.tool or "-", decision.effect.value,
            decision.code.value, ref.removeprefix(prefix)]


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        out("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _lint(policy: ir.PolicyIR) -> bool:
    try:
        lint_policy = lint_function()
    except CliError:
        out("lint   skipped (not available in this installation)")
        return True
    findings = [as_warning(f) for f in lint_policy(policy)]
    for finding in findings:
        out(finding.render())
    out(f"lint   {plural(len(findings), 'finding') if findings else 'no findings'}")
    return not findings
