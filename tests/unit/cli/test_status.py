"""`faramesh status`: the daemon's status report, as JSON or text; exit 3 when none runs."""

from __future__ import annotations

from pathlib import Path

from faramesh.cli.status import render
from tests.unit.cli.clirun import Run
from tests.unit.cli.control_double import serving, short_stack

STATUS = {  # the shape of daemon/status.py's report
    "lifecycle": "READY", "mode": "enforce", "durability": "os", "pid": 4242,
    "unflushed_window_s": 0.005, "trust_level": "none: no sandbox yet",
    "wal": {"last_sequence": 42, "degraded": False, "durability": "os"},
    "policy": {"version": "f" * 64, "source": "/s/governance.fms", "agents": 2},
    "kill_switch": [{"agent_id": "ops-bot", "reason": "incident", "since": "T0"}],
    "agents": [
        {"agent_id": "pay-bot", "killed": False, "sessions": 1,
         "budgets": [{"budget_id": "daily", "window": "day", "spent_usd": "12.50",
                      "max_usd": "500", "spent_calls": 3, "max_calls": None,
                      "resets_at": "T1"}],
         "rate_limits": [{"pattern": "stripe/*", "capacity": 10, "tokens": 9.0,
                          "per": "1m"}]},
        {"agent_id": "ops-bot", "killed": True, "sessions": 0, "budgets": [],
         "rate_limits": []},
    ],
}


def test_no_daemon_is_exit_three_with_a_hint(cli: Run, tmp_path: Path) -> None:
    result = cli("status", "--dir", str(tmp_path))
    assert result.status == 3
    assert "error[DAEMON_UNAVAILABLE]" in result.err
    assert "faramesh apply" in result.err


def test_no_daemon_in_json_is_a_json_error(cli: Run, tmp_path: Path) -> None:
    result = cli("status", "--dir", str(tmp_path), "--format", "json")
    assert result.status == 3
    assert result.err_json()["error"]["code"] == "DAEMON_UNAVAILABLE"


def test_json_is_the_status_result_as_it_came(cli: Run) -> None:
    with short_stack() as stack, serving(stack, {"status": STATUS}) as daemon:
        result = cli("status", "--dir", str(stack), "--format", "json")
    assert result.status == 0, result.err
    assert result.json() == STATUS
    assert [r["op"] for r in daemon.requests] == ["status"]


def test_text_shows_every_section() -> None:
    text = "\n".join(render(STATUS))
    assert "daemon: READY  mode enforce  durability os  (pid 4242)" in text
    assert "the last 0.005s" in text
    assert f"policy: {'f' * 12} from /s/governance.fms" in text
    assert "agents: 2" in text
    assert "  pay-bot: active, 1 session" in text
    assert "    budget daily (day): $12.50 of $500 spent, 3 calls, resets T1" in text
    assert "    rate limit stripe/*: 9.0 of 10 tokens per 1m" in text
    assert "  ops-bot: KILLED (incident) since T0, 0 sessions" in text
    assert "trust: none: no sandbox yet" in text
    assert "wal: sequence 42" in text
    assert "DEGRADED" not in text


def test_a_global_kill_switch_and_a_degraded_wal_stand_out() -> None:
    text = "\n".join(render({**STATUS, "wal": {"last_sequence": 1, "degraded": True},
                             "kill_switch": [{"agent_id": None, "reason": "stop",
                                              "since": "T"}]}))
    assert "kill switch: ENGAGED FOR EVERY AGENT (stop) since T" in text
    assert "DEGRADED" in text


def test_text_tolerates_a_sparse_report() -> None:
    lines = render({"lifecycle": "STARTING"})
    assert lines[0].startswith("daemon: STARTING")
