"""A deliberately naive evaluator, written from DESIGN.md section 3, to check the fast one.

No index, no closures, no caches: every call walks the IR. Conditions are three-valued:
True, False, or None for undecided (a missing field, or types that do not compare). It
answers effect, code and rule_ref; the property test asserts the compiled evaluator agrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import re2

from faramesh.car import canonical_tool
from faramesh.policy import ir
from faramesh.policy.decision import Code, Effect
from faramesh.policy.patterns import matches
from faramesh.policy.values import DataSize, Duration, Money


class Answer(NamedTuple):
    effect: Effect
    code: Code
    rule_ref: str | None


MISSING = object()
# rule effect -> (effect, code, applies when its condition is undecided)
OUTCOMES = {
    ir.RuleEffect.PERMIT: (Effect.PERMIT, Code.RULE_PERMIT, False),
    ir.RuleEffect.MODIFY: (Effect.PERMIT, Code.MODIFIED, False),
    ir.RuleEffect.DENY: (Effect.DENY, Code.POLICY_DENY, True),
    ir.RuleEffect.DEFER: (Effect.DEFER, Code.POLICY_DEFER, True),
    ir.RuleEffect.STEP_UP: (Effect.DEFER, Code.STEP_UP_REQUIRED, True),
    ir.RuleEffect.SHADOW: (Effect.PERMIT, Code.SHADOW, True),  # a would-be deny
}
DEFAULTS = {ir.RuleEffect.PERMIT: (Effect.PERMIT, Code.DEFAULT_PERMIT),
            ir.RuleEffect.DENY: (Effect.DENY, Code.DEFAULT_DENY),
            ir.RuleEffect.DEFER: (Effect.DEFER, Code.DEFAULT_DEFER)}
PARTS = ("args", "principal", "session", "selectors", "http")


def as_number(v: Any) -> Decimal | None:
    """Every number as an exact Decimal; None for anything else (bools, NaN, infinity)."""
    if isinstance(v, Money):
        v = v.amount
    if isinstance(v, bool) or not isinstance(v, int | float | Decimal):
        return None
    d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)  # a float is the decimal
    # it was written as (JSON `0.1` equals `$0.10`)
    return d if d.is_finite() else None


def same(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Money) and isinstance(b, Money) and a.currency != b.currency:
        return None
    na, nb = as_number(a), as_number(b)
    if na is not None and nb is not None:
        return na == nb
    for kinds in (bool, str, list | tuple, Mapping):
        if isinstance(a, kinds) and isinstance(b, kinds):
            return bool(a == b)
    return None


def member(item: Any, container: Any) -> bool | None:
    if isinstance(container, str):
        return item in container if isinstance(item, str) else None
    if isinstance(container, Mapping):
        return item in container if isinstance(item, str) else None
    if isinstance(container, list | tuple):
        answers = [same(element, item) for element in container]
        return True if True in answers else None if None in answers else False
    return None


def read(expr: ir.Expr, action: Mapping[str, Any], tool: str) -> Any:
    if isinstance(expr, ir.Lit):
        v = expr.value
        return v.seconds if isinstance(v, Duration) else v.n_bytes \
            if isinstance(v, DataSize) else v
    if isinstance(expr, ir.ListLit):
        return [read(item, action, tool) for item in expr.items]
    if isinstance(expr, ir.Var):
        head, *rest = expr.path
        if head == "tool":
            return tool
        if head in ("agent", "model"):
            v = action.get(head)
            return v if isinstance(v, str) else ir.ANY_AGENT if head == "agent" else MISSING
        if head == "time":
            when = when_of(action)
            return getattr(when, rest[0]) if rest and rest[0] in ("hour", "minute") else MISSING
        if head in ("host", "method", "path", "query", "headers"):
            rest, head = [head, *rest], "http" if head in (action.get("http") or {}) else "args"
        elif head not in PARTS:  # a bare name is the argument of that name
            rest, head = [head, *rest], "args"
        node: Any = action.get(head) if head in PARTS else MISSING
        for key in rest:
            node = node.get(key, MISSING) if isinstance(node, Mapping) else MISSING
        return node
    return truth(expr, action, tool)


def truth(expr: ir.Expr, action: Mapping[str, Any], tool: str) -> bool | None:
    if isinstance(expr, ir.And):
        results = [truth(i, action, tool) for i in expr.items]
        return False if False in results else None if None in results else True
    if isinstance(expr, ir.Or):
        results = [truth(i, action, tool) for i in expr.items]
        return True if True in results else None if None in results else False
    if isinstance(expr, ir.Not):
        inner = truth(expr.item, action, tool)
        return None if inner is None else not inner
    if not isinstance(expr, ir.Compare):
        v = read(expr, action, tool)
        return v if isinstance(v, bool) else None
    a, b, op = read(expr.left, action, tool), read(expr.right, action, tool), expr.op
    if op in ("==", "!=") and (a is None or b is None or a is MISSING or b is MISSING) and \
            (_nil(expr.left) or _nil(expr.right)):
        is_nil = (a is None or a is MISSING) and (b is None or b is MISSING)
        return is_nil if op == "==" else not is_nil
    if a is MISSING or b is MISSING:
        return None
    if op in ("==", "!="):
        eq = same(a, b)
        return None if eq is None else eq if op == "==" else not eq
    if op in ("<", "<=", ">", ">="):
        if isinstance(a, Money) and isinstance(b, Money) and a.currency != b.currency:
            return None
        x, y = as_number(a), as_number(b)
        if x is None or y is None:
            if not (isinstance(a, str) and isinstance(b, str)):
                return None
            x, y = a, b  # type: ignore[assignment]
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]  # type: ignore[operator]
    if op == "in":
        return member(a, b) if isinstance(b, list | tuple | Mapping) else None
    if op == "contains":
        return member(b, a)
    if op == "matches" and isinstance(a, str) and isinstance(b, str):
        try:
            return re2.search(b, a) is not None
        except re2.error:
            return None
    return None


def _nil(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.Lit) and expr.value is None


def when_of(action: Mapping[str, Any]) -> Any:
    t = action.get("time")
    try:
        if isinstance(t, str):
            t = datetime.fromisoformat(t)
        elif isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t):
            t = datetime.fromtimestamp(t, UTC)
    except (ValueError, OverflowError, OSError):
        return MISSING
    if t is None:
        return datetime.now(UTC)
    if not isinstance(t, datetime):
        return MISSING
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def evaluate(policy: ir.PolicyIR, action: Any) -> Answer:
    refuse = Answer(Effect.DENY, Code.INVALID_ACTION, None)
    if not isinstance(action, Mapping) or not isinstance(action.get("tool"), str):
        return refuse
    tool = canonical_tool(action["tool"])
    if not tool:
        return refuse
    agents = {a.agent_id: a for a in policy.agents}
    name = action.get("agent")
    agent = agents.get(name) if isinstance(name, str) else None
    agent = agent or agents.get(ir.ANY_AGENT)
    if agent is None:
        return Answer(Effect.DENY, Code.IDENTITY_UNRESOLVED, None)
    if any(action.get(p) is not None and not isinstance(action.get(p), Mapping)
           for p in PARTS) or when_of(action) is MISSING:
        return refuse
    rules = list(agent.rules)
    if agent.phases:
        active = (action.get("session") or {}).get("phase")
        phase = next((p for p in agent.phases if p.name == active), None) \
            if isinstance(active, str) else agent.phases[0]
        if phase is not None:
            visible = [*phase.tools, *(r.pattern for r in phase.rules)]
            if not any(matches(canonical_tool(p) or "", tool) for p in visible):
                return Answer(Effect.DENY, Code.PHASE_DENY, phase.origin.ref)
            rules = [*phase.rules, *rules]
        elif active not in {p.next for p in agent.phases} - {p.name for p in agent.phases}:
            return Answer(Effect.DENY, Code.PHASE_DENY, agent.origin.ref)
    rules = [r for r in rules if matches(canonical_tool(r.pattern) or "", tool)]

    def holds(rule: ir.Rule) -> bool | None:
        tests = [truth(rule.condition, action, tool)] if rule.condition is not None else []
        for key in ("host", "method", "path"):
            if getattr(rule, key) is not None:
                tests.append(truth(ir.Compare("==", ir.Var((key,)),
                                              ir.Lit(getattr(rule, key))), action, tool))
        return False if False in tests else None if None in tests else True

    for rule in rules:  # a `deny!` wins wherever it is written
        if rule.mandatory and holds(rule) is not False:
            return Answer(Effect.DENY, Code.MANDATORY_DENY, rule.origin.ref)
    for rule in rules:
        effect, code, strict = OUTCOMES[rule.effect]
        result = holds(rule)
        if not rule.mandatory and (result is True or (result is None and strict)):
            return Answer(effect, code, rule.origin.ref)
    effect, code = DEFAULTS[agent.default]
    return Answer(effect, code, agent.origin.ref)
