"""Policies compiled without the loader's `scan` block check, as a program building IR
could produce them: to test that the scanners still fail closed at run time."""

from __future__ import annotations

from faramesh.fpl.compiler import parse_policy_text
from faramesh.fpl.lower import Lowerer
from faramesh.policy.evaluator import Policy


def unchecked_policy(text: str) -> Policy:
    tree, sink = parse_policy_text(text)
    policy_ir = Lowerer("<policy>", sink, None).lower_file(tree)
    assert policy_ir is not None and not sink.items
    return Policy(policy_ir)
