"""IR -> FPL text -> IR is the identity, so converting to FPL never changes a decision;
and the emitted text is already canonical (`fmt` leaves it alone)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from faramesh.fpl.checks import check_mandatory_denies
from faramesh.fpl.compiler import compile_fpl, parse_policy_text
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.emit import ir_to_fpl
from faramesh.fpl.formatter import format_file
from faramesh.policy import ir
from faramesh.policy.evaluator import Policy
from tests import strategies as s

FLAT_VALUES = st.one_of(st.text("abc /", max_size=5), st.integers(-3, 300), st.booleans(),
                        st.lists(st.sampled_from(("x", "y")), max_size=2).map(tuple))


def decimal_literals(expr: ir.Expr) -> ir.Expr:
    """FPL writes every number in decimal: a binary float literal (which only the YAML/JSON
    forms can hold) becomes the decimal it prints as; the evaluator compares both alike."""
    def to_decimal(leaf: ir.Lit | ir.Var) -> ir.Expr:
        if isinstance(leaf, ir.Lit) and isinstance(leaf.value, float):
            return ir.Lit(Decimal(repr(leaf.value)))
        return leaf
    return ir.map_leaves(expr, to_decimal)


@st.composite
def fpl_rules(draw: st.DrawFn) -> ir.Rule:
    """Rules FPL text can express: `modify` rewrites flat values (`set`/`unset`), and
    conditions hold decimals, never binary floats."""
    rule = draw(s.rules())
    changes: dict[str, Any] = {}
    if rule.effect is ir.RuleEffect.MODIFY:
        changes["modify_args"] = tuple(draw(st.lists(
            st.tuples(st.sampled_from(("amount", "memo", "card.cvv")),
                      st.one_of(st.none(), FLAT_VALUES)), min_size=1, max_size=2)))
    if isinstance(rule.condition, ir.Lit) and rule.condition.value is True:
        changes["condition"] = None
    elif rule.condition is not None:
        changes["condition"] = decimal_literals(rule.condition)
    return _replace(rule, **changes)


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace
    return replace(obj, **changes)


@st.composite
def fpl_agents(draw: st.DrawFn, agent_id: str) -> ir.Agent:
    agent = draw(s.agents(agent_id=agent_id))
    phases = tuple(_replace(p, rules=tuple(draw(st.lists(fpl_rules(), max_size=2))))
                   for p in agent.phases)
    # Blocks of a few kinds: FPL has no null or binary float for an open block's field.
    blocks = tuple(draw(st.lists(st.one_of(
        st.builds(lambda hosts: ir.Block("egress", None, (("allow", hosts),)),
                  st.lists(st.sampled_from(("api.x.com", "*.y.com")), max_size=2).map(tuple)),
        st.builds(lambda d: ir.Block("session", None, (("idle_timeout", d),)),
                  s.durations()),
        st.builds(lambda v: ir.Block("ambient", None, (("max_calls_per_day", v),)),
                  st.integers(0, 99))), max_size=2, unique_by=lambda b: b.kind)))
    return _replace(agent, rules=tuple(draw(st.lists(fpl_rules(), max_size=6))),
                    phases=phases, blocks=blocks)


@st.composite
def fpl_policies(draw: st.DrawFn) -> ir.PolicyIR:
    ids = draw(st.lists(st.sampled_from(s.AGENT_IDS), min_size=1, max_size=3, unique=True))
    policy = ir.PolicyIR(tuple(draw(fpl_agents(i)) for i in ids))
    sink = DiagnosticSink("<gen>", "")
    check_mandatory_denies(policy, sink)
    assume(not sink.items)  # a generated override of a `deny!` is rightly rejected
    return policy


@given(fpl_policies())
def test_fpl_emission_round_trips_to_an_equal_ir(policy: ir.PolicyIR) -> None:
    text = ir_to_fpl(policy)
    assert compile_fpl(text, "rt.fms", env={}) == policy
    tree, sink = parse_policy_text(text, "rt.fms")
    assert not sink.items and format_file(tree) == text


@given(fpl_policies(), st.data())
def test_fpl_conversion_keeps_every_decision(policy: ir.PolicyIR, data: st.DataObject) -> None:
    before, after = Policy(policy), Policy(compile_fpl(ir_to_fpl(policy), "rt.fms", env={}))
    for action in data.draw(st.lists(s.actions(policy), min_size=1, max_size=5)):
        a, b = before.evaluate(action), after.evaluate(action)
        assert (a.effect, a.code, a.reason_code, a.modified_args) == \
            (b.effect, b.code, b.reason_code, b.modified_args)
