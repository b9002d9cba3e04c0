"""`faramesh demo`: the shipped example stack passes end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.unit.cli.clirun import EXAMPLES, Run


def test_demo_on_the_shipped_examples_exits_zero(cli: Run) -> None:
    result = cli("demo")
    assert result.status == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[-1] == "demo   passed"
    header = next(line for line in lines if line.startswith("AGENT"))
    assert header.split() == ["AGENT", "TOOL", "EFFECT", "CODE", "RULE", "TEST"]
    assert any(line.split()[:4] == ["support-bot", "stripe/refund", "PERMIT", "RULE_PERMIT"]
               for line in lines)
    # the live half: the daemon answered the tour over its socket and recorded it all
    calls = [line for line in lines if line.startswith("call ")]
    assert calls and not any("expected" in line for line in calls)
    codes = {line.split()[-1] for line in calls}
    assert {"BUDGET_EXCEEDED", "RATE_EXCEEDED", "POLICY_DEFER", "SCAN_DENY"} <= codes
    assert any(line.startswith("apply ") and line.endswith("DENY POLICY_DENY")
               for line in lines)
    audit = next(line for line in lines if line.startswith("audit "))
    answered, recorded = (int(w) for w in audit.split() if w.isdigit())
    assert answered == recorded == len(calls) + 1


def test_demo_fails_when_a_fixture_case_fails(cli: Run, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "governance.fms", tmp_path)
    (tmp_path / "governance.tests.yaml").write_text(
        "- {agent: support-bot, tool: tickets/read, expect: {effect: DENY}}\n",
        encoding="utf-8")
    result = cli("demo", "--dir", str(tmp_path))
    assert result.status == 1
    assert "FAIL" in result.out


def test_demo_without_fixture_samples_each_rule(cli: Run, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "governance.fms", tmp_path)
    result = cli("demo", "--dir", str(tmp_path))
    assert result.status == 0, result.out
    header = next(line for line in result.out.splitlines() if line.startswith("AGENT"))
    assert header.split() == ["AGENT", "TOOL", "EFFECT", "CODE", "RULE"]


def test_demo_on_a_broken_stack_exits_one(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "governance.fms").write_text('agent "a" {\n  bogus y\n}\n', encoding="utf-8")
    assert cli("demo", "--dir", str(tmp_path)).status == 1


def test_demo_on_a_directory_without_a_stack_exits_one(cli: Run, tmp_path: Path) -> None:
    result = cli("demo", "--dir", str(tmp_path))
    assert result.status == 1
    assert "error[POLICY_UNREADABLE]" in result.err
