"""Built-in functions of conditions, with history and clock injected through the action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from faramesh.policy import ir
from faramesh.policy.conditions import Unknown, compile_condition, compile_value
from faramesh.policy.context import Context
from faramesh.policy.values import Duration, Money

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


def call(name: str, *args: ir.Scalar, **kwargs: ir.Scalar) -> ir.Call:
    return ir.Call(name, tuple(ir.Lit(a) for a in args),
                   tuple((k, ir.Lit(v)) for k, v in kwargs.items()))


def value(expr: ir.Expr, args: dict[str, Any] | None = None, *, tool: str = "svc/op",
          session: dict[str, Any] | None = None, now: datetime = NOW) -> Any:
    ctx = Context(tool=tool, agent="bot", args=args or {}, session=session or {}, now=now)
    return compile_value(expr)(ctx)


def fields(result: object) -> tuple[str, ...]:
    assert isinstance(result, Unknown), result
    return result.fields


HISTORY = [
    {"tool": "auth/login", "time": ago(hours=3)},
    {"tool": "stripe/refund", "time": ago(minutes=50), "args": {"amount": 100}},
    {"tool": "stripe/refund", "time": ago(minutes=5), "args": {"amount": Decimal("20.5")}},
    {"tool": "Stripe/Charge", "time": ago(minutes=2), "args": {"amount": 7.25}},
    {"tool": "fs/read", "time": ago(minutes=1)},
]


def test_purpose_compares_with_the_session_purpose() -> None:
    assert value(call("purpose", "billing"), session={"purpose": "billing"}) is True
    assert value(call("purpose", "billing"), session={"purpose": "support"}) is False
    assert fields(value(call("purpose", "billing"))) == ("session.purpose",)


def test_history_sequence_ends_with_this_call() -> None:
    session = {"history": HISTORY}
    assert value(call("history_sequence", "stripe/charge", "fs/read", "shell/exec"),
                 tool="shell/exec", session=session) is True
    assert value(call("history_sequence", "fs/read", "shell/exec"), tool="shell/exec",
                 session=session) is True
    assert value(call("history_sequence", "stripe/refund", "shell/exec"), tool="shell/exec",
                 session=session) is False
    assert value(call("history_sequence", "a", "b", "c", "d", "e", "f", "g"),
                 tool="g", session=session) is False
    assert fields(value(call("history_sequence", "fs/read", "x"), tool="x"))[0].startswith(
        "session.history")


def test_history_contains_within_uses_the_injected_time() -> None:
    session = {"history": HISTORY}
    within = call("history_contains_within", "auth/login", Duration(Decimal(3600), "1h"))
    assert value(within, session=session) is False
    assert value(within, session=session, now=NOW - timedelta(hours=2, minutes=30)) is True
    assert value(call("history_contains_within", "stripe/*", 600), session=session) is True
    assert value(call("history_contains_within", "shell/**", 10**6), session=session) is False


def test_history_entries_without_a_time_count_as_recent() -> None:
    session = {"history": [{"tool": "auth/login"}, {"tool": "x", "time": "garbage"}]}
    assert value(call("history_contains_within", "auth/login", 1), session=session) is True
    assert value(call("session.count", "x", window=1), session=session) == 1


def test_an_enormous_window_reaches_back_to_the_start() -> None:
    session = {"history": [{"tool": "auth/login", "time": "0001-01-01T00:00:00+00:00"}]}
    huge = call("history_contains_within", "auth/login", Duration(Decimal(10**15), "huge"))
    assert value(huge, session=session) is True


def test_args_array_len_and_len() -> None:
    assert value(call("args_array_len", "items"), {"items": [1, 2, 3]}) == 3
    assert value(call("args_array_len", "order.lines"), {"order": {"lines": [1]}}) == 1
    assert fields(value(call("args_array_len", "items"))) == ("args.items",)
    assert fields(value(call("args_array_len", "items"), {"items": 5}))[0].startswith(
        "args_array_len")
    assert value(ir.Call("len", (ir.Var(("args", "items")),)), {"items": "abcd"}) == 4


def test_args_array_any_match_uses_the_tool_glob() -> None:
    any_match = call("args_array_any_match", "paths", "/etc/**")
    assert value(any_match, {"paths": ["/tmp/x", "/ETC/passwd"]}) is True
    assert value(any_match, {"paths": ["/tmp/x", 5]}) is False
    assert fields(value(any_match)) == ("args.paths",)
    assert fields(value(any_match, {"paths": "/etc/x"}))[0].startswith("args_array_any_match")


def test_session_sum_adds_the_amounts_of_matching_calls() -> None:
    session = {"history": HISTORY}
    assert value(call("session.sum", "args.amount"), session=session) == Decimal("127.75")
    assert value(call("session.sum", "stripe/refund.amount"), session=session) == \
        Decimal("120.5")
    assert value(call("session.sum", "stripe/refund.amount", window=600),
                 session=session) == Decimal("20.5")
    assert value(call("session.sum", "args.amount", tool="stripe/*"),
                 session=session) == Decimal("127.75")
    assert value(call("session.sum", "args.amount", tool="stripe/charge"),
                 session=session) == Decimal("7.25")


def test_session_sum_compares_with_money() -> None:
    over = ir.Compare(">", call("session.sum", "stripe/refund.amount"),
                      ir.Lit(Money(Decimal(100))))
    ctx = Context(tool="stripe/refund", agent="bot", args={}, session={"history": HISTORY},
                  now=NOW)
    assert compile_condition(over)(ctx) is True


def test_session_count() -> None:
    session = {"history": HISTORY}
    assert value(call("session.count"), session=session) == 5
    assert value(call("session.count", "stripe/*"), session=session) == 3
    assert value(call("session.count", "stripe/*", window=240), session=session) == 1
    assert value(call("session.count", tool="fs/**"), session=session) == 1


def test_session_aggregates_without_history_are_undecided() -> None:
    assert fields(value(call("session.count")))[0].startswith("session.history")
    assert fields(value(call("session.sum", "args.amount"),
                        session={"history": "nope"}))[0].startswith("session.history")


def test_malformed_history_entries_are_skipped() -> None:
    session = {"history": ["junk", 5, {"tool": 7}, {"tool": "a/b", "args": {"amount": "x"}}]}
    assert value(call("session.count"), session=session) == 2
    assert value(call("session.sum", "args.amount"), session=session) == 0


@pytest.mark.parametrize("expr", [
    call("purpose"),
    call("history_contains_within", "x"),
    call("args_array_len", 5),
    call("args_array_any_match", "paths"),
    call("session.count", window="soon"),
])
def test_bad_arguments_are_undecided_not_errors(expr: ir.Call) -> None:
    result = value(expr, {"paths": []}, session={"history": [], "purpose": "x"})
    assert isinstance(result, Unknown)
