"""Compile condition expressions to closures with three-valued logic.

A compiled condition returns True, False, or an `Unknown` naming the fields that left it
undecided (a missing field, or operands of incompatible types). It never raises: any
unexpected value makes it Unknown. `and`/`or`/`not` combine as SQL's three-valued logic.
The evaluator turns Unknown into the fail-closed outcome for the rule's effect.

The common shape `variable OP literal` gets a closure specialised for the literal's type
(a plain int or str argument is compared directly); every other value takes the general
typed path of `operators`, so both give the same answer.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from faramesh.policy import ir
from faramesh.policy.context import Context
from faramesh.policy.functions import FUNCTIONS, compile_call
from faramesh.policy.operators import Unknown, contains, equal, lookup, merge, number, order
from faramesh.policy.regex import RegexError, compile_search
from faramesh.policy.values import DataSize, Duration

__all__ = ["FUNCTIONS", "HTTP_VARS", "ROOTS", "CondFn", "Unknown", "ValueFn",
           "compile_condition", "compile_value", "var_name"]

ValueFn = Callable[[Context], Any]
CondFn = Callable[[Context], "bool | Unknown"]

HTTP_VARS = frozenset({"host", "method", "path", "query", "headers"})
ROOTS = frozenset({"args", "principal", "session", "selectors", "time", "tool", "agent",
                   "model"}) | HTTP_VARS


def var_name(path: Sequence[str]) -> str:
    return ".".join(path)


_TIME_FIELDS: dict[str, Callable[[datetime], Any]] = {
    "hour": lambda now: now.hour,
    "minute": lambda now: now.minute,
    "second": lambda now: now.second,
    "weekday": lambda now: now.isoweekday(),  # 1 = Monday .. 7 = Sunday
    "day": lambda now: now.day,
    "month": lambda now: now.month,
    "year": lambda now: now.year,
    "date": lambda now: now.date().isoformat(),
    "clock": lambda now: now.strftime("%H:%M"),
    "epoch": lambda now: int(now.timestamp()),
    "iso": lambda now: now.isoformat(),
}


def compile_value(expr: ir.Expr) -> ValueFn:
    if isinstance(expr, ir.Lit):
        value = _literal_operand(expr.value)
        return lambda _ctx: value
    if isinstance(expr, ir.ListLit):
        if _is_constant(expr):
            constant = [_literal_operand(i.value) for i in expr.items
                        if isinstance(i, ir.Lit)]
            return lambda _ctx: constant
        items = [compile_value(i) for i in expr.items]
        return lambda ctx: [f(ctx) for f in items]
    if isinstance(expr, ir.Var):
        return _compile_var(expr.path)
    if isinstance(expr, ir.Call):
        return compile_call(expr.name, [compile_value(a) for a in expr.args],
                            {k: compile_value(v) for k, v in expr.kwargs})
    return compile_condition(expr)


def _literal_operand(value: ir.Scalar) -> Any:
    if isinstance(value, Duration):
        return value.seconds
    if isinstance(value, DataSize):
        return value.n_bytes
    return value


def _compile_var(path: tuple[str, ...]) -> ValueFn:
    missing = Unknown((var_name(path),))
    root, rest = path[0], path[1:]
    if root == "args":
        if len(rest) == 1:
            key = rest[0]
            return lambda ctx: ctx.args.get(key, missing)
        return lambda ctx: lookup(ctx.args, rest, missing)
    if root in ("principal", "session", "selectors"):
        if len(rest) == 1:
            key = rest[0]
            get = operator.attrgetter(root)
            return lambda ctx: get(ctx).get(key, missing)
        return lambda ctx: lookup(getattr(ctx, root), rest, missing)
    if root == "time":
        field = _TIME_FIELDS.get(rest[0]) if len(rest) == 1 else None
        if field is None:
            return lambda _ctx: missing
        return lambda ctx: field(ctx.now)
    if root == "tool":
        if rest:  # `tool.<field>` names nothing: undecided, never the tool's name
            return lambda _ctx: missing
        return lambda ctx: ctx.tool
    if root == "agent":
        return lambda ctx: ctx.agent
    if root == "model":
        return lambda ctx: ctx.model if ctx.model is not None else missing
    if root in HTTP_VARS:
        # HTTP actions carry these in `http`; other tools name their argument the same.
        def http_var(ctx: Context) -> Any:
            src = ctx.http if root in ctx.http else ctx.args
            return lookup(src, path, missing)
        return http_var
    return lambda ctx: lookup(ctx.args, path, missing)


# --- comparisons -----------------------------------------------------------------------


def _general_test(op: str) -> Callable[[Any, Any], bool | None]:
    if op == "==":
        return equal
    if op == "!=":
        def not_equal(a: Any, b: Any) -> bool | None:
            eq = equal(a, b)
            return None if eq is None else not eq
        return not_equal
    if op in ("<", "<=", ">", ">="):
        return lambda a, b: order(op, a, b)
    if op == "in":
        return lambda a, b: contains(b, a) if isinstance(b, list | tuple | Mapping) else None
    if op == "contains":
        return contains
    raise ValueError(op)  # pragma: no cover - the compiler admits only the operators


def _compile_compare(expr: ir.Compare) -> CondFn:
    op = expr.op
    mismatch = Unknown((f"{_describe(expr.left)} {op} {_describe(expr.right)} "
                        "(incompatible types)",))
    left, right = compile_value(expr.left), compile_value(expr.right)
    if op == "matches":
        return _compile_matches(expr, left, right, mismatch)
    if op in ("==", "!=") and (_is_nil(expr.left) or _is_nil(expr.right)):
        # `x != nil` is the existence test: a missing field is nil.
        other = right if _is_nil(expr.left) else left
        want_nil = op == "=="

        def nil_test(ctx: Context) -> bool | Unknown:
            a = other(ctx)
            return (a is None or a.__class__ is Unknown) is want_nil
        return nil_test
    if _is_constant(expr.right) and not isinstance(expr.left, ir.Lit):
        fast = _compare_literal(op, left, right(_NO_CONTEXT), mismatch)
        if fast is not None:
            return fast
    test = _general_test(op)

    def compare(ctx: Context) -> bool | Unknown:
        a = left(ctx)
        if a.__class__ is Unknown:
            return a
        b = right(ctx)
        if b.__class__ is Unknown:
            return b
        result = test(a, b)
        return mismatch if result is None else result
    return compare


_NO_CONTEXT: Any = None  # literals are evaluated once at compile time, without a context
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _compare_literal(op: str, left: ValueFn, lit: Any, mismatch: Unknown) -> CondFn | None:
    """A closure for `value OP literal` that decides plain ints, floats and strings directly
    and hands every other value to the general typed comparison."""
    test = _general_test(op)

    def general(a: Any) -> bool | Unknown:
        if a.__class__ is Unknown:
            return a
        result = test(a, lit)
        return mismatch if result is None else result

    num = number(lit)
    if op in _ORDER and num is not None:
        cmp = _ORDER[op]

        def order_number(ctx: Context) -> bool | Unknown:
            a = left(ctx)
            cls = a.__class__
            if cls is int or (cls is Decimal and a.is_finite()):
                result: bool = cmp(a, num)
                return result
            if cls is float and a - a == 0.0:  # finite: compare the decimal it was sent as
                return cmp(Decimal(repr(a)), num)  # type: ignore[no-any-return]
            return general(a)
        return order_number
    if op in ("==", "!="):
        return _equal_literal(op == "!=", left, lit, num, general)
    if op == "in" and isinstance(lit, list):
        return _in_literal_list(left, lit, general)
    if op == "contains" and isinstance(lit, str):
        def contains_text(ctx: Context) -> bool | Unknown:
            a = left(ctx)
            if a.__class__ is str:
                return lit in a
            return general(a)
        return contains_text
    return None


def _equal_literal(negate: bool, left: ValueFn, lit: Any, num: Any,
                   general: Callable[[Any], bool | Unknown]) -> CondFn | None:
    if num is not None:
        def equal_number(ctx: Context) -> bool | Unknown:
            a = left(ctx)
            cls = a.__class__
            if cls is int or (cls is Decimal and a.is_finite()):
                return (a == num) is not negate
            if cls is float and a - a == 0.0:  # finite: compare the decimal it was sent as
                return (Decimal(repr(a)) == num) is not negate
            return general(a)  # `!=` is already negated there
        return equal_number
    if lit.__class__ is str or lit.__class__ is bool:
        lit_class = lit.__class__

        def equal_plain(ctx: Context) -> bool | Unknown:
            a = left(ctx)
            if a.__class__ is lit_class:
                return (a == lit) is not negate
            return general(a)  # `!=` is already negated there
        return equal_plain
    return None


def _in_literal_list(left: ValueFn, items: list[Any],
                     general: Callable[[Any], bool | Unknown]) -> CondFn | None:
    if items and all(i.__class__ is str for i in items):
        texts = frozenset(items)

        def in_texts(ctx: Context) -> bool | Unknown:
            a = left(ctx)
            if a.__class__ is str:
                return a in texts
            return general(a)
        return in_texts
    numbers = [number(i) for i in items]
    if items and all(n is not None and i.__class__ is not bool
                     for n, i in zip(numbers, items, strict=True)):
        values = frozenset(numbers)

        def in_numbers(ctx: Context) -> bool | Unknown:
            a = left(ctx)
            cls = a.__class__
            if cls is int:
                return a in values
            if cls is float and a - a == 0.0:
                return Decimal(repr(a)) in values
            return general(a)
        return in_numbers
    return None


def _is_constant(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.Lit) or (
        isinstance(expr, ir.ListLit) and all(isinstance(i, ir.Lit) for i in expr.items))


def _is_nil(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.Lit) and expr.value is None


def _describe(expr: ir.Expr) -> str:
    if isinstance(expr, ir.Var):
        return var_name(expr.path)
    if isinstance(expr, ir.Call):
        return f"{expr.name}(...)"
    return "value"


def _compile_matches(expr: ir.Compare, left: ValueFn, right: ValueFn,
                     mismatch: Unknown) -> CondFn:
    if isinstance(expr.right, ir.Lit) and isinstance(expr.right.value, str):
        search = compile_search(expr.right.value)

        def matches_literal(ctx: Context) -> bool | Unknown:
            subject = left(ctx)
            if subject.__class__ is str or isinstance(subject, str):
                return search(subject)
            if subject.__class__ is Unknown:
                return subject
            return mismatch
        return matches_literal

    def matches_dynamic(ctx: Context) -> bool | Unknown:
        subject, pattern = left(ctx), right(ctx)
        for value in (subject, pattern):
            if isinstance(value, Unknown):
                return value
        if not isinstance(subject, str) or not isinstance(pattern, str):
            return mismatch
        try:
            return compile_search(pattern)(subject)
        except RegexError:
            return mismatch
    return matches_dynamic


# --- connectives -----------------------------------------------------------------------


def compile_condition(expr: ir.Expr) -> CondFn:
    """The closure for a boolean expression."""
    if isinstance(expr, ir.Compare):
        return _compile_compare(expr)
    if isinstance(expr, ir.And | ir.Or):
        parts = tuple(compile_condition(i) for i in expr.items)
        if isinstance(expr, ir.And):
            return _all_of(parts)
        return _any_of(parts)
    if isinstance(expr, ir.Not):
        inner = compile_condition(expr.item)

        def negate(ctx: Context) -> bool | Unknown:
            r = inner(ctx)
            return r if r.__class__ is Unknown else not r
        return negate
    value = compile_value(expr)
    not_bool = Unknown((f"{_describe(expr)} (not true or false)",))

    def truth(ctx: Context) -> bool | Unknown:
        r = value(ctx)
        if r is True or r is False or isinstance(r, Unknown):
            return r
        return not_bool
    return truth


def _all_of(parts: tuple[CondFn, ...]) -> CondFn:
    """Kleene `and`: false if any part is false, else undecided if any is, else true."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts

        def both(ctx: Context) -> bool | Unknown:
            a = first(ctx)
            if a is False:
                return False
            b = second(ctx)
            if b is False:
                return False
            if a is True:
                return b
            return a if b is True else merge(a, b)
        return both

    def all_of(ctx: Context) -> bool | Unknown:
        unknown: Unknown | None = None
        for part in parts:
            r = part(ctx)
            if r is False:
                return False
            if r is not True:
                unknown = merge(unknown, r)
        return unknown or True
    return all_of


def _any_of(parts: tuple[CondFn, ...]) -> CondFn:
    """Kleene `or`: true if any part is true, else undecided if any is, else false."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts

        def either(ctx: Context) -> bool | Unknown:
            a = first(ctx)
            if a is True:
                return True
            b = second(ctx)
            if b is True:
                return True
            if a is False:
                return b
            return a if b is False else merge(a, b)
        return either

    def any_of(ctx: Context) -> bool | Unknown:
        unknown: Unknown | None = None
        for part in parts:
            r = part(ctx)
            if r is True:
                return True
            if r is not False:
                unknown = merge(unknown, r)
        return unknown or False
    return any_of
