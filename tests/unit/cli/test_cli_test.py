"""`faramesh test`: fixture cases, PASS/FAIL report, located fixture errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from faramesh.cli.fixtures import rule_matches
from faramesh.policy.decision import Code, Decision, Effect
from tests.unit.cli.clirun import EXAMPLES, Run

PASSING = """\
cases:
  - name: small refund
    agent: pay-bot
    tool: stripe/refund
    args: {amount: 20}
    expect: {effect: PERMIT, code: RULE_PERMIT, rule: 6}
  - name: large refund
    agent: pay-bot
    tool: stripe/refund
    args: {amount: 5000}
    expect: {effect: deny, rule: "governance.fms:8"}
  - name: auditor reads
    agent: pay-bot
    tool: report/read
    principal: {role: auditor}
    expect: {effect: PERMIT}
  - name: night job at night
    agent: pay-bot
    tool: night/job
    time: 2025-06-02T23:00:00Z
    expect: {effect: PERMIT}
  - name: model and session
    agent: pay-bot
    tool: session/step
    session: {step: 2}
    model: claude-sonnet-4
    expect: {effect: PERMIT}
"""


def write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_passing_fixture_reports_each_case_and_exits_zero(cli: Run, policy_file: Path,
                                                          tmp_path: Path) -> None:
    fixture = write(tmp_path, PASSING)
    result = cli("test", "--policy", str(policy_file), "--fixture", str(fixture))
    assert result.status == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[:2] == ["PASS small refund", "PASS large refund"]
    assert lines[-1] == "5 passed, 0 failed"


def test_failing_case_names_expected_and_actual_with_rule(cli: Run, policy_file: Path,
                                                          tmp_path: Path) -> None:
    fixture = write(tmp_path, """\
- name: refund is denied
  agent: pay-bot
  tool: stripe/refund
  args: {amount: 20}
  expect: {effect: DENY}
- name: ok one
  agent: pay-bot
  tool: shell/x
  expect: {effect: DENY}
""")
    result = cli("test", "--policy", str(policy_file), "--fixture", str(fixture))
    assert result.status == 1
    assert result.out.splitlines() == [
        f"FAIL refund is denied: expected effect DENY, got PERMIT (rule {policy_file}:6)",
        "PASS ok one",
        "1 passed, 1 failed",
    ]


def test_json_report_has_counts_and_failures(cli: Run, policy_file: Path,
                                             tmp_path: Path) -> None:
    fixture = write(tmp_path, """\
cases:
  - {name: wrong code, agent: pay-bot, tool: stripe/refund, args: {amount: 20},
     expect: {code: POLICY_DENY}}
""")
    result = cli("test", "--policy", str(policy_file), "--fixture", str(fixture),
                 "--format", "json")
    assert result.status == 1
    report = result.json()
    assert (report["ok"], report["passed"], report["failed"]) == (False, 0, 1)
    case = report["cases"][0]
    assert case["failures"] == [{"field": "code", "expected": "POLICY_DENY",
                                 "actual": "RULE_PERMIT"}]
    assert case["decision"]["code"] == "RULE_PERMIT"
    assert case["line"] == 2


def test_defaults_apply_to_every_case(cli: Run, policy_file: Path, tmp_path: Path) -> None:
    fixture = write(tmp_path, """\
defaults: {agent: pay-bot, time: "2025-06-02T23:30:00Z"}
cases:
  - {name: night, tool: night/job, expect: {effect: PERMIT}}
  - {name: day, tool: night/job, time: "2025-06-02T12:00:00Z", expect: {effect: DENY}}
""")
    result = cli("test", "--policy", str(policy_file), "--fixture", str(fixture))
    assert result.status == 0, result.out + result.err


def test_fixture_policy_key_is_used_when_no_flag_is_given(cli: Run, policy_file: Path) -> None:
    fixture = write(policy_file.parent, "policy: governance.fms\n" + PASSING)
    assert cli("test", "--fixture", str(fixture)).status == 0


def test_no_policy_at_all_is_a_usage_error(cli: Run, tmp_path: Path) -> None:
    fixture = write(tmp_path, PASSING)
    assert cli("test", "--fixture", str(fixture)).status == 2


@pytest.mark.parametrize(("text", "line"), [
    ("cases:\n  - tool: x\n    expect: {effect: MAYBE}\n", 3),
    ("cases:\n  - tool: x\n    expected: {effect: DENY}\n", 3),
    ("cases:\n  - tool: x\n", 2),
    ("cases:\n  - tool: x\n    expect: {}\n", 3),
    ("cases:\n  - tool: x\n    args: [1]\n    expect: {effect: DENY}\n", 3),
    ("cases:\n  - tool: x\n    time: soon\n    expect: {effect: DENY}\n", 3),
    ("cases:\n  - tool: x\n    expect: {code: NOT_A_CODE}\n", 3),
    ("cases:\n  - agent: a\n    expect: {effect: DENY}\n", 2),
    ("cases: {tool: x}\n", 1),
    ("cases: []\n", 1),
    ("casez: []\n", 1),
    ("cases:\n  - tool: x\n    expect: {effect: DENY\n", 4),
    ("just text\n", 1),
])
def test_malformed_fixture_exits_one_with_a_located_message(
        cli: Run, policy_file: Path, tmp_path: Path, text: str, line: int) -> None:
    fixture = write(tmp_path, text)
    result = cli("test", "--policy", str(policy_file), "--fixture", str(fixture))
    assert result.status == 1
    first = result.err.splitlines()[0]
    assert first.startswith(f"{fixture}:{line}:")
    assert "error[fixture-invalid]" in first
    assert "error[FIXTURE_INVALID]" in result.err


def test_missing_fixture_exits_one(cli: Run, policy_file: Path, tmp_path: Path) -> None:
    result = cli("test", "--policy", str(policy_file), "--fixture", str(tmp_path / "no.yaml"))
    assert result.status == 1
    assert "error[FIXTURE_UNREADABLE]" in result.err


def test_policy_that_does_not_compile_exits_one(cli: Run, tmp_path: Path) -> None:
    policy = write(tmp_path, 'agent "a" {\n  rules {\n    bogus y\n  }\n}\n', "bad.fms")
    fixture = write(tmp_path, PASSING)
    result = cli("test", "--policy", str(policy), "--fixture", str(fixture))
    assert result.status == 1
    assert "error[POLICY_INVALID]" in result.err


def _decision(rule_ref: str | None, rule_id: str | None = None) -> Decision:
    return Decision(Effect.DENY, Code.POLICY_DENY, rule_ref, "", rule_id=rule_id)


@pytest.mark.parametrize(("expected", "matches"), [
    ("/srv/stack/governance.fms:12", True),
    ("12", True),
    ("governance.fms:12", True),
    ("stack/governance.fms:12", True),
    ("13", False),
    ("other.fms:12", False),
    ("tack/governance.fms:12", False),
    ("no-refunds", True),
    ("other-id", False),
])
def test_expected_rule_matches_ref_line_path_suffix_or_id(expected: str, matches: bool) -> None:
    decision = _decision("/srv/stack/governance.fms:12", rule_id="no-refunds")
    assert rule_matches(expected, decision) is matches


def test_default_decision_without_rule_ref_matches_only_an_id() -> None:
    assert rule_matches("12", _decision(None)) is False


def test_shipped_example_fixture_passes(cli: Run) -> None:
    result = cli("test", "--policy", str(EXAMPLES / "governance.fms"),
                 "--fixture", str(EXAMPLES / "governance.tests.yaml"))
    assert result.status == 0, result.out
