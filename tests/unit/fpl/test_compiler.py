"""The FPL compiler: both dialects, and every check with its code and location."""

from __future__ import annotations

from decimal import Decimal

import pytest

from faramesh import PolicyError
from faramesh.fpl.compiler import compile_fpl
from faramesh.policy import ir
from faramesh.policy.values import Duration, Money


def errors(text: str, env: dict[str, str] | None = None) -> list[tuple[str, int, int]]:
    with pytest.raises(PolicyError) as info:
        compile_fpl(text, "p.fms", env=env or {})
    return [(d.code, d.span.line, d.span.column) for d in info.value.diagnostics]


def agent(text: str, env: dict[str, str] | None = None) -> ir.Agent:
    return compile_fpl(text, "p.fms", env=env or {}).agents[0]


# --- dialects ------------------------------------------------------------------------------


def test_stack_dialect_reads_if_reason_and_equals_settings() -> None:
    a = agent('agent "bot" {\n default deny\n model = "m"\n rules {\n'
              '  permit stripe/charge if amount < $50 reason "small"\n }\n}\n')
    rule = a.rules[0]
    assert (a.agent_id, rule.effect, rule.reason) == ("bot", ir.RuleEffect.PERMIT, "small")
    assert rule.condition == ir.Compare("<", ir.Var(("args", "amount")),
                                        ir.Lit(Money(__import__("decimal").Decimal(50))))
    assert a.settings == (("model", "m"),)


def test_spec_dialect_reads_when_reason_colon_notify_and_aliases() -> None:
    a = agent("agent bot {\n default deny\n model \"m\"\n rules {\n"
              "  deny! shell/*\n  allow read_* when x == 1\n    notify: \"ops\"\n"
              "    reason: \"why\"\n  block fs/write\n  approve api/*\n  reject db/*\n }\n}\n")
    effects = [(r.effect, r.mandatory) for r in a.rules]
    assert effects == [(ir.RuleEffect.DENY, True), (ir.RuleEffect.PERMIT, False),
                       (ir.RuleEffect.DENY, False), (ir.RuleEffect.PERMIT, False),
                       (ir.RuleEffect.DENY, False)]
    assert (a.rules[1].notify, a.rules[1].reason) == ("ops", "why")


def test_flat_top_level_rules_form_the_anonymous_agent() -> None:
    policy = compile_fpl("default permit\ndeny shell/*\n", "p.fms")
    assert policy.agents[0].agent_id == ir.ANY_AGENT
    assert policy.agents[0].default is ir.RuleEffect.PERMIT


def test_phase_with_duration_tools_and_nested_rules() -> None:
    a = agent('agent "w" {\n phase "x" {\n  duration = "24h"\n  next = "enforce"\n'
              '  tools = ["fs/write"]\n  rules { permit fs/write }\n }\n}\n')
    phase = a.phases[0]
    assert (phase.name, phase.next, phase.tools) == ("x", "enforce", ("fs/write",))
    assert phase.duration is not None and phase.duration.seconds == 86400
    assert phase.rules[0].pattern == "fs/write"


def test_rate_limits_budgets_redaction_and_delegation() -> None:
    a = agent('agent "p" {\n rate_limit "stripe/*": 30 per minute\n'
              ' budget daily { max $25000 warn_at 0.9 max_calls 5 on_exceed defer }\n'
              ' redact stripe/charge args: ["card.number"]\n'
              ' delegate { target_agent = "r" ttl = "10m" ceiling = "permit" }\n}\n')
    assert a.rate_limits[0].count == 30 and a.rate_limits[0].window.seconds == 60
    budget = a.budgets[0]
    assert (budget.budget_id, budget.max_calls, budget.on_exceed) == \
        ("daily", 5, ir.RuleEffect.DEFER)
    assert a.redactions[0].fields == ("card.number",)
    assert a.delegations[0].target_agent == "r"
    assert a.delegations[0].ttl == Duration(__import__("decimal").Decimal(600), "10m")


