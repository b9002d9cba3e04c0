"""Condition operators under three-valued logic: true, false, or undecided (never raising)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.policy import ir
from faramesh.policy.conditions import Unknown, compile_condition
from faramesh.policy.context import Context
from faramesh.policy.values import DataSize, Duration, Money

NOON = datetime(2026, 3, 4, 12, 30, 15, tzinfo=UTC)  # a Wednesday


def var(dotted: str) -> ir.Var:
    return ir.Var(tuple(dotted.split(".")))


def lit(value: ir.Scalar) -> ir.Lit:
    return ir.Lit(value)


def cmp(op: str, left: ir.Expr, right: ir.Expr) -> ir.Compare:
    return ir.Compare(op, left, right)


def run(expr: ir.Expr, args: dict[str, Any] | None = None, **parts: Any) -> bool | Unknown:
    ctx = Context(tool=parts.pop("tool", "svc/op"), agent=parts.pop("agent", "bot"),
                  args=args or {}, now=parts.pop("now", NOON), **parts)
    return compile_condition(expr)(ctx)


def undecided(result: object) -> tuple[str, ...]:
    assert isinstance(result, Unknown), result
    return result.fields


# --- comparisons ---------------------------------------------------------------------

@pytest.mark.parametrize(("op", "value", "expected"), [
    ("==", 5, True), ("==", 6, False), ("!=", 5, False), ("!=", 6, True),
    ("<", 6, True), ("<", 5, False), ("<=", 5, True), ("<=", 4, False),
    (">", 4, True), (">", 5, False), (">=", 5, True), (">=", 6, False),
])
def test_number_comparisons(op: str, value: int, expected: bool) -> None:
    assert run(cmp(op, var("args.n"), lit(value)), {"n": 5}) is expected


@pytest.mark.parametrize("n", [5, 5.0, Decimal("5"), Decimal("5.00"), Money(Decimal(5))])
def test_numbers_of_every_kind_compare_by_value(n: object) -> None:
    assert run(cmp("==", var("args.n"), lit(5)), {"n": n}) is True
    assert run(cmp("<", var("args.n"), lit(Decimal("5.01"))), {"n": n}) is True
    assert run(cmp(">=", var("args.n"), lit(5.0)), {"n": n}) is True


def test_strings_compare_as_text() -> None:
    assert run(cmp("==", var("args.env"), lit("prod")), {"env": "prod"}) is True
    assert run(cmp("!=", var("args.env"), lit("prod")), {"env": "dev"}) is True
    assert run(cmp("<", var("args.env"), lit("prod")), {"env": "dev"}) is True
    assert run(cmp("==", var("args.env"), lit("prod")), {"env": "PROD"}) is False


def test_booleans_compare_only_with_booleans() -> None:
    assert run(cmp("==", var("args.flag"), lit(True)), {"flag": True}) is True
    assert run(cmp("!=", var("args.flag"), lit(True)), {"flag": False}) is True
    assert undecided(run(cmp("==", var("args.flag"), lit(True)), {"flag": 1}))
    assert undecided(run(cmp("==", var("args.n"), lit(1)), {"n": True}))
    assert undecided(run(cmp("<", var("args.n"), lit(2)), {"n": True}))


def test_a_missing_field_is_undecided_and_named() -> None:
    for op in ("==", "!=", "<", "<=", ">", ">=", "contains", "matches"):
        right = lit("x") if op in ("contains", "matches") else lit(5)
        assert undecided(run(cmp(op, var("args.amount"), right))) == ("args.amount",)
    assert undecided(run(cmp("in", var("args.env"), ir.ListLit((lit("a"),))))) == ("args.env",)
    assert undecided(run(cmp("==", var("args.user.name"), lit("x")), {"user": {}})) == \
        ("args.user.name",)
    assert undecided(run(cmp("==", var("principal.role"), lit("x")))) == ("principal.role",)


@pytest.mark.parametrize(("op", "value", "right"), [
    ("<", "abc", lit(5)), (">", 5, lit("abc")), ("==", "5", lit(5)), ("!=", [1], lit(1)),
    ("<", {"a": 1}, lit(1)), ("==", object(), lit(1)), ("<", [1], lit(2)),
    ("contains", 5, lit("x")), ("matches", 5, lit("x")),
])
def test_incompatible_types_are_undecided(op: str, value: object, right: ir.Expr) -> None:
    fields = undecided(run(cmp(op, var("args.v"), right), {"v": value}))
    assert "incompatible types" in fields[0]


def test_two_currencies_never_compare() -> None:
    eur = {"price": Money(Decimal(5), "EUR")}
    assert undecided(run(cmp("<", var("args.price"), lit(Money(Decimal(9)))), eur))
    assert undecided(run(cmp("==", var("args.price"), lit(Money(Decimal(5)))), eur))
    assert run(cmp("<", var("args.price"), lit(Money(Decimal(9), "EUR"))), eur) is True


def test_money_literals_compare_with_plain_numbers() -> None:
    limit = cmp("<=", var("args.amount"), lit(Money(Decimal(500))))
    assert run(limit, {"amount": 500}) is True
    assert run(limit, {"amount": 500.01}) is False
    assert run(limit, {"amount": Decimal("499.99")}) is True
    assert run(limit, {"amount": Money(Decimal("500.00"))}) is True
    assert undecided(run(limit, {"amount": "500"}))


def test_durations_and_sizes_compare_as_seconds_and_bytes() -> None:
    assert run(cmp("<", var("args.timeout"), lit(Duration(Decimal(900), "15m"))),
               {"timeout": 60}) is True
    assert run(cmp(">", var("args.bytes"), lit(DataSize(10_000_000, "10mb"))),
               {"bytes": 10_000_001}) is True


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, Decimal("NaN"),
                                 Decimal("Infinity"), Decimal("sNaN"),
                                 Money(Decimal("NaN"))])
@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_nan_and_infinity_are_undecided(bad: object, op: str) -> None:
    assert undecided(run(cmp(op, var("args.amount"), lit(500)), {"amount": bad}))
    assert undecided(run(cmp(op, lit(500), var("args.amount")), {"amount": bad}))


def test_an_explicit_null_is_nil_not_a_number() -> None:
    assert undecided(run(cmp(">", var("args.amount"), lit(5)), {"amount": None}))
    assert run(cmp("==", var("args.amount"), lit(5)), {"amount": None}) is False


# --- existence -----------------------------------------------------------------------

@pytest.mark.parametrize(("args", "exists"), [
    ({}, False), ({"x": None}, False), ({"x": 0}, True), ({"x": ""}, True),
    ({"x": False}, True), ({"x": []}, True), ({"x": object()}, True),
    ({"x": math.nan}, True),
])
def test_x_not_nil_is_the_existence_test(args: dict[str, Any], exists: bool) -> None:
    assert run(cmp("!=", var("args.x"), lit(None)), args) is exists
    assert run(cmp("==", var("args.x"), lit(None)), args) is (not exists)
    assert run(cmp("!=", lit(None), var("args.x")), args) is exists


def test_existence_of_a_nested_field() -> None:
    test = cmp("!=", var("args.user.name"), lit(None))
    assert run(test, {"user": {"name": "ann"}}) is True
    assert run(test, {"user": {}}) is False
    assert run(test, {"user": "ann"}) is False


# --- in / contains / matches ---------------------------------------------------------

def test_in_a_list_of_strings() -> None:
    envs = ir.ListLit((lit("dev"), lit("staging")))
    assert run(cmp("in", var("args.env"), envs), {"env": "dev"}) is True
    assert run(cmp("in", var("args.env"), envs), {"env": "prod"}) is False
    assert undecided(run(cmp("in", var("args.env"), envs), {"env": 5}))
    assert run(cmp("in", var("args.env"), envs), {"env": None}) is False


def test_in_a_list_of_numbers() -> None:
    codes = ir.ListLit((lit(1), lit(Decimal("2.5")), lit(Money(Decimal(3)))))
    assert run(cmp("in", var("args.n"), codes), {"n": 2.5}) is True
    assert run(cmp("in", var("args.n"), codes), {"n": 3}) is True
    assert run(cmp("in", var("args.n"), codes), {"n": 4}) is False
    assert undecided(run(cmp("in", var("args.n"), codes), {"n": "1"}))
    assert undecided(run(cmp("in", var("args.n"), codes), {"n": math.nan}))


def test_in_a_mixed_list_is_undecided_only_without_a_match() -> None:
    mixed = ir.ListLit((lit("a"), lit(1)))
    assert run(cmp("in", var("args.v"), mixed), {"v": "a"}) is True
    assert undecided(run(cmp("in", var("args.v"), mixed), {"v": "b"}))


def test_in_a_list_argument_and_a_map() -> None:
    assert run(cmp("in", lit("ops"), var("principal.groups")), None,
               principal={"groups": ["dev", "ops"]}) is True
    assert run(cmp("in", lit("k"), var("args.m")), {"m": {"k": 1}}) is True
    assert undecided(run(cmp("in", lit("k"), var("args.m")), {"m": "k"}))


def test_contains() -> None:
    assert run(cmp("contains", var("args.cmd"), lit("rm -rf")), {"cmd": "sudo rm -rf /"}) is True
    assert run(cmp("contains", var("args.cmd"), lit("rm -rf")), {"cmd": "ls"}) is False
    assert run(cmp("contains", var("args.tags"), lit("pii")), {"tags": ["x", "pii"]}) is True
    assert run(cmp("contains", var("args.tags"), lit("pii")), {"tags": ["x"]}) is False
    assert run(cmp("contains", var("args.m"), lit("k")), {"m": {"k": 1}}) is True


def test_matches_is_an_unanchored_search() -> None:
    assert run(cmp("matches", var("args.path"), lit("etc")), {"path": "/etc/passwd"}) is True
    assert run(cmp("matches", var("args.path"), lit("^etc")), {"path": "/etc/passwd"}) is False
    assert run(cmp("matches", var("args.path"), lit("^/etc/")), {"path": "/etc/x"}) is True
    assert run(cmp("matches", var("args.s"), lit("(?i)secret")), {"s": "a SECRET"}) is True
    assert run(cmp("matches", var("args.s"), lit("é+")), {"s": "caféé"}) is True
    assert run(cmp("matches", var("args.s"), lit("x")), {"s": "\ud800x"}) is True


def test_catastrophic_backtracking_patterns_answer() -> None:
    subject = "a" * 200_000 + "!"
    assert run(cmp("matches", var("args.s"), lit("(a+)+$")), {"s": subject}) is False
    assert run(cmp("matches", var("args.s"), lit("^(a|aa)*$")), {"s": subject}) is False
    assert run(cmp("matches", var("args.s"), lit("(a*)*!")), {"s": subject}) is True


def test_a_pattern_from_the_action_is_searched_and_a_bad_one_is_undecided() -> None:
    dynamic = cmp("matches", var("args.s"), var("args.p"))
    assert run(dynamic, {"s": "abc", "p": "b"}) is True
    assert run(dynamic, {"s": "abc", "p": "^b"}) is False
    assert undecided(run(dynamic, {"s": "abc", "p": "("}))
    assert undecided(run(dynamic, {"s": "abc"})) == ("args.p",)


# --- connectives ---------------------------------------------------------------------

T = cmp("==", lit(1), lit(1))
F = cmp("==", lit(1), lit(2))
U = cmp("==", var("args.missing"), lit(1))
U2 = cmp("==", var("args.other"), lit(1))
VALUES = {"T": True, "F": False, "U": None}
EXPRS = {"T": T, "F": F, "U": U}


def _kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _kleene_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _as3(result: bool | Unknown) -> bool | None:
    return None if isinstance(result, Unknown) else result


@pytest.mark.parametrize("a", "TFU")
@pytest.mark.parametrize("b", "TFU")
def test_and_or_follow_three_valued_logic(a: str, b: str) -> None:
    pair = (EXPRS[a], EXPRS[b])
    assert _as3(run(ir.And(pair))) is _kleene_and(VALUES[a], VALUES[b])
    assert _as3(run(ir.Or(pair))) is _kleene_or(VALUES[a], VALUES[b])
    three = (EXPRS[a], EXPRS[b], T)
    assert _as3(run(ir.And(three))) is _kleene_and(VALUES[a], VALUES[b])
    assert _as3(run(ir.Or((*three[:2], F)))) is _kleene_or(VALUES[a], VALUES[b])


@pytest.mark.parametrize(("name", "expected"), [("T", False), ("F", True), ("U", None)])
def test_not_keeps_undecided(name: str, expected: bool | None) -> None:
    assert _as3(run(ir.Not(EXPRS[name]))) is expected


def test_undecided_connectives_name_every_missing_field() -> None:
    assert undecided(run(ir.And((U, U2)))) == ("args.missing", "args.other")
    assert undecided(run(ir.Or((U, U2, F)))) == ("args.missing", "args.other")
    assert undecided(run(ir.And((U, U, T)))) == ("args.missing",)


def test_a_bare_value_must_be_a_boolean() -> None:
    assert run(var("args.flag"), {"flag": True}) is True
    assert run(var("args.flag"), {"flag": False}) is False
    assert "not true or false" in undecided(run(var("args.flag"), {"flag": "yes"}))[0]
    assert undecided(run(var("args.flag"))) == ("args.flag",)


# --- variables -----------------------------------------------------------------------

def test_variables_from_every_part_of_the_action() -> None:
    assert run(cmp("==", var("tool"), lit("svc/op"))) is True
    assert run(cmp("==", var("agent"), lit("bot"))) is True
    assert run(cmp("==", var("model"), lit("gpt")), model="gpt") is True
    assert undecided(run(cmp("==", var("model"), lit("gpt")))) == ("model",)
    assert run(cmp("==", var("session.purpose"), lit("x")), session={"purpose": "x"}) is True
    assert run(cmp("==", var("selectors.risk.level"), lit(3)),
               selectors={"risk": {"level": 3}}) is True
    assert run(cmp("==", var("args.items.1"), lit("b")), {"items": ["a", "b"]}) is True
    assert undecided(run(cmp("==", var("args.items.5"), lit("b")), {"items": ["a"]}))


def test_http_variables_come_from_http_or_from_arguments() -> None:
    host = cmp("==", var("host"), lit("api.example.com"))
    assert run(host, http={"host": "api.example.com"}) is True
    assert run(host, {"host": "api.example.com"}) is True
    assert undecided(run(host)) == ("host",)


@pytest.mark.parametrize(("field", "expected"), [
    ("hour", 12), ("minute", 30), ("second", 15), ("weekday", 3), ("day", 4), ("month", 3),
    ("year", 2026), ("date", "2026-03-04"), ("clock", "12:30"),
    ("epoch", int(NOON.timestamp())), ("iso", NOON.isoformat()),
])
def test_time_fields_read_the_injected_clock(field: str, expected: object) -> None:
    assert run(cmp("==", var(f"time.{field}"), lit(expected))) is True  # type: ignore[arg-type]


def test_an_unknown_time_field_is_undecided() -> None:
    assert undecided(run(cmp("==", var("time.fortnight"), lit(1)))) == ("time.fortnight",)


def test_business_hours_with_an_injected_clock() -> None:
    hours = ir.And((cmp(">=", var("time.hour"), lit(9)), cmp("<", var("time.hour"), lit(17))))
    assert run(hours, now=datetime(2026, 1, 5, 10, tzinfo=UTC)) is True
    assert run(hours, now=datetime(2026, 1, 5, 22, tzinfo=UTC)) is False


# --- the specialised closures agree with the general comparison ----------------------

VALUES_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
    st.sampled_from([Decimal("1.5"), Decimal("NaN"), Money(Decimal(2)),
                     Money(Decimal(2), "EUR")]),
    st.sampled_from(["", "a", "b", "2"]), st.lists(st.integers(0, 2), max_size=2),
)
LITERALS = st.one_of(st.integers(-3, 3), st.sampled_from([1.5, Decimal(2), "a", "b", True,
                                                          Money(Decimal(2))]))
FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(FLIPPED)), VALUES_ANY, LITERALS)
def test_variable_op_literal_agrees_with_literal_flipped_op_variable(
        op: str, value: Any, literal: Any) -> None:
    """`args.v OP lit` takes the specialised closure; `lit OP' args.v` the general one."""
    fast = run(cmp(op, var("args.v"), lit(literal)), {"v": value})
    general = run(cmp(FLIPPED[op], lit(literal), var("args.v")), {"v": value})
    assert _as3(fast) is _as3(general)


@settings(max_examples=300, deadline=None)
@given(VALUES_ANY, st.lists(LITERALS, min_size=1, max_size=3))
def test_in_a_literal_list_agrees_with_contains(value: Any, items: list[Any]) -> None:
    listed = ir.ListLit(tuple(lit(i) for i in items))
    fast = run(cmp("in", var("args.v"), listed), {"v": value})
    general = run(cmp("contains", var("args.list"), var("args.v")),
                  {"v": value, "list": items})
    assert _as3(fast) is _as3(general)
