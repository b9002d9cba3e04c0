"""`faramesh lint` findings: each kind fires where it should and not where it should not."""

from __future__ import annotations

from faramesh.fpl.compiler import compile_fpl
from faramesh.fpl.lint import lint_policy
from tests.paths import CORPUS


def findings(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in lint_policy(compile_fpl(text, "l.fms"))]


def test_rule_after_an_unconditional_broader_rule_is_unreachable() -> None:
    assert findings('agent "a" {\n rules {\n  permit stripe/*\n  deny stripe/refund\n }\n}\n') \
        == [("unreachable-rule", 4)]


def test_rule_covered_by_a_deny_bang_anywhere_is_unreachable() -> None:
    text = 'agent "a" {\n rules {\n  deny shell/run\n  deny! shell/*\n }\n}\n'
    assert findings(text) == [("unreachable-rule", 3)]


def test_conditional_earlier_rule_does_not_make_a_later_one_unreachable() -> None:
    assert findings('agent "a" {\n rules {\n  permit x if amount < 5\n  deny x\n }\n}\n') == []


def test_unconditional_permit_overlapping_a_later_deny_is_reported() -> None:
    text = 'agent "a" {\n rules {\n  permit stripe/*\n  deny */refund\n }\n}\n'
    assert findings(text) == [("permit-overlaps-deny", 4)]


def test_disjoint_permit_and_deny_are_not_reported() -> None:
    assert findings('agent "a" {\n rules {\n  permit stripe/*\n  deny shell/*\n }\n}\n') == []


def test_pattern_matching_no_declared_tool_is_reported() -> None:
    text = ('agent "a" {\n tool "stripe/refund" { tags = ["risk:high"] }\n'
            ' rules {\n  permit stripe/*\n  permit strpe/refund\n }\n}\n')
    assert findings(text) == [("undeclared-tool", 5)]


def test_constant_condition_is_reported() -> None:
    assert findings('agent "a" {\n rules { deny x when 1 < 2 and amount > 3 }\n}\n') == \
        [("constant-condition", 2)]


def test_default_permit_is_reported() -> None:
    assert findings('agent "a" {\n default permit\n}\n') == [("permissive-default", 2)]


def test_phase_rules_are_checked_against_the_agent_rules_after_them() -> None:
    text = ('agent "a" {\n phase p {\n  permit x\n  permit x\n }\n rules { deny y }\n}\n')
    assert findings(text) == [("unreachable-rule", 4)]


def test_the_published_spec_examples_lint_clean() -> None:
    for path in sorted((CORPUS / "spec-examples").glob("*.fpl")):
        assert lint_policy(compile_fpl(path.read_text(), str(path))) == [], path
