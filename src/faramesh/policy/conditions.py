"""Compile condition expressions to closures with three-valued logic.

A compiled condition returns True, False, or an `Unknown` naming the fields that left it
undecided (a missing field, or operands of incompatible types). It never raises: any
unexpected value makes it Unknown. `and`/`or`/`not` combine as SQL's three-valued logic.
The evaluator turns Unknown into the fail-closed outcome for the rule's effect.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from faramesh.policy import ir
from faramesh.policy.context import Context, parse_time
from faramesh.policy.patterns import compile_pattern
from faramesh.policy.regex import RegexError, compile_regex
from faramesh.policy.values import DataSize, Duration, Money


class Unknown:
    """An undecided result; `fields` says which inputs made it so."""

    __slots__ = ("fields",)

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields

    def __repr__(self) -> str:
        return f"Unknown({', '.join(self.fields)})"


ValueFn = Callable[[Context], Any]
CondFn = Callable[[Context], "bool | Unknown"]

HTTP_VARS = frozenset({"host", "method", "path", "query", "headers"})
ROOTS = frozenset({"args", "principal", "session", "selectors", "time", "tool", "agent",
                   "model"}) | HTTP_VARS
FUNCTIONS = frozenset({"purpose", "history_sequence", "history_contains_within",
                       "args_array_len", "args_array_any_match", "session.sum",
                       "session.count", "len"})


def var_name(path: Sequence[str]) -> str:
    return ".".join(path)


def _lookup(root: Any, keys: Sequence[str], missing: Unknown) -> Any:
    value = root
    for key in keys:
        if isinstance(value, Mapping):
            if key not in value:
                return missing
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return missing
    return value


def _time_field(ctx: Context, name: str) -> Any:
    now = ctx.now
    match name:
        case "hour": return now.hour
        case "minute": return now.minute
        case "second": return now.second
        case "weekday": return now.isoweekday()  # 1 = Monday .. 7 = Sunday
        case "day": return now.day
        case "month": return now.month
        case "year": return now.year
        case "date": return now.date().isoformat()
        case "clock": return now.strftime("%H:%M")
        case "epoch": return int(now.timestamp())
        case "iso": return now.isoformat()
    return None


def compile_value(expr: ir.Expr) -> ValueFn:
    if isinstance(expr, ir.Lit):
        value = _literal_operand(expr.value)
        return lambda _ctx: value
    if isinstance(expr, ir.ListLit):
        items = [compile_value(i) for i in expr.items]
        return lambda ctx: [f(ctx) for f in items]
    if isinstance(expr, ir.Var):
        return _compile_var(expr.path)
    if isinstance(expr, ir.Call):
        return _compile_call(expr)
    cond = compile_condition(expr)
    return cond


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
            return lambda ctx: ctx.args.get(key, missing) if isinstance(ctx.args, Mapping) \
                else missing
        return lambda ctx: _lookup(ctx.args, rest, missing)
    if root in ("principal", "session", "selectors"):
        return lambda ctx: _lookup(getattr(ctx, root), rest, missing)
    if root == "time":
        name = rest[0] if len(rest) == 1 else ""
        return lambda ctx: _time_field(ctx, name) if name else missing
    if root == "tool":
        return lambda ctx: ctx.tool
    if root == "agent":
        return lambda ctx: ctx.agent
    if root == "model":
        return lambda ctx: ctx.model if ctx.model is not None else missing
    if root in HTTP_VARS:
        # HTTP actions carry these in `http`; other tools name their argument the same.
        def http_var(ctx: Context) -> Any:
            src = ctx.http if root in ctx.http else ctx.args
            return _lookup(src, path, missing)
        return http_var
    return lambda ctx: _lookup(ctx.args, path, missing)


def _number(value: Any) -> Any:
    """A comparable number, Money amount or None when the value is not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return value if not isinstance(value, Decimal) or value.is_finite() else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Money):
        return value.amount
    return None


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if _number(value) is not None:
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return None


def _equal(a: Any, b: Any) -> bool | None:
    """Typed equality; None when the types cannot be compared."""
    if isinstance(a, Money) and isinstance(b, Money) and a.currency != b.currency:
        return None
    ka, kb = _kind(a), _kind(b)
    if ka is None or kb is None:
        return None
    if ka == "nil" or kb == "nil":
        return ka == kb
    if ka != kb:
        return None
    if ka == "number":
        return bool(_number(a) == _number(b))
    return bool(a == b)


def _order(op: str, a: Any, b: Any) -> bool | None:
    if isinstance(a, Money) and isinstance(b, Money) and a.currency != b.currency:
        return None
    na, nb = _number(a), _number(b)
    if na is None or nb is None:
        if isinstance(a, str) and isinstance(b, str):
            na, nb = a, b
        else:
            return None
    if op == "<":
        return bool(na < nb)
    if op == "<=":
        return bool(na <= nb)
    if op == ">":
        return bool(na > nb)
    return bool(na >= nb)


