"""`faramesh lint`: findings are warnings; exit 1 with any, 0 with none."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.unit.cli.clirun import EXAMPLES, Run

SUSPICIOUS = 'agent "a" {\n  default permit\n  rules {\n    permit x/*\n    deny x/y\n  }\n}\n'


@pytest.fixture
def suspicious(tmp_path: Path) -> Path:
    path = tmp_path / "suspicious.fms"
    path.write_text(SUSPICIOUS, encoding="utf-8")
    return path


def test_findings_are_printed_as_located_warnings_and_exit_one(cli: Run,
                                                                suspicious: Path) -> None:
    result = cli("lint", str(suspicious))
    assert result.status == 1
    assert f"{suspicious}:5:5: warning[unreachable-rule]" in result.out
    assert "5 |     deny x/y" in result.out


def test_json_lists_findings_with_codes_and_lines(cli: Run, suspicious: Path) -> None:
    result = cli("lint", "--format", "json", str(suspicious))
    assert result.status == 1
    report = result.json()
    assert report["ok"] is False
    assert report["path"] == str(suspicious)
    found = {(f["code"], f["line"]) for f in report["findings"]}
    assert ("unreachable-rule", 5) in found
    assert {f["severity"] for f in report["findings"]} == {"warning"}


def test_clean_policy_exits_zero(cli: Run) -> None:
    result = cli("lint", "--format", "json", str(EXAMPLES))
    assert result.status == 0
    assert result.json()["findings"] == []


def test_policy_that_does_not_compile_exits_one(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.fms"
    path.write_text('agent "a" {\n  rules {\n    bogus y\n  }\n}\n', encoding="utf-8")
    result = cli("lint", str(path))
    assert result.status == 1
    assert "error[POLICY_INVALID]" in result.err


def test_missing_lint_module_is_reported_as_unavailable(
        cli: Run, suspicious: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faramesh.fpl.lint", None)
    result = cli("lint", str(suspicious))
    assert result.status == 2
    assert "error[COMMAND_UNAVAILABLE]" in result.err
