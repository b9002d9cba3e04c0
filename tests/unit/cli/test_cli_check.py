"""`faramesh check`: exit statuses, located diagnostics, JSON shape, stack-file resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.clirun import EXAMPLES, Run

BROKEN = 'agent "a" {\n  default deny\n  rules {\n    permit x if amount <\n  }\n}\n'


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.fms"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_valid_policy_exits_zero(cli: Run, policy_file: Path) -> None:
    result = cli("check", str(policy_file))
    assert result.status == 0
    assert f"{policy_file}: ok (1 agent, 8 rules)" in result.out


def test_directory_means_its_stack_file(cli: Run, policy_file: Path) -> None:
    result = cli("check", "--format", "json", str(policy_file.parent))
    assert result.status == 0
    assert result.json()["files"][0]["path"] == str(policy_file)


def test_default_path_is_the_current_directorys_stack_file(
        cli: Run, policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(policy_file.parent)
    result = cli("check", "--format", "json")
    assert result.status == 0
    assert result.json()["files"][0]["path"] == "governance.fms"


def test_broken_policy_prints_location_source_line_and_caret(cli: Run, broken: Path) -> None:
    result = cli("check", str(broken))
    assert result.status == 1
    first = result.out.splitlines()[0]
    assert first.startswith(f"{broken}:4:")
    assert "error[" in first
    assert "^" in result.out
    assert result.out.splitlines()[-1] == "checked 1 file: 0 ok, 1 failed"


def test_json_report_lists_each_file_with_its_errors(cli: Run, policy_file: Path,
                                                     broken: Path) -> None:
    result = cli("check", "--format", "json", str(policy_file), str(broken))
    assert result.status == 1
    report = result.json()
    assert report["ok"] is False
    assert [(f["path"], f["ok"]) for f in report["files"]] == [
        (str(policy_file), True), (str(broken), False)]
    assert report["files"][0]["errors"] == []
    error = report["files"][1]["errors"][0]
    assert set(error) >= {"file", "line", "column", "code", "message", "hint"}
    assert (error["file"], error["line"]) == (str(broken), 4)


def test_missing_file_exits_one_with_unreadable_code(cli: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.fms"
    result = cli("check", "--format", "json", str(missing))
    assert result.status == 1
    file = result.json()["files"][0]
    assert file["ok"] is False
    assert file["errors"][0]["code"] == "POLICY_UNREADABLE"


def test_directory_without_stack_file_exits_one(cli: Run, tmp_path: Path) -> None:
    result = cli("check", str(tmp_path))
    assert result.status == 1
    assert "error[POLICY_UNREADABLE]" in result.out


def test_every_file_is_checked_even_after_a_failure(cli: Run, policy_file: Path,
                                                    broken: Path) -> None:
    result = cli("check", "--format", "json", str(broken), str(policy_file))
    assert [f["ok"] for f in result.json()["files"]] == [False, True]


def test_shipped_example_stack_checks_clean(cli: Run) -> None:
    assert cli("check", str(EXAMPLES)).status == 0
