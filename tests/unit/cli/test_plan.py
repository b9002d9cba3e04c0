"""`faramesh plan`: the policy diff against the version in force, and recent decisions
replayed against the new policy (daemon/plan.py), without a daemon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from faramesh.audit.index import RecordIndex
from faramesh.daemon import plan
from faramesh.daemon.versions import PolicyVersions
from faramesh.fpl.loader import load_policy, load_policy_ir, load_stack
from faramesh.policy.evaluator import Policy
from tests.unit.cli.clirun import Run

OLD = """\
agent "pay-bot" {
  default deny
  rules {
    deny! shell/** reason "no shell"
    permit stripe/refund if amount < $100
    deny stripe/refund
  }
  budget daily { max $500 on_exceed deny }
  rate_limit "stripe/*": 10 per minute
  egress { allow = ["api.stripe.com"] }
}

agent "old-bot" {
  rules { permit x }
}
"""
NEW = """\
agent "pay-bot" {
  default permit
  rules {
    deny! shell/** reason "no shell"
    permit stripe/refund if amount < $50
    deny stripe/refund
    defer db/write
  }
  budget daily { max $800 on_exceed deny }
  rate_limit "stripe/*": 10 per minute
  egress { allow = ["api.stripe.com", "api.paypal.com"] }
}

agent "new-bot" {
  rules { permit y }
}
"""
NOW = datetime.now(UTC)


def changes(agent: plan.AgentDiff) -> set[tuple[str, str, str, str | None]]:
    return {(c.kind, c.op, c.text, c.old) for c in agent.changes}


def test_static_diff_per_agent() -> None:
    diff = {a.agent_id: a for a in plan.diff_policies(load_policy_ir(OLD),
                                                      load_policy_ir(NEW))}
    assert {a: d.status for a, d in diff.items()} == {
        "pay-bot": "changed", "new-bot": "added", "old-bot": "removed"}
    assert changes(diff["pay-bot"]) == {
        ("rule", "-", "permit stripe/refund if args.amount < $100", None),
        ("rule", "+", "permit stripe/refund if args.amount < $50", None),
        ("rule", "+", "defer db/write", None),
        ("default", "~", "permit", "deny"),
        ("budget", "~", "daily: max $800 on_exceed deny", "daily: max $500 on_exceed deny"),
        ("block", "~", 'egress: allow ["api.stripe.com", "api.paypal.com"]',
         'egress: allow ["api.stripe.com"]'),
    }
    assert ("rule", "+", "permit y", None) in changes(diff["new-bot"])


def test_the_same_policy_has_no_diff() -> None:
    assert plan.diff_policies(load_policy_ir(OLD), load_policy_ir(OLD)) == []


def test_rules_in_another_order_are_a_change() -> None:
    one = 'agent "a" {\n  rules {\n    permit x\n    deny y\n  }\n}\n'
    two = 'agent "a" {\n  rules {\n    deny y\n    permit x\n  }\n}\n'
    (agent,) = plan.diff_policies(load_policy_ir(one), load_policy_ir(two))
    assert [c.kind for c in agent.changes] == ["rule_order"]


def record(seq: int, tool: str, effect: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "decision", "action_id": f"A{seq}", "agent_id": "pay-bot", "tool": tool,
            "time": (NOW - timedelta(hours=1)).isoformat(), "effect": effect, "code": code,
            "rule_ref": "old.fms:1", "args": {}, "principal": {}, "session_id": "s1",
            **extra}


RECORDS = [
    record(1, "stripe/refund", "PERMIT", "RULE_PERMIT", args={"amount": 80}),  # changes
    record(2, "stripe/refund", "PERMIT", "RULE_PERMIT", args={"amount": 20}),  # same
    record(3, "db/write", "DENY", "DEFAULT_DENY"),  # changes: now deferred
    record(4, "stripe/refund", "DENY", "KILL_SWITCH"),  # not the engine's: not replayed
    record(5, "shell/exec", "DENY", "MANDATORY_DENY"),  # same
    {**record(6, "db/write", "DENY", "DEFAULT_DENY"),  # too old for --since 24h
     "time": (NOW - timedelta(days=3)).isoformat()},
    {"kind": "control", "command": "kill", "time": NOW.isoformat()},  # not a decision
]


def write_records(db: Path, records: list[dict[str, Any]]) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    index = RecordIndex(db)
    try:
        index.catch_up(enumerate(records, start=1))
    finally:
        index.close()


def test_decision_diff_replays_recent_policy_decisions(tmp_path: Path) -> None:
    write_records(tmp_path / "records.db", RECORDS)
    since = (NOW - timedelta(hours=24)).isoformat()
    diff = plan.plan_decisions(tmp_path, load_policy(NEW), since, limit=10)
    assert (diff.replayed, diff.not_replayed, diff.changed) == (4, 1, 2)
    assert [(c.action_id, c.old_code, c.new_effect, c.new_code) for c in diff.changes] == [
        ("A1", "RULE_PERMIT", "DENY", "POLICY_DENY"), ("A3", "DEFAULT_DENY", "DEFER",
                                                       "POLICY_DEFER")]
    assert diff.changes[0].new_rule_ref == "<policy>:6"


def test_decision_diff_lists_at_most_limit_but_counts_all(tmp_path: Path) -> None:
    write_records(tmp_path / "records.db", RECORDS)
    since = (NOW - timedelta(hours=24)).isoformat()
    diff = plan.plan_decisions(tmp_path, load_policy(NEW), since, limit=1)
    assert (diff.changed, len(diff.changes)) == (2, 1)


def test_no_records_db_is_no_decisions(tmp_path: Path) -> None:
    diff = plan.plan_decisions(tmp_path, load_policy(NEW), NOW.isoformat(), limit=5)
    assert (diff.replayed, diff.changed) == (0, 0)
    assert not (tmp_path / "records.db").exists()


def test_replay_carries_session_purpose_phase_and_model() -> None:
    action = plan.replay_action(record(1, "t", "PERMIT", "RULE_PERMIT", purpose="refunds",
                                       phase="intake", model="m"))
    assert action["session"] == {"id": "s1", "history": [], "purpose": "refunds",
                                 "phase": "intake"}
    assert action["model"] == "m"


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    (tmp_path / "governance.fms").write_text(NEW, "utf-8")
    data = tmp_path / ".faramesh"
    PolicyVersions(data / "policies").save(load_policy(OLD), "old.fms", NOW)
    write_records(data / "records.db", RECORDS)
    return tmp_path


def test_plan_json_has_the_version_in_force_the_diff_and_the_decisions(
        cli: Run, stack: Path) -> None:
    result = cli("plan", "--dir", str(stack), "--format", "json")
    assert result.status == 0, result.err
    body = result.json()
    assert body["in_force"]["version"] == load_policy(OLD).version_hash
    # the version the daemon would compute: files named relative to the stack
    assert body["policy_version"] == Policy(load_stack(stack)).version_hash
    assert {a["agent_id"] for a in body["agents"]} == {"pay-bot", "new-bot", "old-bot"}
    assert body["decisions"]["changed"] == 2
    assert body["decisions"]["changes"][0]["action_id"] == "A1"
    assert any("masked" in note for note in body["notes"])


def test_plan_text(cli: Run, stack: Path) -> None:
    result = cli("plan", "--dir", str(stack), "--limit", "1")
    assert result.status == 0, result.err
    text = result.out
    assert f"in force:   {load_policy(OLD).version_hash[:12]}" in text
    assert "    + rule       defer db/write" in text
    assert "    ~ default    deny -> permit" in text
    assert "  agent old-bot (removed)" in text
    assert "4 replayed, 2 would change, 1 not replayed" in text
    assert "A1  pay-bot  stripe/refund  PERMIT RULE_PERMIT -> DENY POLICY_DENY" in text
    assert "... and 1 more change" in text
    assert "redacted arguments are replayed masked" in text
    assert "history" in text


def test_plan_without_a_policy_in_force_compares_against_empty(cli: Run,
                                                               tmp_path: Path) -> None:
    (tmp_path / "governance.fms").write_text(NEW, "utf-8")
    result = cli("plan", "--dir", str(tmp_path))
    assert result.status == 0, result.err
    assert "in force:   none" in result.out
    assert "agent pay-bot (added)" in result.out
    assert not (tmp_path / ".faramesh").exists()  # plan writes nothing


def test_plan_of_a_stack_that_does_not_compile_is_exit_one(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "governance.fms").write_text('agent "a" {\n  rules { permit }\n}\n', "utf-8")
    result = cli("plan", "--dir", str(tmp_path))
    assert result.status == 1
    assert "governance.fms:2:" in result.out


@pytest.mark.parametrize("since", ["yesterday", "0h", "-1h"])
def test_since_that_is_not_a_duration_is_a_usage_error(cli: Run, tmp_path: Path,
                                                       since: str) -> None:
    result = cli("plan", "--dir", str(tmp_path), f"--since={since}")
    assert result.status == 2
    assert "INVALID_ARGUMENT" in result.err
