"""The command line's edge: help, version, usage errors, internal errors, fast start."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import faramesh
from faramesh.cli import main as cli_main
from tests.unit.cli.clirun import Run

HEAVY_MODULES = ("yaml", "hypothesis", "faramesh.fpl", "faramesh.cli.check",
                 "faramesh.cli.fmt", "faramesh.cli.eval", "faramesh.cli.fixtures")


def _modules_after_help() -> set[str]:
    code = ("import sys, contextlib, io\n"
            "from faramesh.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    status = main(['--help'])\n"
            "print(status)\n"
            "print('\\n'.join(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    status, *modules = done.stdout.splitlines()
    assert status == "0"
    return set(modules)


def test_module_entry_point_prints_help_and_exits_zero() -> None:
    done = subprocess.run([sys.executable, "-m", "faramesh", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0
    for name, _, _ in cli_main.COMMANDS:
        assert name in done.stdout


def test_help_imports_no_command_module_yaml_or_compiler() -> None:
    modules = _modules_after_help()
    loaded = sorted(m for m in modules if m.startswith(HEAVY_MODULES))
    assert loaded == []


def test_help_does_not_import_re2() -> None:
    assert "re2" not in _modules_after_help()


def test_version_prints_the_package_version(cli: Run) -> None:
    result = cli("--version")
    assert result.status == 0
    assert result.out.split() == ["faramesh", faramesh.__version__]


def test_no_command_is_a_usage_error(cli: Run) -> None:
    result = cli()
    assert result.status == 2
    assert "error[USAGE_ERROR]" in result.err


def test_unknown_command_is_a_usage_error_without_traceback(cli: Run) -> None:
    result = cli("frobnicate")
    assert result.status == 2
    assert "error[USAGE_ERROR]" in result.err
    assert "Traceback" not in result.err


def test_unknown_flag_in_json_mode_is_a_json_usage_error(cli: Run) -> None:
    result = cli("check", "--format", "json", "--bogus")
    assert result.status == 2
    assert result.err_json()["error"]["code"] == "USAGE_ERROR"


def test_command_help_exits_zero(cli: Run) -> None:
    result = cli("eval", "--help")
    assert result.status == 0
    assert "--principal" in result.out


def test_internal_error_is_structured_and_exits_two(cli: Run,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from faramesh.cli import check

    def explode(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.delenv("FARAMESH_DEBUG", raising=False)
    monkeypatch.setattr(check, "run", explode)
    result = cli("check")
    assert result.status == 2
    assert "error[INTERNAL_ERROR]" in result.err
    assert "Traceback" not in result.err


def test_internal_error_in_json_mode_is_one_json_object(cli: Run,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from faramesh.cli import check

    def explode(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(check, "run", explode)
    result = cli("check", "--format=json")
    assert result.status == 2
    assert json.loads(result.err) == {"ok": False, "error": {
        "code": "INTERNAL_ERROR", "message": "internal error: boom",
        "hint": json.loads(result.err)["error"]["hint"]}}


def test_debug_variable_shows_the_traceback(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from faramesh.cli import check

    def explode(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setenv("FARAMESH_DEBUG", "1")
    monkeypatch.setattr(check, "run", explode)
    result = cli("check")
    assert result.status == 2
    assert "Traceback" in result.err


def test_keyboard_interrupt_exits_130(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from faramesh.cli import check

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "run", interrupted)
    assert cli("check").status == 130
