"""`faramesh eval`: one JSON decision on stdout, exit 0 whatever the effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.clirun import EXAMPLES, Run


def evaluate(cli: Run, policy: Path, tool: str, *flags: str) -> dict[str, object]:
    result = cli("eval", "--policy", str(policy), "--agent", "pay-bot", "--tool", tool, *flags)
    assert result.status == 0, result.err
    assert result.out.count("\n") == 1  # one JSON object on one line
    decision: dict[str, object] = result.json()
    return decision


def test_decision_has_effect_code_rule_ref_reason_and_trace(cli: Run,
                                                           policy_file: Path) -> None:
    decision = evaluate(cli, policy_file, "stripe/refund", "--args", '{"amount": 20}')
    assert {"effect", "code", "rule_ref", "reason", "trace"} <= set(decision)
    assert (decision["effect"], decision["code"]) == ("PERMIT", "RULE_PERMIT")
    assert decision["rule_ref"] == f"{policy_file}:6"


def test_deny_is_still_exit_zero(cli: Run, policy_file: Path) -> None:
    decision = evaluate(cli, policy_file, "stripe/refund", "--args", '{"amount": 5000}')
    assert (decision["effect"], decision["code"]) == ("DENY", "POLICY_DENY")


def test_defer_is_still_exit_zero(cli: Run, policy_file: Path) -> None:
    decision = evaluate(cli, policy_file, "stripe/refund", "--args", '{"amount": 500}')
    assert decision["effect"] == "DEFER"


def test_missing_amount_cannot_skip_the_defer(cli: Run, policy_file: Path) -> None:
    decision = evaluate(cli, policy_file, "stripe/refund")
    assert decision["effect"] == "DEFER"


def test_mandatory_deny_wins(cli: Run, policy_file: Path) -> None:
    decision = evaluate(cli, policy_file, "shell/exec")
    assert decision["code"] == "MANDATORY_DENY"


@pytest.mark.parametrize(("tool", "flags", "effect"), [
    ("report/read", ("--principal", '{"role": "auditor"}'), "PERMIT"),
    ("report/read", ("--principal", '{"role": "intern"}'), "DENY"),
    ("session/step", ("--session", '{"step": 2}'), "PERMIT"),
    ("session/step", ("--session", '{"step": 3}'), "DENY"),
    ("night/job", ("--time", "2025-06-02T23:00:00Z"), "PERMIT"),
    ("night/job", ("--time", "2025-06-02T10:00:00+00:00"), "DENY"),
    ("model/call", ("--model", "claude-sonnet-4"), "PERMIT"),
    ("model/call", ("--model", "other"), "DENY"),
])
def test_each_flag_reaches_the_condition(cli: Run, policy_file: Path, tool: str,
                                         flags: tuple[str, ...], effect: str) -> None:
    assert evaluate(cli, policy_file, tool, *flags)["effect"] == effect


@pytest.mark.parametrize("flag", ["--args", "--principal", "--session"])
@pytest.mark.parametrize(("value", "code"), [("{not json", "INVALID_JSON"),
                                             ("[1, 2]", "INVALID_ARGUMENT"),
                                             ('"text"', "INVALID_ARGUMENT"),
                                             ('{"x": NaN}', "INVALID_JSON")])
def test_bad_json_flag_is_a_structured_usage_error(cli: Run, policy_file: Path, flag: str,
                                                   value: str, code: str) -> None:
    result = cli("eval", "--policy", str(policy_file), "--agent", "pay-bot", "--tool", "x",
                 flag, value)
    assert result.status == 2
    assert result.out == ""
    assert result.err_json()["error"]["code"] == code


def test_bad_time_is_a_structured_usage_error(cli: Run, policy_file: Path) -> None:
    result = cli("eval", "--policy", str(policy_file), "--agent", "pay-bot", "--tool", "x",
                 "--time", "yesterday")
    assert result.status == 2
    assert result.err_json()["error"]["code"] == "INVALID_ARGUMENT"


def test_missing_required_flag_is_a_json_usage_error(cli: Run, policy_file: Path) -> None:
    result = cli("eval", "--policy", str(policy_file), "--agent", "pay-bot")
    assert result.status == 2
    assert result.err_json()["error"]["code"] == "USAGE_ERROR"


def test_policy_that_does_not_compile_exits_one_with_diagnostics(cli: Run,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "bad.fms"
    path.write_text('agent "a" {\n  rules {\n    bogus y\n  }\n}\n', encoding="utf-8")
    result = cli("eval", "--policy", str(path), "--agent", "a", "--tool", "x")
    assert result.status == 1
    assert result.out == ""
    error = result.err_json()["error"]
    assert error["code"] == "POLICY_INVALID"
    assert error["diagnostics"][0]["line"] == 3


def test_missing_policy_exits_one(cli: Run, tmp_path: Path) -> None:
    result = cli("eval", "--policy", str(tmp_path / "nope.fms"), "--agent", "a", "--tool", "x")
    assert result.status == 1
    assert result.err_json()["error"]["code"] == "POLICY_UNREADABLE"


def test_unknown_agent_is_a_deny_decision(cli: Run) -> None:
    result = cli("eval", "--policy", str(EXAMPLES), "--agent", "nobody", "--tool", "x")
    assert result.status == 0
    assert result.json()["code"] == "IDENTITY_UNRESOLVED"
