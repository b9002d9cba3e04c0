"""The built-in functions of conditions: purpose, history and session aggregates, arrays.

Each compiles to a closure over the compiled closures of its arguments. History entries
are mappings with `tool`, `time` and `args`; `session.history` is a list of them, oldest
first. An entry without a readable time counts as recent: a window can only make a
history query see more, never let a call skip a limit by leaving the time out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from faramesh.policy.context import Context, parse_time
from faramesh.policy.operators import Unknown, lookup, number
from faramesh.policy.patterns import compile_pattern

ValueFn = Callable[[Context], Any]

FUNCTIONS = frozenset({"purpose", "history_sequence", "history_contains_within",
                       "args_array_len", "args_array_any_match", "session.sum",
                       "session.count", "len"})


def _history(ctx: Context, missing: Unknown) -> list[Mapping[str, Any]] | Unknown:
    history = ctx.session.get("history", missing)
    if isinstance(history, Unknown):
        return history
    if not isinstance(history, list):
        return missing
    return [h for h in history if isinstance(h, Mapping)]


def _tool_of(entry: Mapping[str, Any]) -> str:
    tool = entry.get("tool")
    return tool.casefold() if isinstance(tool, str) else ""


def _since(now: datetime, seconds: Any) -> datetime | None:
    """The start of a window of `seconds` ending now; None when it reaches before year 1."""
    try:
        return now - timedelta(seconds=float(seconds))
    except (OverflowError, ValueError):
        return None


def _recent(entry: Mapping[str, Any], since: datetime | None) -> bool:
    if since is None:
        return True
    when = parse_time(entry.get("time"))
    return when is None or when >= since


def compile_call(name: str, args: list[ValueFn], kwargs: dict[str, ValueFn]) -> ValueFn:
    """The closure of built-in `name` over its compiled arguments."""
    missing = Unknown((f"session.history (needed by {name})",))
    bad = Unknown((f"{name}(...) arguments",))

    def evaluated(ctx: Context) -> list[Any] | Unknown:
        values = [f(ctx) for f in args]
        for v in values:
            if isinstance(v, Unknown):
                return v
        return values

    def with_history(ctx: Context) -> tuple[list[Any], list[Mapping[str, Any]]] | Unknown:
        """The evaluated arguments and the session history, or what left either undecided."""
        vals, history = evaluated(ctx), _history(ctx, missing)
        if isinstance(vals, Unknown):
            return vals
        if isinstance(history, Unknown):
            return history
        return vals, history

    if name == "purpose":
        purpose_missing = Unknown(("session.purpose",))

        def purpose(ctx: Context) -> Any:
            vals = evaluated(ctx)
            if isinstance(vals, Unknown):
                return vals
            if len(vals) != 1:
                return bad
            current = ctx.session.get("purpose", purpose_missing)
            if isinstance(current, Unknown):
                return current
            return current == vals[0]
        return purpose

    if name == "history_sequence":
        def history_sequence(ctx: Context) -> Any:
            inputs = with_history(ctx)
            if isinstance(inputs, Unknown):
                return inputs
            vals, history = inputs
            if not vals:
                return bad
            # The named tools are the most recent calls, in order, ending with this one.
            tools = [_tool_of(h) for h in history] + [ctx.tool]
            wanted = [str(v).casefold() for v in vals]
            return len(tools) >= len(wanted) and tools[-len(wanted):] == wanted
        return history_sequence

    if name == "history_contains_within":
        def history_contains_within(ctx: Context) -> Any:
            inputs = with_history(ctx)
            if isinstance(inputs, Unknown):
                return inputs
            vals, history = inputs
            if len(vals) != 2 or not isinstance(vals[0], str) or number(vals[1]) is None:
                return bad
            matcher = compile_pattern(vals[0].casefold())
            since = _since(ctx.now, number(vals[1]))
            return any(matcher(_tool_of(h)) and _recent(h, since) for h in history)
        return history_contains_within

    if name in ("args_array_len", "len"):
        def array_len(ctx: Context) -> Any:
            vals = evaluated(ctx)
            if isinstance(vals, Unknown):
                return vals
            if len(vals) != 1:
                return bad
            value = vals[0]
            if name == "args_array_len":
                if not isinstance(value, str):
                    return bad
                value = lookup(ctx.args, value.split("."), Unknown((f"args.{value}",)))
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
            items = lookup(ctx.args, vals[0].split("."), Unknown((f"args.{vals[0]}",)))
            if isinstance(items, Unknown):
                return items
            if not isinstance(items, list):
                return bad
            glob = compile_pattern(vals[1].casefold())
            return any(isinstance(i, str) and glob(i.casefold()) for i in items)
        return any_match

    if name in ("session.sum", "session.count"):
        return _aggregate(name, with_history, kwargs, bad)

    return lambda _ctx: bad  # pragma: no cover - unknown names are compile errors


def _aggregate(name: str,
               with_history: Callable[[Context], tuple[list[Any], list[Mapping[str, Any]]]
                                      | Unknown],
               kwargs: dict[str, ValueFn], bad: Unknown) -> ValueFn:
    window = kwargs.get("window")
    tool_kw = kwargs.get("tool")

    def aggregate(ctx: Context) -> Any:
        inputs = with_history(ctx)
        if isinstance(inputs, Unknown):
            return inputs
        vals, history = inputs
        field, tool_glob = _sum_target(vals, name)
        if tool_kw is not None:
            t = tool_kw(ctx)
            tool_glob = t if isinstance(t, str) else tool_glob
        since = None
        if window is not None:
            w = number(window(ctx))
            if w is None:
                return bad
            since = _since(ctx.now, w)
        matcher = compile_pattern(tool_glob.casefold()) if tool_glob else None
        total: Any = 0
        for h in history:
            if matcher is not None and not matcher(_tool_of(h)):
                continue
            if not _recent(h, since):
                continue
            if name == "session.count":
                total += 1
                continue
            v = number(lookup(h, field, None)) if field else None
            if v is not None:
                # floats are summed as the decimals they print as, so a sum of
                # JSON amounts and Money amounts never mixes float and Decimal
                total += Decimal(repr(v)) if isinstance(v, float) else v
        return total
    return aggregate


def _sum_target(vals: list[Any], name: str) -> tuple[list[str], str | None]:
    """`session.sum("args.amount")` or the spec's `session.sum(stripe/refund.amount)`."""
    first = vals[0] if vals and isinstance(vals[0], str) else None
    if name == "session.count" or first is None:
        return [], first if name == "session.count" else None
    if first.startswith("args."):
        return first.split("."), None
    tool, _, field = first.rpartition(".")
    return ["args", *field.split(".")], tool or None