def test_var_and_env_are_resolved_at_compile_time() -> None:
    a = agent('var h = "api.x.com"\nagent "a" {\n rules {\n'
              '  permit api/get host h path env("P")\n }\n}\n', env={"P": "/v1"})
    assert (a.rules[0].host, a.rules[0].path) == ("api.x.com", "/v1")


def test_http_qualifiers_accept_a_bare_host() -> None:
    a = agent('agent "a" {\n rules { permit api/get host api.x.com method "get" }\n}\n')
    assert (a.rules[0].host, a.rules[0].method) == ("api.x.com", "GET")


def test_manifest_lines_and_system_block() -> None:
    policy = compile_fpl("manifest orchestrator o undeclared deny\n"
                         "manifest grant o to w max 3 approval\n"
                         "system global { version \"1.0\" }\nagent a { default deny }\n", "p")
    kinds = [(b.kind, b.get("verb")) for b in policy.blocks]
    assert kinds == [("manifest", "orchestrator"), ("manifest", "grant"), ("system", None)]


def test_tool_patterns_are_canonicalized_at_compile_time() -> None:
    a = agent('agent "a" {\n rules { deny "SHELL//Exec" }\n}\n')
    assert a.rules[0].pattern == "shell/exec"


# --- checks --------------------------------------------------------------------------------


def test_permit_inside_a_deny_bang_pattern_is_rejected_at_its_line() -> None:
    text = 'agent "a" {\n rules {\n  deny! shell/*\n  permit shell/ls\n }\n}\n'
    assert errors(text) == [("deny-override", 4, 3)]


def test_broader_permit_overlapping_a_deny_bang_is_accepted() -> None:
    a = agent('agent "a" {\n rules {\n  deny! shell/*\n  permit *\n }\n}\n')
    assert len(a.rules) == 2


def test_phase_grant_inside_a_deny_bang_is_rejected() -> None:
    text = ('agent "a" {\n phase p {\n  permit shell/run\n }\n'
            ' rules {\n  deny! shell/*\n }\n}\n')
    assert errors(text) == [("deny-override", 3, 3)]


def test_delegation_scope_inside_a_deny_bang_is_rejected() -> None:
    text = ('agent "a" {\n rules { deny! stripe/** }\n'
            ' delegate b {\n  scope "stripe/refund:amount<=5"\n }\n}\n')
    assert errors(text) == [("deny-override", 3, 2)]


def test_conditional_deny_bang_does_not_reject_later_rules() -> None:
    a = agent('agent "a" {\n rules {\n  deny! shell/run when cmd matches "rm"\n'
              '  permit shell/run\n }\n}\n')
    assert a.rules[0].mandatory and a.rules[0].condition is not None


def test_unknown_block_and_unknown_field_are_both_reported() -> None:
    text = 'agent "a" {\n frobnicate { x = 1 }\n budget daily { max $5 colour = "red" }\n}\n'
    assert errors(text) == [("unknown-block", 2, 2), ("unknown-field", 3, 24)]


def test_money_where_a_duration_is_expected_is_a_type_error() -> None:
    text = 'agent "a" {\n session { idle_timeout = $5 }\n}\n'
    assert errors(text) == [("type", 2, 27)]


def test_number_where_money_is_expected_is_a_type_error() -> None:
    assert errors('agent "a" {\n budget daily { max 500 }\n}\n') == [("type", 2, 21)]


def test_warn_at_must_be_a_fraction() -> None:
    assert errors('agent "a" {\n budget daily { max $5 warn_at 2 }\n}\n') == \
        [("bad-value", 2, 32)]


def test_custom_budget_needs_a_window() -> None:
    assert errors('agent "a" {\n budget weekly { max $5 }\n}\n') == [("missing-field", 2, 2)]


def test_undefined_var_is_reported_where_it_is_used() -> None:
    assert errors('agent "a" {\n rules { permit api/get host finance_host }\n}\n') == \
        [("undefined-var", 2, 30)]


def test_unset_env_variable_is_reported() -> None:
    assert errors('agent "a" {\n model = env("NOPE")\n}\n') == [("env-unset", 2, 10)]


