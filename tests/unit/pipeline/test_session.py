"""Stage 4, session: opening, counting, and the `session` block's limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import faramesh
from faramesh.car import Caller, build_car
from faramesh.pipeline import session
from faramesh.pipeline.call import Call, Env, Settings
from faramesh.policy.decision import Code, Effect
from faramesh.policy.evaluator import Policy
from faramesh.state.memory import MemoryState
from tests.unit.pipeline.harness import ListLog

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POLICY = faramesh.load_policy("""
agent "a" {
  default permit
  session { max_duration = "30m"  idle_timeout = "5m"  max_calls 3 }
}
agent "timed" {
  default permit
  session { max_duration = "30m"  idle_timeout = "5m" }
}
agent "free" { default permit }
""")



def make_env() -> Env:
    return Env(state=MemoryState(), log=ListLog(), settings=Settings(), clock=lambda: T0)


def make_call(policy: Policy, minutes: float = 0, agent: str = "a", **fields: Any) -> Call:
    request = {"agent": agent, "tool": "stripe/charge", "session_id": "s1", **fields}
    car = build_car(request, Caller("inprocess"), T0 + timedelta(minutes=minutes))
    return Call(car, policy, policy.agents[agent])


def decide(env: Env, minutes: float, **fields: Any) -> Call:
    call = make_call(POLICY, minutes, **fields)
    asyncio.run(session.run(call, env))
    return call


def test_the_first_call_opens_the_session_and_notes_the_op() -> None:
    env = make_env()
    call = decide(env, 0, purpose="refund")
    assert call.decision is None
    assert call.session is not None and call.session.call_count == 0
    assert call.session.purpose == "refund"
    assert call.state_ops == [["session.touch", "a", "s1", T0.isoformat(), "refund",
                               "stripe/charge"]]


def test_calls_within_the_limits_go_on_and_are_counted() -> None:
    env = make_env()
    counts = []
    for minutes in (0, 4, 8):
        call = decide(env, minutes)
        assert call.decision is None
        assert call.session is not None
        counts.append(call.session.call_count)
    assert counts == [0, 1, 2]


def test_a_call_after_max_calls_is_denied_with_a_hint() -> None:
    env = make_env()
    for minutes in (0, 1, 2):
        decide(env, minutes)
    call = decide(env, 3)
    assert call.decision is not None
    assert (call.decision.effect, call.decision.code) == (Effect.DENY, Code.SESSION_EXPIRED)
    assert call.decision.rule_ref == "<policy>:4"
    assert call.resolution["hint"] == session.HINT


def test_a_gap_longer_than_idle_timeout_expires_the_session() -> None:
    env = make_env()
    decide(env, 0)
    assert decide(env, 5).decision is None  # exactly the timeout: still live
    call = decide(env, 10.5)
    assert call.decision is not None and call.decision.code is Code.SESSION_EXPIRED


def test_a_session_older_than_max_duration_expires() -> None:
    env = make_env()
    for minutes in (0, 4, 8, 12, 16, 20, 24, 28, 30):
        assert decide(env, minutes, agent="timed").decision is None
    call = decide(env, 30.5, agent="timed")
    assert call.decision is not None and call.decision.code is Code.SESSION_EXPIRED


def test_an_expired_session_stays_expired() -> None:
    env = make_env()
    decide(env, 0)
    assert decide(env, 6).decision is not None  # idle for 6 minutes: expired
    for minutes in (6.5, 7, 7.5, 60):
        call = decide(env, minutes)
        assert call.decision is not None and call.decision.code is Code.SESSION_EXPIRED
        assert call.state_ops == []  # never touched: its last_seen does not move


def test_a_new_session_id_starts_afresh_after_expiry() -> None:
    env = make_env()
    decide(env, 0)
    assert decide(env, 6).decision is not None
    assert decide(env, 6, session_id="s2").decision is None


def test_an_agent_without_a_session_block_is_only_counted() -> None:
    env = make_env()
    for minutes in (0, 600):
        call = make_call(POLICY, minutes, agent="free")
        asyncio.run(session.run(call, env))
        assert call.decision is None
    assert call.session is not None and call.session.call_count == 1


def test_an_unknown_agent_gets_no_session() -> None:
    env = make_env()
    car = build_car({"agent": "ghost", "tool": "x"}, Caller("inprocess"), T0)
    call = Call(car, POLICY, None)
    asyncio.run(session.run(call, env))
    assert call.session is None and call.state_ops == []
