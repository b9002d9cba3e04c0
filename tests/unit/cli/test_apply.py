"""`faramesh apply`: a stack that does not compile changes nothing; a daemon that answers
gets the policy hot-swapped. (Starting a daemon: tests/integration/test_cli_lifecycle.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.unit.cli.clirun import Run
from tests.unit.cli.control_double import serving, short_stack

READY = {"pong": True, "lifecycle": "READY"}


def test_a_stack_that_does_not_compile_is_refused_and_nothing_is_created(
        cli: Run, tmp_path: Path) -> None:
    (tmp_path / "governance.fms").write_text('agent "a" {\n  rules { permit }\n}\n', "utf-8")
    result = cli("apply", "--dir", str(tmp_path))
    assert result.status == 1
    assert "governance.fms:2:" in result.out
    assert "nothing applied" in result.out
    assert not (tmp_path / ".faramesh").exists()


def test_json_refusal_lists_the_errors_like_check(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "governance.fms").write_text('agent "a" {\n  rules { permit }\n}\n', "utf-8")
    result = cli("apply", "--dir", str(tmp_path), "--format", "json")
    assert result.status == 1
    body = result.json()
    assert body["ok"] is False
    assert body["files"][0]["errors"][0]["line"] == 2


def test_a_missing_stack_is_refused(cli: Run, tmp_path: Path) -> None:
    result = cli("apply", "--dir", str(tmp_path))
    assert result.status == 1
    assert "POLICY_UNREADABLE" in result.out


def test_a_running_daemon_gets_the_checked_stack_file_applied(cli: Run) -> None:
    answers = {"ping": READY, "apply": {"ok": True, "changed": True,
                                        "policy_version": "b" * 64,
                                        "previous_version": "a" * 64}}
    with short_stack() as stack, serving(stack, answers) as daemon:
        result = cli("apply", "--dir", str(stack))
    assert result.status == 0, result.err
    assert result.out.strip() == f"applied: {'a' * 12} -> {'b' * 12}"
    apply = [r for r in daemon.requests if r["op"] == "apply"]
    assert [r["path"] for r in apply] == [str(stack.resolve() / "governance.fms")]


def test_an_unchanged_policy_says_so(cli: Run) -> None:
    answers = {"ping": READY, "apply": {"ok": True, "changed": False,
                                        "policy_version": "c" * 64}}
    with short_stack() as stack, serving(stack, answers):
        result = cli("apply", "--dir", str(stack), "--format", "json")
    assert result.status == 0, result.err
    body = result.json()
    assert (body["started"], body["changed"]) == (False, False)
    assert body["control_socket"] == str(stack.resolve() / "data" / "control.sock")


def test_a_refused_apply_is_exit_one_with_the_daemons_code(cli: Run) -> None:
    answers = {"ping": READY, "apply": {"error": {"code": "POLICY_INVALID",
                                                  "message": "x.fms:1:1: bad"}}}
    with short_stack() as stack, serving(stack, answers):
        result = cli("apply", "--dir", str(stack))
    assert result.status == 1
    assert "error[POLICY_INVALID]" in result.err
