"""`faramesh kill`: the control requests it sends."""

from __future__ import annotations

from pathlib import Path

from faramesh.cli.kill import DEFAULT_REASON
from tests.unit.cli.clirun import Run
from tests.unit.cli.control_double import sent


def test_kill_one_agent_with_a_reason(cli: Run) -> None:
    _, out, requests = sent(cli, "kill", "--agent", "pay-bot", "--reason", "incident 7")
    assert requests == [{"op": "kill", "agent_id": "pay-bot", "reason": "incident 7"}]
    assert "kill switch engaged for agent `pay-bot`: incident 7" in out


def test_kill_without_agent_is_every_agent_with_the_default_reason(cli: Run) -> None:
    _, out, requests = sent(cli, "kill")
    assert requests == [{"op": "kill", "agent_id": None, "reason": DEFAULT_REASON}]
    assert "every agent" in out


def test_release(cli: Run) -> None:
    _, _, requests = sent(cli, "kill", "--agent", "pay-bot", "--release")
    assert requests == [{"op": "release", "agent_id": "pay-bot"}]


def test_a_reason_with_release_is_a_usage_error(cli: Run, tmp_path: Path) -> None:
    result = cli("kill", "--release", "--reason", "x", "--dir", str(tmp_path))
    assert result.status == 2


def test_kill_with_no_daemon_is_exit_three(cli: Run, tmp_path: Path) -> None:
    assert cli("kill", "--agent", "a", "--dir", str(tmp_path)).status == 3
