"""`faramesh rollback`: the control request it sends and what it prints."""

from __future__ import annotations

from pathlib import Path

from tests.unit.cli.clirun import Run
from tests.unit.cli.control_double import serving, short_stack

SWAPPED = {"ok": True, "changed": True, "policy_version": "1" * 64,
           "previous_version": "2" * 64}


def test_rollback_without_to_asks_for_the_previous_version(cli: Run) -> None:
    with short_stack() as stack, serving(stack, {"rollback": SWAPPED}) as daemon:
        result = cli("rollback", "--dir", str(stack))
    assert result.status == 0, result.err
    assert [(r["op"], "version" in r) for r in daemon.requests] == [("rollback", False)]
    assert result.out.strip() == f"rolled back: {'2' * 12} -> {'1' * 12}"


def test_rollback_to_a_prefix(cli: Run) -> None:
    with short_stack() as stack, serving(stack, {"rollback": SWAPPED}) as daemon:
        result = cli("rollback", "--dir", str(stack), "--to", "1111", "--format", "json")
    assert result.status == 0, result.err
    assert daemon.requests[0]["version"] == "1111"
    assert result.json() == SWAPPED


def test_nothing_to_roll_back_to_is_exit_one(cli: Run) -> None:
    refusal = {"error": {"code": "DAEMON_UNAVAILABLE",
                         "message": "no earlier policy version to roll back to"}}
    with short_stack() as stack, serving(stack, {"rollback": refusal}):
        result = cli("rollback", "--dir", str(stack))
    assert result.status == 1
    assert "no earlier policy version" in result.err


def test_rollback_with_no_daemon_is_exit_three(cli: Run, tmp_path: Path) -> None:
    assert cli("rollback", "--dir", str(tmp_path)).status == 3
