"""`faramesh fmt`: canonical rewrite, `--check` diffs, broken files never rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from faramesh.fpl.compiler import parse_policy_text
from faramesh.fpl.formatter import format_file
from tests.unit.cli.clirun import EXAMPLES, SMALL_POLICY, Run

UGLY = 'agent "a" {\n default   deny\n rules {\n permit  x\n    deny y reason "no"\n }\n}'
BROKEN = 'agent "a" {\n  rules {\n    permit x if amount <\n    bogus y\n  }\n}\n'


def canonical(text: str) -> str:
    tree, sink = parse_policy_text(text)
    assert not sink.items
    return format_file(tree)


@pytest.fixture
def ugly(tmp_path: Path) -> Path:
    path = tmp_path / "ugly.fms"
    path.write_text(UGLY, encoding="utf-8")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.fpl"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_check_on_unformatted_file_prints_a_diff_and_exits_one(cli: Run, ugly: Path) -> None:
    result = cli("fmt", "--check", str(ugly))
    assert result.status == 1
    assert result.out.startswith(f"--- {ugly}\n+++ {ugly}\n@@ ")
    assert "+  default deny" in result.out
    assert ugly.read_text(encoding="utf-8") == UGLY


def test_check_on_formatted_file_is_silent_and_exits_zero(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "clean.fms"
    path.write_text(canonical(SMALL_POLICY), encoding="utf-8")
    result = cli("fmt", "--check", str(path))
    assert result.status == 0
    assert result.out == ""


def test_fmt_rewrites_the_file_canonically_and_lists_it(cli: Run, ugly: Path) -> None:
    result = cli("fmt", str(ugly))
    assert result.status == 0
    assert result.out == f"formatted {ugly}\n"
    assert ugly.read_text(encoding="utf-8") == canonical(UGLY)


def test_fmt_is_idempotent(cli: Run, ugly: Path) -> None:
    cli("fmt", str(ugly))
    once = ugly.read_text(encoding="utf-8")
    result = cli("fmt", str(ugly))
    assert result.out == ""
    assert ugly.read_text(encoding="utf-8") == once


def test_fmt_leaves_formatted_files_untouched(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "clean.fms"
    path.write_text(canonical(SMALL_POLICY), encoding="utf-8")
    before = path.stat().st_mtime_ns
    assert cli("fmt", str(path)).status == 0
    assert path.stat().st_mtime_ns == before


def test_fmt_keeps_the_file_mode(cli: Run, ugly: Path) -> None:
    ugly.chmod(0o640)
    cli("fmt", str(ugly))
    assert ugly.stat().st_mode & 0o777 == 0o640


def test_broken_file_is_reported_and_never_rewritten(cli: Run, broken: Path) -> None:
    result = cli("fmt", str(broken))
    assert result.status == 1
    assert f"{broken}:4:" in result.err
    assert broken.read_text(encoding="utf-8") == BROKEN


def test_broken_file_under_check_exits_one_without_a_diff(cli: Run, broken: Path) -> None:
    result = cli("fmt", "--check", str(broken))
    assert result.status == 1
    assert result.out == ""


def test_a_broken_file_does_not_stop_the_others(cli: Run, broken: Path, ugly: Path) -> None:
    result = cli("fmt", str(broken), str(ugly))
    assert result.status == 1
    assert ugly.read_text(encoding="utf-8") == canonical(UGLY)
    assert broken.read_text(encoding="utf-8") == BROKEN


def test_directory_means_every_fpl_file_below_it(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.fms", "sub/b.fpl", ".hidden/c.fms"):
        (tmp_path / name).write_text(UGLY, encoding="utf-8")
    result = cli("fmt", str(tmp_path))
    assert result.status == 0
    assert sorted(result.out.splitlines()) == [f"formatted {tmp_path / 'a.fms'}",
                                               f"formatted {tmp_path / 'sub' / 'b.fpl'}"]
    assert (tmp_path / ".hidden" / "c.fms").read_text(encoding="utf-8") == UGLY


def test_yaml_policy_is_skipped_with_exit_zero(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    text = "agents:\n  - id: a\n"
    path.write_text(text, encoding="utf-8")
    result = cli("fmt", "--check", str(path))
    assert result.status == 0
    assert "not FPL text" in result.err
    assert path.read_text(encoding="utf-8") == text


def test_file_without_fpl_suffix_is_formatted_by_its_content(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "policy.txt"
    path.write_text(UGLY, encoding="utf-8")
    assert cli("fmt", str(path)).status == 0
    assert path.read_text(encoding="utf-8") == canonical(UGLY)


def test_missing_file_exits_one(cli: Run, tmp_path: Path) -> None:
    result = cli("fmt", str(tmp_path / "nope.fms"))
    assert result.status == 1
    assert "error[POLICY_UNREADABLE]" in result.err


def test_formatter_fault_is_refused_not_written(cli: Run, ugly: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from faramesh.cli import fmt

    monkeypatch.setattr(fmt, "format_file", lambda tree: "agent {{{\n")
    result = cli("fmt", str(ugly))
    assert result.status == 1
    assert "error[FORMAT_UNSTABLE]" in result.err
    assert ugly.read_text(encoding="utf-8") == UGLY


def test_formatter_change_of_meaning_is_refused(cli: Run, ugly: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from faramesh.cli import fmt

    monkeypatch.setattr(fmt, "format_file",
                        lambda tree: 'agent "a" {\n  default permit\n}\n')
    result = cli("fmt", str(ugly))
    assert result.status == 1
    assert "error[FORMAT_UNSTABLE]" in result.err
    assert ugly.read_text(encoding="utf-8") == UGLY


def test_shipped_examples_are_formatted(cli: Run) -> None:
    assert cli("fmt", "--check", str(EXAMPLES)).status == 0
