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
