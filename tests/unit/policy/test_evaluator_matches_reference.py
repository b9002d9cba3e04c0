"""The compiled evaluator agrees with the naive reference (tests/reference_evaluator.py) on
generated policies and actions: same effect, code and rule_ref, every time."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faramesh.policy import ir
from faramesh.policy.evaluator import Policy
from faramesh.policy.values import Duration, Money
from tests import reference_evaluator as reference

# Small alphabets, so patterns, names and argument keys overlap often.
PATTERN_SEGMENTS = st.sampled_from(["a", "b", "pay", "*", "**", "p*", "A"])
NAME_SEGMENTS = st.sampled_from(["a", "b", "pay", "pa", "A", " b", "\u0430", "ｐａｙ"])
KEYS = ("amount", "env", "tags", "flag", "user")
REGEXES = ("^a", "b$", "(a+)+$", "pay|x", "[0-9]+", "")
AGENT_IDS = ("bot", "ops", ir.ANY_AGENT)
PHASES = ("p1", "p2")

# Each argument has a usual type (so comparisons are often decided, true or false) and
# sometimes an odd one (so they are sometimes undecided).
TYPED: dict[str, st.SearchStrategy[Any]] = {
    "amount": st.one_of(st.integers(0, 600), st.sampled_from(
        [0.5, 100.0, Decimal("99.99"), Money(Decimal(100)), Money(Decimal(100), "EUR"),
         math.nan, math.inf, -math.inf, Decimal("NaN")])),
    "env": st.sampled_from(["prod", "dev", "pay", "a", "", "aaa!", "123"]),
    "tags": st.lists(st.sampled_from(["a", "b", "prod"]), max_size=3),
    "flag": st.booleans(),
    "user": st.fixed_dictionaries({"name": st.sampled_from(["ann", "bob"])}),
    "role": st.sampled_from(["admin", "dev"]),
    "hour": st.integers(0, 23),
}
ODD = st.sampled_from([math.nan, -math.inf, Decimal("NaN"), None, "12", True, 7, [1, "a"],
                       {"k": 1}, Duration(Decimal(60), "1m"), math.inf, Decimal("Infinity")])


def typed(key: str) -> st.SearchStrategy[Any]:
    return st.one_of(TYPED[key], TYPED[key], ODD)


def key_of(var: ir.Var) -> str:
    last = var.path[-1]
    return last if last in TYPED else "env"  # tool, agent, user.name: strings


VARIABLES = (
    *(ir.Var(("args", k)) for k in KEYS),
    ir.Var(("args", "env")), ir.Var(("args", "amount")), ir.Var(("args", "user", "name")),
    ir.Var(("amount",)), ir.Var(("env",)),  # a bare name is the argument of that name
    ir.Var(("principal", "role")), ir.Var(("tool",)), ir.Var(("time", "hour")),
    ir.Var(("agent",)),
)


def variables() -> st.SearchStrategy[ir.Var]:
    # one flat choice: nested choices would lean hard towards their first member
    return st.sampled_from(VARIABLES)


@st.composite
def comparisons(draw: st.DrawFn) -> ir.Expr:
    var = draw(variables())
    key = key_of(var)

    def literal(odd: bool = True) -> ir.Lit:
        value = draw(st.one_of(TYPED[key], TYPED[key], ODD) if odd else TYPED[key])
        return ir.Lit(value if not isinstance(value, list | dict) else None)

    shape = draw(st.sampled_from(range(10)))
    if shape <= 3:  # variable OP literal, or the literal first
        return ir.Compare(draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="])),
                          *((var, literal()) if shape < 3 else (literal(), var)))
    if shape == 4:
        mixed = draw(st.booleans())  # a list of one type, or one with odd members
        items = tuple(literal(mixed) for _ in range(draw(st.integers(1, 3))))
        return ir.Compare("in", var, ir.ListLit(items))
    if shape == 5:
        return ir.Compare("contains", var, draw(st.one_of(variables(), st.just(literal()))))
    if shape == 6:
        return ir.Compare("in", ir.Lit(draw(st.sampled_from(["a", "prod", 1]))), var)
    if shape == 7:
        return ir.Compare("matches", var, ir.Lit(draw(st.sampled_from(REGEXES))))
    if shape == 8:
        return ir.Compare(draw(st.sampled_from(["==", "!="])), var, ir.Lit(None))
    if draw(st.booleans()):
        return ir.Compare(draw(st.sampled_from(["==", "<", "in"])), var, draw(variables()))
    # a bare value used as a condition must be a boolean
    return draw(st.sampled_from([ir.Var(("args", "flag")), ir.Var(("flag",)), var]))


CONDITIONS = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: ir.And(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: ir.Or(tuple(xs))),
        inner.map(ir.Not),
    ),
    max_leaves=5,
)


@st.composite
def rules(draw: st.DrawFn) -> ir.Rule:
    effect = draw(st.sampled_from(list(ir.RuleEffect)))
    mandatory = effect is ir.RuleEffect.DENY and draw(st.sampled_from(range(3))) == 0
    pattern = "/".join(draw(st.lists(PATTERN_SEGMENTS, min_size=1, max_size=3)))
    condition = draw(st.none() | CONDITIONS)
    return ir.Rule(effect, pattern, condition, mandatory=mandatory,
                   modify_args=(("args.flag", True),) if effect is ir.RuleEffect.MODIFY else ())


@st.composite
def policies(draw: st.DrawFn) -> ir.PolicyIR:
    line = iter(range(1, 10_000))

    def placed(rule: ir.Rule) -> ir.Rule:
        return ir.Rule(**{**{f: getattr(rule, f) for f in rule.__slots__  # type: ignore[attr-defined]
                             if f != "origin"}, "origin": ir.Origin("gen.fpl", next(line))})

    agents = []
    for agent_id in draw(st.lists(st.sampled_from(AGENT_IDS), min_size=1, max_size=3,
                                  unique=True)):
        phases = []
        phase_names = draw(st.lists(st.sampled_from(PHASES), max_size=2, unique=True)) \
            if draw(st.sampled_from(range(4))) == 0 else []
        for name in phase_names:
            tools = tuple("/".join(t) for t in draw(
                st.lists(st.lists(PATTERN_SEGMENTS, min_size=1, max_size=2), max_size=2)))
            phases.append(ir.Phase(name, tools,
                                   tuple(placed(r) for r in draw(st.lists(rules(), max_size=2))),
                                   next=draw(st.sampled_from([None, "p2", "done"])),
                                   origin=ir.Origin("gen.fpl", next(line))))
        agents.append(ir.Agent(
            agent_id, draw(st.sampled_from(ir.DEFAULT_EFFECTS)),
            tuple(placed(r) for r in draw(st.lists(rules(), max_size=8))), tuple(phases),
            origin=ir.Origin("gen.fpl", next(line))))
    return ir.PolicyIR(tuple(agents))


def _instance(draw: st.DrawFn, pattern: str) -> str:
    """A tool name the pattern matches (usually), so rules get to decide."""
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.extend(draw(st.lists(NAME_SEGMENTS, max_size=2)))
        else:
            parts.append(segment.replace("*", draw(st.sampled_from(["", "a", "ay"]))))
    return "/".join(parts) or "a"


@st.composite
def actions(draw: st.DrawFn, policy: ir.PolicyIR | None = None) -> dict[str, Any]:
    patterns = [r.pattern for a in (policy.agents if policy else ()) for r in a.rules]
    tool = _instance(draw, draw(st.sampled_from(patterns))) \
        if patterns and draw(st.booleans()) else \
        "/".join(draw(st.lists(NAME_SEGMENTS, min_size=1, max_size=3)))
    action: dict[str, Any] = {
        "tool": tool,
        "args": {k: draw(typed(k)) for k in KEYS if draw(st.sampled_from(range(5))) < 4},
        "time": draw(st.sampled_from([datetime(2026, 1, 5, 9, tzinfo=UTC),
                                      "2026-01-05T23:30:00Z", 1767600000])),
    }
    agent = draw(st.sampled_from(["bot", "ops", "bot", "ops", "stranger", None]))
    if agent is not None:
        action["agent"] = agent
    phase = draw(st.sampled_from([None, "p1", "p2", "done", "zzz"]))
    if phase is not None:
        action["session"] = {"phase": phase}
    if draw(st.booleans()):
        action["principal"] = {"role": draw(typed("role"))}
    malformed = draw(st.sampled_from(range(40)))  # hypothesis leans to index 0: well formed
    if malformed == 37:
        action["args"] = ["not", "a", "mapping"]
    elif malformed == 38:
        action["time"] = "not a time"
    elif malformed == 39:
        action["tool"] = draw(st.sampled_from([5, None, "a\x00b", "", "./"]))
    return action


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.data())
def test_the_compiled_evaluator_agrees_with_the_reference(
        policy_ir: ir.PolicyIR, data: st.DataObject) -> None:
    policy = Policy(policy_ir)
    batch = data.draw(st.lists(actions(policy_ir), min_size=1, max_size=8))
    for action in batch + batch:  # the second pass answers from the compiled plans
        fast = policy.evaluate(action)
        expected = reference.evaluate(policy_ir, action)
        assert (fast.effect, fast.code, fast.rule_ref) == tuple(expected), action


ONE_RULE_CASES = st.tuples(st.sampled_from(list(ir.RuleEffect)), st.booleans(), comparisons(),
                           actions())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ONE_RULE_CASES, min_size=10, max_size=10))
def test_one_comparison_rules_agree_with_the_reference(
        cases: list[tuple[ir.RuleEffect, bool, ir.Expr, dict[str, Any]]]) -> None:
    """Dense coverage of single conditions: every operator, type and odd value decides
    (or fails closed) the same way in both evaluators."""
    for effect, mandatory, condition, action in cases:
        rule = ir.Rule(effect, "*", condition,
                       mandatory=mandatory and effect is ir.RuleEffect.DENY,
                       origin=ir.Origin("one.fpl", 1))
        fallback = ir.Rule(ir.RuleEffect.DEFER, "*", origin=ir.Origin("one.fpl", 2))
        policy_ir = ir.PolicyIR((ir.Agent(ir.ANY_AGENT, ir.RuleEffect.DENY, (rule, fallback),
                                          origin=ir.Origin("one.fpl", 0)),))
        fast = Policy(policy_ir).evaluate(action)
        expected = tuple(reference.evaluate(policy_ir, action))
        assert (fast.effect, fast.code, fast.rule_ref) == expected, (condition, action)
