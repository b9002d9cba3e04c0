"""`faramesh agent quiesce|resume|phase`: the control requests it sends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.cli.clirun import Run
from tests.unit.cli.control_double import sent, serving, short_stack


@pytest.mark.parametrize(("argv", "request_"), [
    (("agent", "quiesce", "pay-bot", "--reason", "r"),
     {"op": "kill", "agent_id": "pay-bot", "reason": "r"}),
    (("agent", "resume", "pay-bot"), {"op": "release", "agent_id": "pay-bot"}),
    (("agent", "phase", "pay-bot", "refund"),
     {"op": "phase", "agent_id": "pay-bot", "session_id": None, "phase": "refund"}),
    (("agent", "phase", "pay-bot", "refund", "--session", "s1"),
     {"op": "phase", "agent_id": "pay-bot", "session_id": "s1", "phase": "refund"}),
])
def test_agent_actions(cli: Run, argv: tuple[str, ...], request_: dict[str, Any]) -> None:
    assert sent(cli, *argv)[2] == [request_]


def test_agent_needs_an_action(cli: Run) -> None:
    assert cli("agent").status == 2
    assert cli("agent", "quiesce").status == 2


def test_a_refused_phase_is_exit_one_with_the_daemons_code(cli: Run) -> None:
    refusal = {"error": {"code": "DAEMON_UNAVAILABLE", "message": "agent `x` has no phase"}}
    with short_stack() as stack, serving(stack, {"phase": refusal}):
        result = cli("agent", "phase", "x", "nope", "--dir", str(stack))
    assert result.status == 1
    assert "has no phase" in result.err
