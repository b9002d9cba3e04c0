"""The public surface is a decision: changing `__all__` must change this test."""

from __future__ import annotations

import subprocess
import sys

import faramesh


def test_public_names_are_exactly_these() -> None:
    assert sorted(faramesh.__all__) == [
        "ActionError", "Code", "Decision", "Effect", "FarameshError", "Policy",
        "PolicyError", "PolicyLoadError", "TraceEntry", "__version__", "load_policy"]


def test_every_public_name_resolves() -> None:
    for name in faramesh.__all__:
        assert getattr(faramesh, name) is not None


def test_importing_faramesh_stays_light() -> None:
    code = ("import sys, faramesh; heavy = [m for m in ('re2', 'yaml', 'hypothesis', "
            "'faramesh.policy.evaluator', 'faramesh.fpl.parser') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_load_policy_and_evaluate_from_the_top_level() -> None:
    policy = faramesh.load_policy('agent "a" {\n rules { permit x }\n}\n')
    decision = policy.evaluate({"agent": "a", "tool": "x"})
    assert (decision.effect, decision.code) == (faramesh.Effect.PERMIT,
                                                faramesh.Code.RULE_PERMIT)
