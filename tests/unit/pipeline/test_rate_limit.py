"""The rate_limit stage: token buckets per agent and pattern, exact retry hints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import faramesh
from faramesh.car import Caller, build_car
from faramesh.pipeline import rate_limit
from faramesh.pipeline.call import Call, Env, Settings
from faramesh.policy.decision import Code, Effect
from faramesh.state.memory import MemoryState
from tests.unit.pipeline.harness import ListLog

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POLICY = faramesh.load_policy("""
agent "a" {
  default permit
  rules { defer stripe/payout }
  rate_limit "Stripe/*": 5 per minute
  rate_limit "stripe/charge": 1 per 10s
}
agent "b" {
  default permit
  rate_limit "stripe/*": 5 per minute
}
""")



def make_env() -> Env:
    return Env(state=MemoryState(), log=ListLog(), settings=Settings(), clock=lambda: T0)


def decide(env: Env, tool: str, seconds: float = 0, agent: str = "a") -> Call:
    car = build_car({"agent": agent, "tool": tool}, Caller("inprocess"),
                    T0 + timedelta(seconds=seconds))
    call = Call(car, POLICY, POLICY.agents[agent])
    call.decision = POLICY.evaluate(car.action())
    asyncio.run(rate_limit.run(call, env))
    return call


def tokens(env: Env, key: str, capacity: int, refill_per_s: float, seconds: float) -> float:
    return asyncio.run(env.state.rate_limits.peek(key, capacity, refill_per_s,
                                                  T0 + timedelta(seconds=seconds)))


def test_calls_within_the_limit_pass_and_take_a_token_each() -> None:
    env = make_env()
    calls = [decide(env, "stripe/refund") for _ in range(5)]
    assert all(c.decision is not None and c.decision.code is Code.DEFAULT_PERMIT for c in calls)
    assert calls[0].state_ops == [["rate.take", "a\x1fstripe/*", 5, 5 / 60, T0.isoformat()]]


def test_an_empty_bucket_denies_with_the_exact_wait_for_one_token() -> None:
    env = make_env()
    for _ in range(5):
        decide(env, "stripe/refund")
    call = decide(env, "stripe/refund", seconds=3)
    assert call.decision is not None
    assert (call.decision.effect, call.decision.code) == (Effect.DENY, Code.RATE_EXCEEDED)
    assert call.decision.rule_ref == "<policy>:5"
    level = tokens(env, "a\x1fstripe/*", 5, 5 / 60, 3)
    assert call.resolution["retry_after_seconds"] == round((1 - level) / (5 / 60), 3) == 9.0
    assert call.state_ops == []


def test_a_deferred_call_takes_a_token_and_is_denied_when_the_bucket_is_empty() -> None:
    env = make_env()
    first = decide(env, "stripe/payout")
    assert first.decision is not None and first.decision.effect is Effect.DEFER
    assert first.state_ops != []
    for _ in range(4):
        decide(env, "stripe/payout")
    call = decide(env, "stripe/payout")
    assert call.decision is not None
    assert (call.decision.effect, call.decision.code) == (Effect.DENY, Code.RATE_EXCEEDED)


def test_a_call_refused_by_one_limit_takes_no_token_from_the_others() -> None:
    env = make_env()
    decide(env, "stripe/charge")
    refused = decide(env, "stripe/charge", seconds=1)
    assert refused.decision is not None and refused.decision.code is Code.RATE_EXCEEDED
    assert refused.decision.rule_ref == "<policy>:6"
    assert refused.resolution["retry_after_seconds"] == 9.0
    assert tokens(env, "a\x1fstripe/*", 5, 5 / 60, 1) == 4 + 5 / 60


def test_when_several_buckets_are_empty_the_longest_wait_is_given() -> None:
    env = make_env()
    decide(env, "stripe/charge")
    for _ in range(4):
        decide(env, "stripe/refund")
    refused = decide(env, "stripe/charge", seconds=9.5)
    assert refused.decision is not None and refused.decision.code is Code.RATE_EXCEEDED
    # stripe/* is empty since t=0 and has refilled 9.5 * 5/60 of a token; charge needs 0.5s.
    assert refused.resolution["retry_after_seconds"] == round(12 - 9.5, 3)
    assert refused.decision.rule_ref == "<policy>:5"


def test_tools_no_limit_matches_are_not_limited() -> None:
    env = make_env()
    for _ in range(20):
        call = decide(env, "db/read")
        assert call.decision is not None and call.decision.effect is Effect.PERMIT
        assert call.state_ops == []


def test_each_agent_has_its_own_buckets() -> None:
    env = make_env()
    for _ in range(5):
        decide(env, "stripe/refund", agent="a")
    codes = [decide(env, "stripe/refund", agent=agent).decision for agent in ("a", "b")]
    assert [d.code if d else None for d in codes] == [Code.RATE_EXCEEDED, Code.DEFAULT_PERMIT]


def test_a_rate_limit_is_compiled_once() -> None:
    limit = POLICY.agents["a"].agent.rate_limits[0]
    assert rate_limit.compile_limit(limit) is rate_limit.compile_limit(limit)
    assert rate_limit.compile_limit(limit).pattern == "stripe/*"
