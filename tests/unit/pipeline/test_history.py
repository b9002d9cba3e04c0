"""Stage 5, history: the session's ring loaded for conditions, and `remember`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import faramesh
from faramesh.car import Caller, build_car
from faramesh.pipeline import history
from faramesh.pipeline.call import Call, Env, Settings
from faramesh.policy.evaluator import Policy
from faramesh.state.memory import MemoryState
from tests.unit.pipeline.harness import ListLog

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POLICY = faramesh.load_policy("""
agent "short" {
  default permit
  session { history 2 }
}
agent "plain" {
  default permit
  rules { deny never/run when history_contains_within("db/read", 60) }
}
""")



def make_env(history_limit: int = 64) -> Env:
    return Env(state=MemoryState(), log=ListLog(),
               settings=Settings(history_limit=history_limit), clock=lambda: T0)


def make_call(policy: Policy, agent: str, tool: str, seconds: float = 0,
              session_id: str = "s1") -> Call:
    request = {"agent": agent, "tool": tool, "session_id": session_id, "args": {"n": 1}}
    car = build_car(request, Caller("inprocess"), T0 + timedelta(seconds=seconds))
    return Call(car, policy, policy.agents[agent])


def ran(env: Env, agent: str, tool: str, seconds: float, session_id: str = "s1") -> Call:
    """A call that ran: `record` remembers it with its redacted arguments."""
    call = make_call(POLICY, agent, tool, seconds, session_id)
    call.stored_args = {"n": "***"}
    asyncio.run(history.remember(call, env))
    return call


def loaded(env: Env, agent: str, session_id: str = "s1") -> Call:
    call = make_call(POLICY, agent, "next", 100, session_id)
    asyncio.run(history.run(call, env))
    return call


def test_remember_pushes_the_recorded_arguments_time_and_action_id() -> None:
    env = make_env()
    first = ran(env, "plain", "db/read", 1)
    [entry] = loaded(env, "plain").history
    assert (entry.tool, entry.time, entry.args, entry.action_id) == \
        ("db/read", T0 + timedelta(seconds=1), {"n": "***"}, first.car.action_id)
    assert first.state_ops[0][0] == "history.push"


def test_the_stage_loads_the_sessions_ring_oldest_first() -> None:
    env = make_env()
    for i, tool in enumerate(("db/read", "mail/send", "db/write")):
        ran(env, "plain", tool, i)
    ran(env, "plain", "other/session", 9, session_id="s2")
    assert [e.tool for e in loaded(env, "plain").history] == ["db/read", "mail/send", "db/write"]


def test_the_session_blocks_history_field_bounds_the_ring() -> None:
    env = make_env()
    for i in range(4):
        ran(env, "short", f"t{i}", i)
    assert [e.tool for e in loaded(env, "short").history] == ["t2", "t3"]


def test_without_a_session_block_the_settings_limit_bounds_the_ring() -> None:
    env = make_env(history_limit=3)
    for i in range(5):
        call = ran(env, "plain", f"t{i}", i)
    assert call.state_ops[0][-1] == 3
    assert [e.tool for e in loaded(env, "plain").history] == ["t2", "t3", "t4"]


def test_an_unknown_agent_has_no_history() -> None:
    env = make_env()
    car = build_car({"agent": "ghost", "tool": "x"}, Caller("inprocess"), T0)
    call = Call(car, POLICY, None)
    asyncio.run(history.remember(call, env))
    asyncio.run(history.run(call, env))
    assert call.history == [] and call.state_ops == []


def test_a_policy_that_never_reads_history_does_not_load_it_but_still_keeps_it() -> None:
    quiet = faramesh.load_policy('agent "plain" { default permit }')
    env = make_env()
    ran(env, "plain", "db/read", 1)
    call = make_call(quiet, "plain", "db/read", 2)
    asyncio.run(history.run(call, env))
    assert call.history == []
    assert len(asyncio.run(env.state.history.recent("plain", "s1"))) == 1
