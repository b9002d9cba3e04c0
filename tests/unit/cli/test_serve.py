"""`faramesh serve`: flags become runtime overrides, handed to the daemon's `run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faramesh.cli import serve
from tests.unit.cli.clirun import Run


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, dict[str, Any]]]:
    calls: list[tuple[Path, dict[str, Any]]] = []

    def fake_run(stack: Path, **overrides: Any) -> int:
        calls.append((stack, overrides))
        return 0

    monkeypatch.setattr(serve, "load_feature", lambda module, name: fake_run)
    return calls


def test_flags_become_overrides_of_the_runtime_block(
        cli: Run, tmp_path: Path, served: list[tuple[Path, dict[str, Any]]]) -> None:
    result = cli("serve", "--dir", str(tmp_path), "--mode", "audit", "--durability", "os",
                 "--socket", "/tmp/a.sock", "--http", "off")
    assert result.status == 0, result.err
    assert served == [(tmp_path.resolve(), {"mode": "audit", "durability": "os",
                                            "socket": "/tmp/a.sock", "http_listen": "off"})]


def test_no_flags_override_nothing(cli: Run, tmp_path: Path,
                                   served: list[tuple[Path, dict[str, Any]]]) -> None:
    assert cli("serve", "--dir", str(tmp_path)).status == 0
    assert served == [(tmp_path.resolve(), {})]


def test_a_stack_file_means_its_directory(cli: Run, policy_file: Path,
                                          served: list[tuple[Path, dict[str, Any]]]) -> None:
    assert cli("serve", "--dir", str(policy_file)).status == 0
    assert served[0][0] == policy_file.parent.resolve()


@pytest.mark.parametrize("value", ["7790", "localhost:", ":80", "host:http", "h:70000"])
def test_http_that_is_not_host_port_is_a_usage_error(
        cli: Run, tmp_path: Path, served: list[tuple[Path, dict[str, Any]]],
        value: str) -> None:
    result = cli("serve", "--dir", str(tmp_path), "--http", value)
    assert result.status == 2
    assert "error[INVALID_ARGUMENT]" in result.err
    assert served == []


@pytest.mark.parametrize("flag", ["--mode=dry", "--durability=never"])
def test_unknown_mode_or_durability_is_a_usage_error(cli: Run, flag: str) -> None:
    assert cli("serve", flag).status == 2


def test_the_daemons_exit_status_is_the_commands(cli: Run, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve, "load_feature", lambda module, name: lambda stack, **kw: 1)
    assert cli("serve", "--dir", str(tmp_path)).status == 1