def _contains(container: Any, item: Any) -> bool | None:
    if isinstance(container, str):
        return item in container if isinstance(item, str) else None
    if isinstance(container, list | tuple):
        undecided = False
        for element in container:
            eq = _equal(element, item)
            if eq:
                return True
            if eq is None:
                undecided = True
        return None if undecided else False
    if isinstance(container, Mapping):
        return item in container if isinstance(item, str) else None
    return None


def _compile_compare(expr: ir.Compare) -> CondFn:
    op = expr.op
    left, right = compile_value(expr.left), compile_value(expr.right)
    mismatch = Unknown((f"{_describe(expr.left)} {op} {_describe(expr.right)} "
                        "(incompatible types)",))
    test: Callable[[Any, Any], bool | None]
    if op == "==":
        test = _equal
    elif op == "!=":
        def test(a: Any, b: Any) -> bool | None:
            eq = _equal(a, b)
            return None if eq is None else not eq
    elif op in ("<", "<=", ">", ">="):
        def test(a: Any, b: Any) -> bool | None:
            return _order(op, a, b)
    elif op == "in":
        def test(a: Any, b: Any) -> bool | None:
            return _contains(b, a) if isinstance(b, list | tuple | Mapping) else None
    elif op == "contains":
        test = _contains
    elif op == "matches":
        return _compile_matches(expr, left, right, mismatch)
    else:  # pragma: no cover - the compiler admits only the operators above
        raise ValueError(op)
    nil_test = op in ("==", "!=") and (_is_nil(expr.left) or _is_nil(expr.right))

    def compare(ctx: Context) -> bool | Unknown:
        a, b = left(ctx), right(ctx)
        if nil_test:  # `x != nil` is the existence test: a missing field is nil
            a = None if isinstance(a, Unknown) else a
            b = None if isinstance(b, Unknown) else b
        elif isinstance(a, Unknown):
            return a
        elif isinstance(b, Unknown):
            return b
        result = test(a, b)
        return mismatch if result is None else result
    return compare


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
        program = compile_regex(expr.right.value)

        def matches_literal(ctx: Context) -> bool | Unknown:
            subject = left(ctx)
            if isinstance(subject, Unknown):
                return subject
            if not isinstance(subject, str):
                return mismatch
            return program.search(subject) is not None
        return matches_literal

    def matches_dynamic(ctx: Context) -> bool | Unknown:
        subject, pattern = left(ctx), right(ctx)
        for value in (subject, pattern):
            if isinstance(value, Unknown):
                return value
        if not isinstance(subject, str) or not isinstance(pattern, str):
            return mismatch
        try:
            return compile_regex(pattern).search(subject) is not None
        except RegexError:
            return mismatch
    return matches_dynamic


def compile_condition(expr: ir.Expr) -> CondFn:
    """The closure for a boolean expression."""
    if isinstance(expr, ir.Compare):
        return _compile_compare(expr)
    if isinstance(expr, ir.And):
        parts = tuple(compile_condition(i) for i in expr.items)

        def all_of(ctx: Context) -> bool | Unknown:
            unknown: Unknown | None = None
            for part in parts:
                r = part(ctx)
                if r is False:
                    return False
                if r is not True:
                    unknown = _merge(unknown, r)
            return unknown or True
        return all_of
    if isinstance(expr, ir.Or):
        parts = tuple(compile_condition(i) for i in expr.items)

        def any_of(ctx: Context) -> bool | Unknown:
            unknown: Unknown | None = None
            for part in parts:
                r = part(ctx)
                if r is True:
                    return True
                if r is not False:
                    unknown = _merge(unknown, r)
            return unknown or False
        return any_of
    if isinstance(expr, ir.Not):
        inner = compile_condition(expr.item)

        def negate(ctx: Context) -> bool | Unknown:
            r = inner(ctx)
            return r if isinstance(r, Unknown) else not r
        return negate
    value = compile_value(expr)
    not_bool = Unknown((f"{_describe(expr)} (not true or false)",))

    def truth(ctx: Context) -> bool | Unknown:
        r = value(ctx)
        if r is True or r is False or isinstance(r, Unknown):
            return r  # type: ignore[no-any-return]
        return not_bool
    return truth


def _merge(a: Unknown | None, b: Any) -> Unknown:
    if not isinstance(b, Unknown):
        b = Unknown(("non-boolean operand",))
    if a is None:
        return b
    return Unknown(a.fields + tuple(f for f in b.fields if f not in a.fields))


# --- built-in functions ----------------------------------------------------------------


def _history(ctx: Context, missing: Unknown) -> list[Mapping[str, Any]] | Unknown:
    history = ctx.session.get("history", missing) if isinstance(ctx.session, Mapping) \
        else missing
    if isinstance(history, Unknown):
        return history
    if not isinstance(history, list):
        return missing
    return [h for h in history if isinstance(h, Mapping)]


def _tool_of(entry: Mapping[str, Any]) -> str:
    tool = entry.get("tool")
    return tool.casefold() if isinstance(tool, str) else ""


