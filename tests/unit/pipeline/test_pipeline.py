"""The pipeline end to end over a real policy: each stage's decision, the order they run
in, fail-closed behaviour, audit mode and what is recorded."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from faramesh.pipeline import pipeline as pipeline_module
from faramesh.pipeline.call import Call, Env
from faramesh.pipeline.stages import STAGE_NAMES, STAGES
from tests.unit.pipeline.harness import T0, Harness

POLICY = """
agent "payments-bot" {
  default deny
  rules {
    deny! shell/*
    deny email/send when history_sequence("db/read", "email/send") reason "no exfiltration"
    permit db/read
    permit email/send
    permit stripe/charge when amount < 100
    defer stripe/charge
    modify http/post set token = "masked-by-policy"
  }
  redact stripe/charge args: ["card.number"]
}
agent "phased" {
  phase intake { duration = "10m"  next = "resolve"  tools = ["read"] }
  phase resolve { tools = ["write"] }
  rules { permit read  permit write }
}
"""


def test_each_stage_name_is_a_module_of_the_pipeline_package() -> None:
    for name, run, _ in STAGES:
        assert run.__module__ == f"faramesh.pipeline.{name}"
    assert len(set(STAGE_NAMES)) == len(STAGE_NAMES)


def test_a_permit_is_recorded_with_its_rule_and_the_caller() -> None:
    h = Harness(POLICY)
    outcome = h.decide("payments-bot", "stripe/charge", args={"amount": 20})
    wire = outcome.to_wire()
    assert (wire["effect"], wire["code"]) == ("PERMIT", "RULE_PERMIT")
    assert wire["action_id"] == h.last["action_id"]
    assert h.last["caller"] == {"transport": "inprocess", "pid": 1, "uid": 0, "gid": 0}
    assert h.last["rule_ref"] == wire["rule_ref"] == "<policy>:9"
    assert set(h.last["latency_ns"]) >= {"kill_switch", "policy", "session", "redaction"}


def test_an_unknown_agent_is_denied_before_any_state_is_touched() -> None:
    h = Harness(POLICY)
    assert h.code("nobody", "db/read") == "IDENTITY_UNRESOLVED"
    assert asyncio.run(h.state.sessions.list()) == []
    assert h.last["state_ops"] == []


def test_the_kill_switch_denies_the_next_call_and_release_lifts_it() -> None:
    h = Harness(POLICY)
    asyncio.run(h.state.kill_switch.engage("payments-bot", "incident 42", T0))
    assert h.code("payments-bot", "db/read") == "KILL_SWITCH"
    assert h.code("phased", "read") == "RULE_PERMIT"  # another agent is unaffected
    asyncio.run(h.state.kill_switch.engage(None, "all stop", T0))
    assert h.code("phased", "read") == "KILL_SWITCH"
    asyncio.run(h.state.kill_switch.release(None, T0))
    asyncio.run(h.state.kill_switch.release("payments-bot", T0))
    assert h.code("payments-bot", "db/read") == "RULE_PERMIT"


def test_the_kill_switch_denies_in_audit_mode_too() -> None:
    h = Harness(POLICY, mode="audit")
    asyncio.run(h.state.kill_switch.engage(None, "stop", T0))
    outcome = h.decide("payments-bot", "db/read")
    assert outcome.to_wire()["effect"] == "DENY"


def test_audit_mode_lets_a_deny_through_and_records_it_as_enforced() -> None:
    h = Harness(POLICY, mode="audit")
    wire = h.decide("payments-bot", "shell/exec").to_wire()
    assert (wire["effect"], wire["enforced_effect"], wire["code"]) == \
        ("PERMIT", "DENY", "MANDATORY_DENY")
    assert (h.last["effect"], h.last["answered_effect"]) == ("DENY", "PERMIT")


def test_a_read_then_send_sequence_is_denied_by_history() -> None:
    h = Harness(POLICY)
    assert h.code("payments-bot", "email/send", session_id="s1") == "RULE_PERMIT"
    assert h.code("payments-bot", "db/read", session_id="s1") == "RULE_PERMIT"
    assert h.code("payments-bot", "email/send", session_id="s1") == "POLICY_DENY"
    # another session has its own history
    assert h.code("payments-bot", "email/send", session_id="s2") == "RULE_PERMIT"


def test_a_denied_call_does_not_enter_the_history() -> None:
    h = Harness(POLICY)
    h.decide("payments-bot", "shell/exec", session_id="s1")
    history = asyncio.run(h.state.history.recent("payments-bot", "s1"))
    assert history == []


def test_a_tool_outside_the_active_phase_is_denied_and_phases_advance_by_duration() -> None:
    h = Harness(POLICY)
    assert h.code("phased", "read", session_id="p") == "RULE_PERMIT"
    assert h.code("phased", "write", session_id="p") == "PHASE_DENY"
    later = timedelta(minutes=11)
    assert h.code("phased", "write", session_id="p", at=later) == "RULE_PERMIT"
    assert h.code("phased", "read", session_id="p", at=later) == "PHASE_DENY"
    assert any(op[0] == "session.phase" for op in h.log.records[-2]["state_ops"])


def test_redacted_fields_are_masked_in_the_record_and_the_history() -> None:
    h = Harness(POLICY)
    h.decide("payments-bot", "stripe/charge", session_id="s",
             args={"amount": 5, "card": {"number": "4242424242424242"}})
    assert h.last["args"] == {"amount": 5, "card": {"number": "[REDACTED]"}}
    [entry] = asyncio.run(h.state.history.recent("payments-bot", "s"))
    assert entry.args == {"amount": 5, "card": {"number": "[REDACTED]"}}


def test_modified_arguments_go_to_the_caller() -> None:
    h = Harness(POLICY)
    wire = h.decide("payments-bot", "http/post", args={"token": "abc", "x": 1}).to_wire()
    assert (wire["code"], wire["args"]) == ("MODIFIED", {"token": "masked-by-policy", "x": 1})


def test_a_record_that_cannot_be_written_denies_the_call_in_every_mode() -> None:
    for mode in ("enforce", "audit"):
        h = Harness(POLICY, mode=mode)
        h.log.fail = "disk full"
        wire = h.decide("payments-bot", "db/read").to_wire()
        assert (wire["effect"], wire["code"]) == ("DENY", "AUDIT_UNAVAILABLE")
        assert h.log.records == []


def test_a_stage_that_raises_fails_closed_and_the_call_is_still_recorded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(call: Call, env: Env) -> None:
        raise RuntimeError("boom")

    stages = tuple((n, broken if n == "session" else f, w) for n, f, w in STAGES)
    monkeypatch.setattr(pipeline_module, "STAGES", stages)
    h = Harness(POLICY)
    wire = h.decide("payments-bot", "db/read").to_wire()
    assert (wire["effect"], wire["code"]) == ("DENY", "STAGE_FAILED")
    assert h.last["code"] == "STAGE_FAILED"


DELEGATION = """
agent "lead" {
  rules { deny! web/admin/*  permit web/**  permit files/read }
  delegate researcher { scope "web/*"  ceiling permit }
  delegate intern { scope "web/**"  ceiling defer }
}
agent "researcher" { rules { permit web/**  permit files/read } }
agent "intern" { rules { permit web/** } }
"""


@pytest.mark.parametrize(("agent", "tool", "chain", "effect", "code"), [
    ("researcher", "web/search", ["lead"], "PERMIT", "RULE_PERMIT"),
    ("researcher", "files/read", ["lead"], "DENY", "DELEGATION_DENIED"),  # out of scope
    ("researcher", "web/search", ["stranger"], "DENY", "DELEGATION_DENIED"),
    ("intern", "web/search", ["lead"], "DEFER", "DELEGATION_DENIED"),  # capped at defer
    ("intern", "web/admin/users", ["lead"], "DENY", "DELEGATION_DENIED"),  # deny! stays
    ("researcher", "web/search", ["intern"], "DENY", "DELEGATION_DENIED"),  # no such link
])
def test_a_delegate_never_exceeds_its_delegator(agent: str, tool: str, chain: list[str],
                                                effect: str, code: str) -> None:
    wire = Harness(DELEGATION).decide(agent, tool, delegation=chain).to_wire()
    assert (wire["effect"], wire["code"]) == (effect, code)


EGRESS = """
agent "fetcher" {
  rules { permit http/** }
  egress { allow = ["api.stripe.com", "*.example.com"]  deny = ["evil.example.com"] }
  model_policy { allow = ["claude-*"] }
}
"""


@pytest.mark.parametrize(("fields", "code"), [
    ({"args": {"url": "https://api.stripe.com/v1/charges"}}, "RULE_PERMIT"),
    ({"args": {"url": "https://docs.example.com/x"}}, "RULE_PERMIT"),
    ({"args": {"url": "https://EVIL.example.com./x"}}, "EGRESS_DENIED"),
    ({"args": {"url": "https://attacker.net/x"}}, "EGRESS_DENIED"),
    ({"http": {"host": "attacker.net"}, "args": {"url": "https://api.stripe.com"}},
     "EGRESS_DENIED"),
    ({"args": {"url": "http://[::1"}}, "EGRESS_DENIED"),
    ({"model": "gpt-5"}, "MODEL_DENIED"),
    ({"model": "claude-sonnet-4"}, "RULE_PERMIT"),
])
def test_egress_and_model_policy(fields: dict[str, Any], code: str) -> None:
    assert Harness(EGRESS).code("fetcher", "http/get", **fields) == code


PRICED = """
agent "priced" {
  default permit
  tool "llm/**" { cost = $0.25 }
  budget daily { max $1 }
}
"""


def test_the_record_names_the_cost_charged_from_the_tool_table() -> None:
    h = Harness(PRICED)
    h.decide("priced", "llm/chat")
    assert h.last["cost_usd"] == "0.25"
    h.decide("priced", "llm/chat", cost=0.5)
    assert h.last["cost_usd"] == "0.5"


def test_stages_with_nothing_to_do_for_an_agent_are_skipped_and_the_order_kept() -> None:
    h = Harness(POLICY)
    h.decide("payments-bot", "db/read")
    ran = list(h.last["latency_ns"])
    assert ran == [n for n in STAGE_NAMES if n in ran]
    assert "budget" not in ran and "rate_limit" not in ran and "phase_check" not in ran
    assert "history" in ran  # the policy reads history (history_sequence)
    h.decide("phased", "read")
    assert "phase_check" in h.last["latency_ns"]
