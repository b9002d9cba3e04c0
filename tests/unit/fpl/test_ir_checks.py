"""`check_ir`: the YAML/JSON forms are checked against the block schemas as FPL text is,
with lowering's codes, located in the file that was read."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

from faramesh.errors import PolicyError
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.ir_checks import check_ir
from faramesh.fpl.loader import compile_text, load_policy_ir
from faramesh.policy import ir
from faramesh.policy.values import Money
from tests.paths import CORPUS
from tests.strategies import policies

AGENT = "agents:\n- id: bot\n"
RULES = AGENT + "  rules:\n"
BLOCKS = AGENT + "  blocks:\n"


def errors(text: str, form: str = "yaml") -> list[tuple[str, int]]:
    with pytest.raises(PolicyError) as raised:
        compile_text(text, f"p.{form}", form)
    assert all(d.span.file == f"p.{form}" for d in raised.value.diagnostics)
    return [(d.code, d.span.line) for d in raised.value.diagnostics]


def checked(policy: ir.PolicyIR) -> list[tuple[str, int]]:
    sink = DiagnosticSink("<ir>", "")
    check_ir(policy, sink)
    return [(d.code, d.span.line) for d in sink.items]


# --- each error, through YAML text ---------------------------------------------------------


@pytest.mark.parametrize(("text", "code", "line"), [
    # blocks: kinds, and where they may stand
    ("blocks:\n- kind: frobnicate\n  fields: {x: 1}\n", "unknown-block", 2),
    (BLOCKS + "  - kind: frobnicate\n", "unknown-block", 4),
    ("blocks:\n- kind: egress\n", "misplaced", 2),
    (BLOCKS + "  - kind: runtime\n", "misplaced", 4),
    (BLOCKS + "  - kind: budget\n    name: daily\n", "misplaced", 4),
    (BLOCKS + "  - kind: manifest\n    fields: {verb: grant}\n", "misplaced", 4),
    ("blocks:\n- kind: agent\n  name: bot\n", "misplaced", 2),
    ("blocks:\n- kind: provider\n  fields: {x: 1}\n", "missing-name", 2),
    (BLOCKS + "  - kind: egress\n    name: main\n", "syntax", 4),
    # fields: names and types
    (BLOCKS + "  - kind: egress\n    fields:\n      allow: [api.x.com]\n      colour: blue\n",
     "unknown-field", 7),
    (BLOCKS + "  - kind: session\n    fields:\n      idle_timeout: $5\n", "type", 6),
    (BLOCKS + "  - kind: egress\n    fields:\n      allow: api.x.com\n", "type", 6),
    (BLOCKS + "  - kind: spawn\n    fields:\n      max_concurrent: 1.5\n", "type", 6),
    (BLOCKS + "  - kind: spawn\n    fields:\n      max_depth: true\n", "type", 6),
    (BLOCKS + "  - kind: session\n    fields:\n      purpose: 15m\n", "type", 6),
    ("blocks:\n- kind: runtime\n  fields:\n    strip_ambient_credentials: 'yes'\n", "type", 4),
    ("blocks:\n- kind: runtime\n  fields:\n    mode: loud\n", "bad-value", 4),
    (BLOCKS + "  - kind: egress\n    fields:\n      on_violation: allow\n", "bad-value", 6),
    (BLOCKS + "  - kind: alert\n    fields:\n      threshold: -1\n", "bad-value", 6),
    (BLOCKS + "  - kind: egress\n    fields:\n    - allow: [a]\n    - allow: [b]\n",
     "duplicate-field", 7),
    (AGENT + "  settings:\n    colour: blue\n", "unknown-field", 4),
    (AGENT + "  settings:\n    version: 1.0\n", "type", 4),
    (AGENT + "  settings:\n    default: permit\n", "misplaced", 4),
    # manifests
    ("blocks:\n- kind: manifest\n  fields: {verb: fly}\n", "bad-manifest", 2),
    ("blocks:\n- kind: manifest\n  fields: {verb: grant, orchestrator: o}\n", "missing-field",
     2),
    ("blocks:\n- kind: manifest\n  fields:\n    verb: orchestrator\n    orchestrator: o\n"
     "    undeclared: permit\n", "bad-value", 6),
    # rules, budgets, rate limits
    (RULES + "  - effect: step_up\n    tool: x\n", "missing-authority", 4),
    (RULES + "  - effect: modify\n    tool: x\n", "missing-field", 4),
    (RULES + "  - effect: permit\n    tool: x\n    modify_args: {a: 1}\n", "misplaced", 4),
    (AGENT + "  budgets:\n  - {id: daily}\n", "missing-field", 4),
    (AGENT + "  budgets:\n  - {id: weekly, max: $5}\n", "missing-field", 4),
    (AGENT + "  rate_limits:\n  - {tool: x, limit: 0, per: 1m}\n", "type", 4),
    (AGENT + "  tools:\n  - {name: openai/**, cost: €0.01}\n", "type", 4),
    # declared twice
    (AGENT + "  budgets:\n  - {id: daily, max: $5}\n  - {id: daily, max: $6}\n",
     "duplicate-block", 5),
    (AGENT + "  delegations:\n  - {agent: r}\n  - {agent: r, ttl: 5m}\n", "duplicate-block", 5),
    (AGENT + "  tools:\n  - stripe/refund\n  - {name: Stripe/Refund, tags: [x]}\n",
     "duplicate-block", 5),
    (AGENT + "  phases:\n  - name: a\n  - name: a\n", "duplicate-block", 5),
    (BLOCKS + "  - kind: egress\n  - kind: egress\n", "duplicate-block", 5),
    ("agents:\n- id: a\n- id: b\n- id: a\n", "duplicate-agent", 4),
    # imports
    ("imports:\n- source: x@1.0.0\n", "unsupported-import", 2),
    ("imports:\n- source: x@latest\n", "unpinned-import", 2),
    ("imports:\n- source: lib\n", "unpinned-import", 2),
])
def test_each_check_has_its_code_and_line(text: str, code: str, line: int) -> None:
    assert (code, line) in errors(text)


def test_json_is_checked_and_located_too() -> None:
    text = ('{\n  "agents": [\n    {"id": "a",\n     "blocks": [\n'
            '       {"kind": "egress", "fields": {"colour": "blue"}}]}\n  ]\n}\n')
    assert errors(text, "json") == [("unknown-field", 5)]


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = (RULES + "  - {effect: step_up, tool: x}\n  - {effect: modify, tool: y}\n"
            "  budgets:\n  - {id: weekly}\n  blocks:\n  - kind: frobnicate\n")
    assert errors(text) == [("missing-authority", 4), ("missing-field", 5),
                            ("missing-field", 7), ("missing-field", 7), ("unknown-block", 9)]


def test_a_record_carrying_line_is_still_reported_where_the_yaml_wrote_it() -> None:
    text = "source: g.fms\n" + RULES + "  - effect: step_up\n    tool: x\n    line: 40\n"
    assert errors(text) == [("missing-authority", 5)]


def test_fpl_text_is_not_checked_twice() -> None:
    with pytest.raises(PolicyError) as raised:
        compile_text('agent "a" {\n  egress { colour = "blue" }\n}\n', "p.fms", "fpl")
    assert [(d.code, d.span.line) for d in raised.value.diagnostics] == [("unknown-field", 2)]


def test_what_fpl_accepts_is_accepted() -> None:
    policy = load_policy_ir(
        "blocks:\n- kind: identity\n  fields: {anything: [1, null, $5]}\n"
        "- kind: manifest\n  fields: {verb: grant, orchestrator: o, target: t, max: 3,"
        " approval: true}\n"
        "agents:\n- id: bot\n  settings: [{model: a}, {model: b}]\n"
        "  budgets:\n  - {id: daily, max_calls: 0}\n  - {id: weekly, max: $5, window: 7d}\n"
        "  blocks:\n  - {kind: alert, fields: {'on': deny}}\n"
        "  - {kind: alert, fields: {'on': any}}\n"
        "  - {kind: ambient, fields: {on_exceed: defer, max_customers_per_day: 10}}\n"
        "  - {kind: credential, name: vault, fields: {scope: [read, write], ttl: 15m}}\n")
    assert [b.kind for b in policy.agents[0].blocks] == ["alert", "alert", "ambient",
                                                         "credential"]


# --- without a locator: the records' origins ------------------------------------------------


def test_without_a_locator_errors_point_at_the_record_origin() -> None:
    rule = ir.Rule(ir.RuleEffect.STEP_UP, "x", origin=ir.Origin("g.fms", 12, 3))
    block = ir.Block("egress", None, (("colour", "blue"),), ir.Origin("g.fms", 20, 3))
    agent = ir.Agent("a", rules=(rule,), blocks=(block,), tools=(ir.ToolDecl("t"),) * 2,
                     origin=ir.Origin("g.fms", 1, 1))
    assert checked(ir.PolicyIR((agent,))) == [("missing-authority", 12), ("unknown-field", 20),
                                              ("duplicate-block", 1)]


@pytest.mark.parametrize(("fields", "code"), [
    ((("max_concurrent", True),), "type"),
    ((("max_concurrent", -1),), "bad-value"),
    ((("allowed_types", ("a", 1)),), "type"),
    ((("max_depth", None),), "type"),
])
def test_field_values_are_checked_by_type(fields: tuple[tuple[str, ir.BlockValue], ...],
                                          code: str) -> None:
    agent = ir.Agent("a", blocks=(ir.Block("spawn", None, fields),))
    assert [c for c, _ in checked(ir.PolicyIR((agent,)))] == [code]


def test_budget_and_delegation_fields_are_checked_by_their_block_schema() -> None:
    budget = ir.Budget("daily", max=5, warn_at=Decimal(2),  # type: ignore[arg-type]
                       on_exceed=ir.RuleEffect.SHADOW)
    delegation = ir.Delegation("r", ceiling="all")
    agent = ir.Agent("a", budgets=(budget,), delegations=(delegation,))
    assert sorted(c for c, _ in checked(ir.PolicyIR((agent,)))) == [
        "bad-value", "bad-value", "bad-value", "type"]


def test_a_tool_cost_is_money_in_us_dollars() -> None:
    tools = (ir.ToolDecl("a", cost=Money(Decimal(1), "EUR")),
             ir.ToolDecl("b", cost=Decimal(1)),  # type: ignore[arg-type]
             ir.ToolDecl("c", cost=Money(Decimal("0.5"))))
    assert checked(ir.PolicyIR((ir.Agent("a", tools=tools),))) == [("type", 1), ("type", 1)]


# --- what passes ---------------------------------------------------------------------------


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".fpl", ".fms", ".yaml")
                  and "invalid" not in p.parts)


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_policy_passes(path: Path) -> None:
    policy = load_policy_ir(path, env={})  # every valid corpus file compiles (conformance)
    assert checked(policy) == []


@settings(max_examples=100, deadline=None)
@given(policies())
def test_generated_policies_pass(policy: ir.PolicyIR) -> None:
    assert checked(policy) == []