def _compile_call(expr: ir.Call) -> ValueFn:
    args = [compile_value(a) for a in expr.args]
    kwargs = {k: compile_value(v) for k, v in expr.kwargs}
    name = expr.name
    missing = Unknown((f"session.history (needed by {name})",))
    bad = Unknown((f"{name}(...) arguments",))

    def evaluated(ctx: Context) -> list[Any] | Unknown:
        values = [f(ctx) for f in args]
        for v in values:
            if isinstance(v, Unknown):
                return v
        return values

    if name == "purpose":
        purpose_missing = Unknown(("session.purpose",))

        def purpose(ctx: Context) -> Any:
            vals = evaluated(ctx)
            if isinstance(vals, Unknown):
                return vals
            current = ctx.session.get("purpose", purpose_missing)
            if isinstance(current, Unknown):
                return current
            return current == vals[0]
        return purpose

    if name == "history_sequence":
        def history_sequence(ctx: Context) -> Any:
            vals, history = evaluated(ctx), _history(ctx, missing)
            if isinstance(vals, Unknown):
                return vals
            if isinstance(history, Unknown):
                return history
            # The named tools are the most recent calls, in order, ending with this one.
            tools = [_tool_of(h) for h in history] + [ctx.tool]
            wanted = [str(v).casefold() for v in vals]
            return len(tools) >= len(wanted) and tools[-len(wanted):] == wanted
        return history_sequence

    if name == "history_contains_within":
        def history_contains_within(ctx: Context) -> Any:
            vals, history = evaluated(ctx), _history(ctx, missing)
            if isinstance(vals, Unknown):
                return vals
            if isinstance(history, Unknown):
                return history
            if len(vals) != 2 or not isinstance(vals[0], str) or _number(vals[1]) is None:
                return bad
            matcher = compile_pattern(vals[0].casefold())
            since = ctx.now - timedelta(seconds=float(_number(vals[1])))
            for h in history:
                when = parse_time(h.get("time"))
                if matcher(_tool_of(h)) and (when is None or when >= since):
                    return True
            return False
        return history_contains_within

    if name in ("args_array_len", "len"):
        def array_len(ctx: Context) -> Any:
            vals = evaluated(ctx)
            if isinstance(vals, Unknown):
                return vals
            value = vals[0]
            if name == "args_array_len":
                if not isinstance(value, str):
                    return bad
                value = _lookup(ctx.args, value.split("."), Unknown((f"args.{value}",)))
            if isinstance(value, Unknown):
                return value
            return len(value) if isinstance(value, list | str | Mapping) else bad
        return array_len

    if name == "args_array_any_match":
        def any_match(ctx: Context) -> Any:
            vals = evaluated(ctx)
            if isinstance(vals, Unknown):
                return vals
            if len(vals) != 2 or not all(isinstance(v, str) for v in vals):
                return bad
            items = _lookup(ctx.args, vals[0].split("."), Unknown((f"args.{vals[0]}",)))
            if isinstance(items, Unknown):
                return items
            if not isinstance(items, list):
                return bad
            glob = compile_pattern(vals[1].casefold())
            return any(isinstance(i, str) and glob(i.casefold()) for i in items)
        return any_match

    if name in ("session.sum", "session.count"):
        window = kwargs.get("window")
        tool_kw = kwargs.get("tool")

        def aggregate(ctx: Context) -> Any:
            vals, history = evaluated(ctx), _history(ctx, missing)
            if isinstance(vals, Unknown):
                return vals
            if isinstance(history, Unknown):
                return history
            field, tool_glob = _sum_target(vals, name)
            if tool_kw is not None:
                t = tool_kw(ctx)
                tool_glob = t if isinstance(t, str) else tool_glob
            since = None
            if window is not None:
                w = _number(window(ctx))
                if w is None:
                    return bad
                since = ctx.now - timedelta(seconds=float(w))
            matcher = compile_pattern(tool_glob.casefold()) if tool_glob else None
            total: Any = 0
            for h in history:
                if matcher is not None and not matcher(_tool_of(h)):
                    continue
                when = parse_time(h.get("time"))
                if since is not None and (when is None or when < since):
                    continue
                if name == "session.count":
                    total += 1
                    continue
                v = _number(_lookup(h, field, bad)) if field else None
                if v is not None:
                    total += v
            return total
        return aggregate

    return lambda _ctx: bad  # pragma: no cover - unknown names are compile errors


def _sum_target(vals: list[Any], name: str) -> tuple[list[str], str | None]:
    """`session.sum("args.amount")` or the spec's `session.sum(stripe/refund.amount)`."""
    if name == "session.count" or not vals or not isinstance(vals[0], str):
        return [], (vals[0] if vals and isinstance(vals[0], str) else None) \
            if name == "session.count" else None
    target: str = vals[0]
    if target.startswith("args."):
        return target.split("."), None
    tool, _, field = target.rpartition(".")
    return ["args", *field.split(".")], tool or None