def test_duplicate_agents_are_rejected() -> None:
    assert errors('agent "a" {}\nagent "a" {}\n') == [("duplicate-agent", 2, 1)]


def test_latest_and_unpinned_imports_are_rejected() -> None:
    assert errors('import "packs/x@latest" as x\nimport "packs/y"\n') == \
        [("unpinned-import", 1, 1), ("unpinned-import", 2, 1)]


def test_missing_agent_name_is_located_at_the_keyword() -> None:
    assert errors("agent {\n  default deny\n}\n") == [("missing-name", 1, 1)]


def test_bad_regex_is_a_compile_error_not_a_runtime_one() -> None:
    assert errors('agent "a" {\n rules { deny x when cmd matches "(" }\n}\n')[0][0] == \
        "bad-regex"


def test_unknown_function_is_reported() -> None:
    assert errors('agent "a" {\n rules { deny x when frob(1) }\n}\n') == \
        [("unknown-function", 2, 22)]


def test_step_up_needs_an_authority() -> None:
    assert errors('agent "a" {\n rules { step_up x }\n}\n') == [("missing-authority", 2, 10)]


def test_many_errors_in_one_file_are_all_reported_in_order() -> None:
    text = ('agent "a" {\n rules {\n  permit\n  deny x when (\n }\n'
            ' budget daily { max 5 }\n session { idle_timeout = $1 }\n}\nagent "a" {}\n')
    found = errors(text)
    assert [code for code, _, _ in found] == \
        ["missing-pattern", "syntax", "type", "type", "duplicate-agent"]
    assert found == sorted(found, key=lambda e: (e[1], e[2]))


def test_every_error_shows_the_line_with_a_caret_and_a_hint() -> None:
    with pytest.raises(PolicyError) as info:
        compile_fpl('agent "a" {\n budget daily { max 500 }\n}\n', "p.fms")
    rendered = info.value.diagnostics[0].render().splitlines()
    assert rendered[0].startswith("p.fms:2:21: error[type]")
    assert rendered[1] == "2 |  budget daily { max 500 }"
    assert rendered[2].index("^") == len("2 | ") + 20
    assert rendered[3].startswith("  hint:")


def test_unclosed_block_is_reported() -> None:
    assert errors('agent "a" {\n default deny\n')[0][0] == "unclosed-block"


def test_unterminated_string_is_reported() -> None:
    assert errors('agent "a {\n}\n')[0][0] == "unterminated-string"


def test_flat_rules_beside_an_explicit_catch_all_agent_are_a_duplicate() -> None:
    assert errors('agent "*" { default deny }\npermit x\n') == [("duplicate-agent", 2, 1)]


def test_tools_are_declared_once_by_canonical_name() -> None:
    text = 'agent "a" {\n tool "Stripe/Refund" {}\n tool "stripe/refund" {}\n}\n'
    assert errors(text) == [("duplicate-block", 3, 2)]


def test_a_tool_cost_is_dollars_on_its_declaration() -> None:
    a = agent('agent "a" {\n var price = $0.002\n tool "OpenAI/**" { cost = price }\n'
              ' tool "stripe/charge" { tags = ["risk:high"]  cost = $0.05 }\n}\n')
    assert a.tools == (ir.ToolDecl("openai/**", (), Money(Decimal("0.002"))),
                       ir.ToolDecl("stripe/charge", ("risk:high",), Money(Decimal("0.05"))))


@pytest.mark.parametrize("value", ["€0.05", "5GBP", "0.05", '"$1"'])
def test_a_tool_cost_other_than_dollars_is_an_error_at_the_value(value: str) -> None:
    assert errors(f'agent "a" {{\n tool "t" {{ cost = {value} }}\n}}\n') == [("type", 2, 20)]


def test_delegations_are_declared_once_per_target() -> None:
    text = 'agent "a" {\n delegate r { ttl 1m }\n delegate { target_agent = "r" }\n}\n'
    assert errors(text) == [("duplicate-block", 3, 2)]
