"""`faramesh destroy`: stops the daemon, removes only a directory that is a data dir."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from faramesh.cli import destroy
from tests.unit.cli.clirun import Run
from tests.unit.cli.control_double import serving, short_stack


def stack_with_data_dir(tmp_path: Path, data_dir: str) -> Path:
    (tmp_path / "governance.fms").write_text(
        f'runtime {{ data_dir = "{data_dir}" }}\nagent "a" {{\n  rules {{ permit x }}\n}}\n',
        "utf-8")
    return tmp_path


def test_a_directory_without_lock_or_wal_is_not_removed(cli: Run, tmp_path: Path) -> None:
    stack = stack_with_data_dir(tmp_path, "precious")
    (stack / "precious").mkdir()
    (stack / "precious" / "thesis.tex").write_text("years of work", "utf-8")
    result = cli("destroy", "--dir", str(stack), "--yes")
    assert result.status == 1
    assert "error[NOT_A_DATA_DIR]" in result.err
    assert (stack / "precious" / "thesis.tex").exists()


@pytest.mark.parametrize("data_dir", [".", ".."])
def test_a_data_dir_that_holds_the_stack_is_not_removed(cli: Run, tmp_path: Path,
                                                        data_dir: str) -> None:
    (tmp_path / "s").mkdir()
    stack = stack_with_data_dir(tmp_path / "s", data_dir)
    (stack / "wal").mkdir(exist_ok=True)
    result = cli("destroy", "--dir", str(stack), "--yes")
    assert result.status == 1
    assert "holds the stack" in result.err
    assert (stack / "governance.fms").exists()


def test_a_data_dir_is_removed_when_no_daemon_runs(cli: Run, tmp_path: Path) -> None:
    stack = stack_with_data_dir(tmp_path, "data")
    (stack / "data" / "wal").mkdir(parents=True)
    result = cli("destroy", "--dir", str(stack), "--yes")
    assert result.status == 0, result.err
    assert "no daemon was running" in result.out
    assert not (stack / "data").exists()
    assert (stack / "governance.fms").exists()


def test_keep_data_only_stops(cli: Run, tmp_path: Path) -> None:
    stack = stack_with_data_dir(tmp_path, "data")
    (stack / "data" / "wal").mkdir(parents=True)
    result = cli("destroy", "--dir", str(stack), "--keep-data")
    assert result.status == 0, result.err
    assert (stack / "data" / "wal").is_dir()


def test_removing_without_yes_and_no_terminal_needs_confirmation(cli: Run,
                                                                 tmp_path: Path) -> None:
    stack = stack_with_data_dir(tmp_path, "data")
    (stack / "data" / "wal").mkdir(parents=True)
    result = cli("destroy", "--dir", str(stack))
    assert result.status == 2
    assert "error[CONFIRMATION_REQUIRED]" in result.err
    assert (stack / "data" / "wal").is_dir()


def test_a_running_daemon_is_sent_stop_before_removal(cli: Run) -> None:
    with short_stack() as stack, serving(stack, {"stop": {"stopping": True}}) as daemon:
        (stack / "data" / "daemon.lock").touch()
        result = cli("destroy", "--dir", str(stack), "--yes")
        assert result.status == 0, result.err
        assert [r["op"] for r in daemon.requests] == ["stop"]
        assert "daemon stopped" in result.out
        assert not (stack / "data").exists()


def test_a_daemon_that_does_not_let_go_keeps_its_data(cli: Run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(destroy, "STOP_TIMEOUT_S", 0.2)
    stack = stack_with_data_dir(tmp_path, "data")
    (stack / "data").mkdir()
    fd = os.open(stack / "data" / "daemon.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a daemon that hangs would
        result = cli("destroy", "--dir", str(stack), "--yes")
    finally:
        os.close(fd)
    assert result.status == 1
    assert "error[DAEMON_STILL_RUNNING]" in result.err
    assert (stack / "data" / "daemon.lock").exists()
