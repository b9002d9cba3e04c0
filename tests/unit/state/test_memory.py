"""MemoryState: each role's behaviour, the sweep, and exact replay of its ops."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faramesh.state.memory import BUDGET_GRACE, SWEEP_INTERVAL, MemoryState
from faramesh.state.protocol import SESSION_RETENTION, HistoryEntry, StateOp
from faramesh.state.sqlite import snapshot_bytes

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- kill switch ---------------------------------------------------------------------------


def test_the_global_kill_switch_wins_over_an_agents_own() -> None:
    state = MemoryState()
    run(state.kill_switch.engage("a", "agent stop", at(0)))
    run(state.kill_switch.engage(None, "stop all", at(1)))
    engaged = run(state.kill_switch.engaged("a"))
    assert engaged is not None and engaged.agent_id is None
    assert [k.agent_id for k in run(state.kill_switch.all())] == [None, "a"]


def test_releasing_a_switch_that_is_not_engaged_changes_nothing() -> None:
    state = MemoryState()
    assert run(state.kill_switch.release("a", at(0))).op is None
    run(state.kill_switch.engage("a", "stop", at(0)))
    assert run(state.kill_switch.release("a", at(1))).op == ["kill.release", "a", at(1).isoformat()]
    assert run(state.kill_switch.engaged("a")) is None


# --- sessions and history ------------------------------------------------------------------


def test_touch_returns_the_session_as_it_was_before_the_call() -> None:
    state = MemoryState()
    first = run(state.sessions.touch("a", "s", at(0), purpose="refund", tool="x")).session
    assert (first.call_count, first.started_at, first.last_seen) == (0, at(0), at(0))
    assert first.purpose == "refund"
    second = run(state.sessions.touch("a", "s", at(5), purpose=None, tool="y")).session
    assert (second.call_count, second.last_seen, second.last_tool) == (1, at(0), "x")
    assert second.purpose == "refund"
    now = run(state.sessions.get("a", "s"))
    assert now is not None and (now.call_count, now.last_seen, now.last_tool) == (2, at(5), "y")


def test_an_older_touch_never_moves_last_seen_back() -> None:
    state = MemoryState()
    run(state.sessions.touch("a", "s", at(10), purpose=None, tool="late"))
    run(state.sessions.touch("a", "s", at(5), purpose=None, tool="early"))
    s = run(state.sessions.get("a", "s"))
    assert s is not None
    assert (s.started_at, s.last_seen, s.last_tool, s.call_count) == (at(5), at(10), "late", 2)


def test_a_touch_without_a_tool_is_not_counted() -> None:
    state = MemoryState()
    run(state.sessions.touch("a", "s", at(0), purpose=None, tool=None))
    s = run(state.sessions.get("a", "s"))
    assert s is not None and s.call_count == 0


def test_set_phase_without_a_session_moves_every_session_of_the_agent() -> None:
    state = MemoryState()
    for sid in ("s1", "s2"):
        run(state.sessions.touch("a", sid, at(0), purpose=None, tool="x"))
    run(state.sessions.touch("b", "s1", at(0), purpose=None, tool="x"))
    run(state.sessions.set_phase("a", None, "review", at(3)))
    phases = {(s.agent_id, s.session_id): (s.phase, s.phase_started_at)
              for s in run(state.sessions.list())}
    assert phases == {("a", "s1"): ("review", at(3)), ("a", "s2"): ("review", at(3)),
                      ("b", "s1"): (None, None)}
    assert run(state.sessions.set_phase("nobody", None, "x", at(3))).op is None


def test_the_history_ring_keeps_the_newest_entries_up_to_its_limit() -> None:
    state = MemoryState()
    for i in range(5):
        run(state.history.push("a", "s", HistoryEntry(f"t{i}", at(i), {"i": i}, f"id{i}"), 3))
    assert [e.tool for e in run(state.history.recent("a", "s"))] == ["t2", "t3", "t4"]
    assert run(state.history.recent("a", "other")) == []


def test_history_arguments_are_kept_as_replay_will_read_them() -> None:
    state = MemoryState()
    mutation = run(state.history.push("a", "s", HistoryEntry(
        "t", at(0), {"amount": Decimal("1.50"), "ids": (1, 2)}, "id"), 8))
    assert run(state.history.recent("a", "s"))[0].args == {"amount": "1.50", "ids": [1, 2]}
    assert mutation.op is not None and json.loads(json.dumps(mutation.op)) == mutation.op


def test_ending_a_session_forgets_its_history() -> None:
    state = MemoryState()
    run(state.sessions.touch("a", "s", at(0), purpose=None, tool="x"))
    run(state.history.push("a", "s", HistoryEntry("x", at(0), {}, "id"), 8))
    assert run(state.sessions.end("a", "s")).op == ["session.end", "a", "s"]
    assert run(state.sessions.get("a", "s")) is None
    assert run(state.history.recent("a", "s")) == []
    assert run(state.sessions.end("a", "s")).op is None


# --- budgets -------------------------------------------------------------------------------


def test_a_spend_that_would_pass_a_limit_spends_nothing() -> None:
    state = MemoryState()
    ok = run(state.budgets.spend("k", Decimal("60"), 1, max_usd=Decimal(100), max_calls=None))
    assert ok.allowed and ok.spent_usd == 60
    refused = run(state.budgets.spend("k", Decimal("41"), 1, max_usd=Decimal(100),
                                      max_calls=None))
    assert (refused.allowed, refused.op, refused.spent_usd, refused.spent_calls) == \
        (False, None, Decimal(60), 1)
    exact = run(state.budgets.spend("k", Decimal("40"), 1, max_usd=Decimal(100), max_calls=None))
    assert exact.allowed and exact.spent_usd == 100
    assert run(state.budgets.spent("k")) == (Decimal(100), 2)


def test_max_calls_limits_a_budget_whatever_the_cost() -> None:
    state = MemoryState()
    results = [run(state.budgets.spend("k", Decimal(0), 1, max_usd=None, max_calls=2)).allowed
               for _ in range(3)]
    assert results == [True, True, False]


def test_a_negative_spend_refunds() -> None:
    state = MemoryState()
    run(state.budgets.spend("k", Decimal(5), 1, max_usd=None, max_calls=None))
    refund = run(state.budgets.spend("k", Decimal(-5), -1, max_usd=None, max_calls=None))
    assert refund.op == ["budget.spend", "k", "-5", -1, None]
    assert run(state.budgets.spent("k")) == (Decimal(0), 0)


# --- rate buckets --------------------------------------------------------------------------


def test_a_bucket_starts_full_and_refuses_when_empty_with_the_exact_wait() -> None:
    state = MemoryState()
    taken = [run(state.rate_limits.take("k", 3, 0.5, at(0))) for _ in range(4)]
    assert [t.allowed for t in taken] == [True, True, True, False]
    assert taken[2].tokens == 0.0
    assert taken[3].op is None and taken[3].retry_after_s == pytest.approx(2.0)
    later = run(state.rate_limits.take("k", 3, 0.5, at(0.5)))
    assert not later.allowed and later.retry_after_s == pytest.approx(1.5)
    assert run(state.rate_limits.take("k", 3, 0.5, at(2))).allowed


def test_a_bucket_refills_continuously_up_to_its_capacity() -> None:
    state = MemoryState()
    run(state.rate_limits.take("k", 2, 1.0, at(0)))
    assert run(state.rate_limits.peek("k", 2, 1.0, at(0.25))) == pytest.approx(1.25)
    assert run(state.rate_limits.peek("k", 2, 1.0, at(100))) == 2.0


def test_a_refused_take_changes_nothing() -> None:
    state = MemoryState()
    run(state.rate_limits.take("k", 1, 0.1, at(0)))
    before = snapshot_bytes(state, 0)
    refused = run(state.rate_limits.take("k", 1, 0.1, at(1)))
    assert not refused.allowed and snapshot_bytes(state, 0) == before


def test_a_bucket_that_never_refills_has_no_next_token() -> None:
    state = MemoryState()
    run(state.rate_limits.take("k", 1, 0.0, at(0)))
    assert math.isinf(run(state.rate_limits.take("k", 1, 0.0, at(9))).retry_after_s)


# --- bounded memory ------------------------------------------------------------------------


def test_the_sweep_forgets_full_buckets_and_keeps_partial_ones() -> None:
    state = MemoryState()
    run(state.rate_limits.take("fast", 1, 1.0, at(0)))
    run(state.rate_limits.take("slow", 1, 0.001, at(0)))
    run(state.rate_limits.take("other", 1, 1.0, at(SWEEP_INTERVAL.total_seconds())))
    assert run(state.rate_limits.keys()) == ["other", "slow"]


def test_a_budget_key_is_forgotten_only_after_its_window_and_the_grace() -> None:
    state = MemoryState()
    ends = at(3600)
    run(state.budgets.spend("k", Decimal(1), 1, max_usd=None, max_calls=None, expires_at=ends))
    run(state.budgets.spend("forever", Decimal(1), 1, max_usd=None, max_calls=None))
    grace_s = BUDGET_GRACE.total_seconds()
    run(state.rate_limits.take("tick", 1, 1.0, at(3600 + grace_s - 1)))
    assert run(state.budgets.spent("k")) == (Decimal(1), 1)
    run(state.rate_limits.take("tick", 1, 1.0, at(3600 + grace_s + 120)))
    assert run(state.budgets.keys()) == ["forever"]


def test_a_later_expiry_keeps_a_budget_key_alive_and_none_keeps_it_forever() -> None:
    state = MemoryState()
    run(state.budgets.spend("k", Decimal(1), 1, max_usd=None, max_calls=None,
                            expires_at=at(10)))
    run(state.budgets.spend("k", Decimal(1), 1, max_usd=None, max_calls=None,
                            expires_at=at(10**6)))
    run(state.rate_limits.take("tick", 1, 1.0, at(10 + BUDGET_GRACE.total_seconds() + 60)))
    assert run(state.budgets.spent("k")) == (Decimal(2), 2)


def test_a_session_idle_past_the_retention_is_forgotten_with_its_history() -> None:
    state = MemoryState()
    run(state.sessions.touch("a", "old", at(0), purpose=None, tool="x"))
    run(state.history.push("a", "old", HistoryEntry("x", at(0), {}, "id"), 8))
    retention = SESSION_RETENTION.total_seconds()
    run(state.sessions.touch("a", "new", at(retention - 1), purpose=None, tool="x"))
    assert run(state.sessions.get("a", "old")) is not None
    run(state.sessions.touch("a", "new", at(retention + 60), purpose=None, tool="x"))
    assert [s.session_id for s in run(state.sessions.list("a"))] == ["new"]
    assert run(state.history.recent("a", "old")) == []


# --- ops and replay ------------------------------------------------------------------------


def test_an_unknown_op_stops_the_replay() -> None:
    with pytest.raises(ValueError, match="unknown state op"):
        MemoryState().apply(["budget.burn", "k"])


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run(MemoryState().rate_limits.take("k", 1, 1.0, datetime(2026, 1, 1)))


Action = Callable[[MemoryState, datetime], Awaitable[Any]]

_agents = st.sampled_from(["a", "b"])
_sessions = st.sampled_from(["s1", "s2", "s3"])
_keys = st.sampled_from(["k1", "k2", "k3"])
_maybe = st.none() | st.sampled_from(["x", "y"])
_usd = st.integers(-500, 5000).map(lambda c: Decimal(c) / 100)
_limit = st.none() | st.integers(0, 50)


def _touch(agent: str, session: str, purpose: str | None, tool: str | None) -> Action:
    return lambda s, now: s.sessions.touch(agent, session, now, purpose=purpose, tool=tool)


def _spend(key: str, usd: Decimal, calls: int, max_usd: int | None, max_calls: int | None,
           expires_s: int | None) -> Action:
    return lambda s, now: s.budgets.spend(
        key, usd, calls, max_usd=None if max_usd is None else Decimal(max_usd),
        max_calls=max_calls,
        expires_at=None if expires_s is None else now + timedelta(seconds=expires_s))


_actions: st.SearchStrategy[Action] = st.one_of(
    st.builds(_touch, _agents, _sessions, _maybe, _maybe),
    st.builds(lambda a, sid, p: lambda s, now: s.sessions.set_phase(a, sid, p, now),
              _agents, st.none() | _sessions, st.sampled_from(["p1", "p2"])),
    st.builds(lambda a, sid: lambda s, now: s.sessions.end(a, sid), _agents, _sessions),
    st.builds(lambda a, sid, n, lim: lambda s, now: s.history.push(
        a, sid, HistoryEntry("t", now, {"n": n, "d": Decimal(n) / 3}, f"id{n}"), lim),
        _agents, _sessions, st.integers(0, 99), st.integers(0, 4)),
    st.builds(_spend, _keys, _usd, st.integers(-1, 3), _limit, _limit,
              st.none() | st.integers(0, 7200)),
    st.builds(lambda k, cap, refill: lambda s, now: s.rate_limits.take(k, cap, refill, now),
              _keys, st.integers(1, 5), st.sampled_from([0.0, 0.1, 1 / 3, 2.5])),
    st.builds(lambda a, r: lambda s, now: s.kill_switch.engage(a, r, now),
              st.none() | _agents, st.sampled_from(["r1", "r2"])),
    st.builds(lambda a: lambda s, now: s.kill_switch.release(a, now), st.none() | _agents),
)
# Mostly small steps; sometimes hours or days (sweeps, retention); sometimes back in time.
_steps = st.one_of(st.floats(-2, 30), st.sampled_from([3600.0, 86400.0, 8 * 86400.0]))


def perform(state: MemoryState, script: list[tuple[float, Action]]) -> list[StateOp]:
    async def main() -> list[StateOp]:
        ops: list[StateOp] = []
        now = T0
        for step, action in script:
            now += timedelta(seconds=step)
            mutation = await action(state, now)
            if mutation is not None and getattr(mutation, "op", None) is not None:
                ops.append(mutation.op)
        return ops

    return asyncio.run(main())


@given(st.lists(st.tuples(_steps, _actions), max_size=60))
def test_replaying_the_ops_of_a_run_gives_exactly_the_same_state(
        script: list[tuple[float, Action]]) -> None:
    live = MemoryState()
    ops = perform(live, script)
    replayed = MemoryState()
    for op in json.loads(json.dumps(ops)):  # as the WAL stores them
        replayed.apply(op)
    assert snapshot_bytes(replayed, 0) == snapshot_bytes(live, 0)
