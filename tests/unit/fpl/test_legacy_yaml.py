"""The runtime's legacy policy YAML: the published files load and decide as written, and
every malformed file ends in located, coded errors, never in an exception."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from faramesh.fpl.diagnostics import Diagnostic, DiagnosticSink, Span
from faramesh.fpl.legacy_yaml import looks_like_legacy_yaml, lower_legacy_yaml
from faramesh.policy import ir
from faramesh.policy.decision import Code, Decision, Effect
from faramesh.policy.evaluator import Policy
from faramesh.policy.values import Money
from tests.paths import CORPUS

LEGACY_FILES = sorted([*CORPUS.glob("packs/*/policy.yaml"), *CORPUS.glob("engine-yaml/*.yaml")])
HEAD = 'faramesh-version: "1.0"\nagent-id: "bot"\ndefault_effect: deny\n'  # lines 1-3
NOW = "2025-01-01T12:00:00Z"


def lower(text: str, file: str = "p.yaml") -> ir.PolicyIR:
    sink = DiagnosticSink(file, text)
    policy = lower_legacy_yaml(text, file, sink)
    assert policy is not None, [d.render() for d in sink.items]
    assert sink.items == []
    return policy


def diagnostics(text: str) -> list[Diagnostic]:
    sink = DiagnosticSink("p.yaml", text)
    assert lower_legacy_yaml(text, "p.yaml", sink) is None
    assert sink.items, "a rejected policy names at least one error"
    return sink.items


def errors(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diagnostics(text)]


def doc(body: str) -> str:
    return HEAD + textwrap.dedent(body)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


class Pack:
    """One corpus file, compiled, with a helper that decides for its agent."""

    def __init__(self, relative: str) -> None:
        self.path = CORPUS / relative
        self.text = self.path.read_text()
        self.ir = lower(self.text, str(self.path))
        self.policy = Policy(self.ir)
        self.agent = self.ir.agents[0].agent_id

    def decide(self, tool: str, **parts: Any) -> Decision:
        return self.policy.evaluate({"tool": tool, "agent": self.agent, "time": NOW, **parts})

    def ref(self, rule_id: str) -> str:
        return f"{self.path}:{line_of(self.text, f'- id: {rule_id}')}"


# --- the published files ---------------------------------------------------------------


def test_the_corpus_has_legacy_yaml_files() -> None:
    assert len(LEGACY_FILES) >= 20


@pytest.mark.parametrize("path", LEGACY_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_published_legacy_yaml_file_loads_without_errors(path: Path) -> None:
    text = path.read_text()
    policy = lower(text, str(path))
    assert looks_like_legacy_yaml(yaml.safe_load(text))
    assert len(policy.agents) == 1 and policy.agents[0].rules
    assert Policy(policy).agent_ids == (yaml.safe_load(text)["agent-id"],)


def test_a_mapping_with_a_runtime_marker_key_looks_like_legacy_yaml() -> None:
    for key in ("agent-id", "faramesh-version", "default_effect"):
        assert looks_like_legacy_yaml({key: "x"})
    others: list[object] = [{"agents": []}, ["agent-id"], "agent-id: x", None, 3]
    for data in others:
        assert not looks_like_legacy_yaml(data)


def test_a_small_refund_is_permitted_by_its_rule() -> None:
    pack = Pack("packs/faramesh-payment-agent/policy.yaml")
    d = pack.decide("stripe/refund", args={"amount": 50})
    assert (d.effect, d.code, d.rule_id) == (Effect.PERMIT, Code.RULE_PERMIT,
                                             "permit-low-value-refund")
    assert d.rule_ref == pack.ref("permit-low-value-refund")


def test_a_large_refund_is_deferred_with_its_reason() -> None:
    pack = Pack("packs/faramesh-payment-agent/policy.yaml")
    d = pack.decide("stripe/refund", args={"amount": 500})
    assert (d.effect, d.code, d.rule_id) == (Effect.DEFER, Code.POLICY_DEFER,
                                             "defer-high-value-refund")
    assert d.rule_ref == pack.ref("defer-high-value-refund")


def test_a_refund_without_an_amount_falls_to_the_default_deny() -> None:
    pack = Pack("packs/faramesh-payment-agent/policy.yaml")
    d = pack.decide("stripe/refund", args={})
    assert (d.effect, d.code, d.rule_id) == (Effect.DENY, Code.DEFAULT_DENY, None)
    assert d.rule_ref == f"{pack.path}:{line_of(pack.text, 'default_effect')}"


@pytest.mark.parametrize("tool", ["shell/exec", "shell/anything", "SHELL//exec", " shell/rm "])
def test_any_shell_tool_is_denied_however_it_is_spelled(tool: str) -> None:
    pack = Pack("packs/faramesh-payment-agent/policy.yaml")
    d = pack.decide(tool)
    assert (d.effect, d.code, d.rule_id) == (Effect.DENY, Code.POLICY_DENY, "deny-shell")


def test_the_agent_id_names_the_only_agent_the_policy_governs() -> None:
    pack = Pack("packs/faramesh-payment-agent/policy.yaml")
    d = pack.policy.evaluate({"tool": "read_customer", "agent": "someone-else"})
    assert (d.effect, d.code) == (Effect.DENY, Code.IDENTITY_UNRESOLVED)


def test_a_shadow_rule_permits_and_says_what_enforcement_would_have_done() -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.shadow.yaml")
    d = pack.decide("proxy/http", args={"host": "evil.example", "method": "POST", "path": "/"},
                    session={"history": []})
    assert (d.effect, d.code, d.rule_id) == (Effect.PERMIT, Code.SHADOW,
                                             "shadow-unapproved-egress")
    assert d.reason_code == "EGRESS_BLOCK_DEFAULT_SHADOW"
    assert (d.shadow_effect, d.shadow_code) == (Effect.DENY, Code.POLICY_DENY)


def test_host_method_and_path_qualifiers_select_an_approved_route() -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.shadow.yaml")
    args = {"host": "api.openai.com", "method": "POST", "path": "/v1/responses"}
    d = pack.decide("proxy/http", args=args, session={"history": []})
    assert (d.effect, d.code, d.reason_code) == (Effect.PERMIT, Code.RULE_PERMIT,
                                                 "EGRESS_ALLOW_OPENAI_RESPONSES")
    rule = next(r for r in pack.ir.agents[0].rules if r.rule_id == d.rule_id)
    assert (rule.host, rule.method, rule.path) == ("api.openai.com", "POST", "/v1/responses")


def test_a_read_followed_by_a_draft_is_denied_by_history_sequence() -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.yaml")
    d = pack.decide("draft_email_with_body", args={"recipients": ["a@company.com"]},
                    session={"history": [{"tool": "read_customer_db"}],
                             "purpose": "customer_support_response", "intent_class": ""})
    assert (d.effect, d.code, d.reason_code) == (Effect.DENY, Code.POLICY_DENY,
                                                 "SEQUENCE_EXFIL_BLOCK")


def test_a_recent_read_defers_a_draft_through_history_contains_within() -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.yaml")
    history = [{"tool": "read_customer_db", "time": "2025-01-01T11:59:00Z"},
               {"tool": "search_kb", "time": "2025-01-01T11:59:30Z"}]
    d = pack.decide("draft_email_with_body", args={"recipients": ["a@company.com"]},
                    session={"history": history, "purpose": "customer_support_response",
                             "intent_class": ""})
    assert (d.effect, d.rule_id) == (Effect.DEFER, "defer-email-after-recent-customer-read")


def test_a_safe_draft_is_permitted_when_purpose_and_recipients_check_out() -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.yaml")
    d = pack.decide("draft_email_with_body", args={"recipients": ["a@company.com"]},
                    session={"history": [], "purpose": "customer_support_response",
                             "intent_class": ""})
    assert (d.effect, d.code, d.reason_code) == (Effect.PERMIT, Code.RULE_PERMIT, "DRAFT_SAFE")


@pytest.mark.parametrize(("purpose", "recipients", "reason_code"), [
    ("marketing", ["a@company.com"], "PURPOSE_MISMATCH"),
    ("customer_support_response", ["a@company.com", "b@company.com"],
     "RECIPIENT_CARDINALITY"),
    ("customer_support_response", ["a@elsewhere.org"], "RECIPIENT_DOMAIN_BLOCKED"),
])
def test_a_draft_failing_one_check_is_denied_with_that_checks_code(
        purpose: str, recipients: list[str], reason_code: str) -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.yaml")
    d = pack.decide("draft_email_with_body", args={"recipients": recipients},
                    session={"history": [], "purpose": purpose, "intent_class": ""})
    assert (d.effect, d.reason_code) == (Effect.DENY, reason_code)


def test_a_missing_session_field_cannot_skip_a_defer() -> None:
    pack = Pack("engine-yaml/chain_exfil_hardening.yaml")
    d = pack.decide("draft_email_with_body", args={"recipients": ["a@company.com"]},
                    session={"history": [], "purpose": "customer_support_response"})
    assert (d.effect, d.reason_code) == (Effect.DEFER, "INTENT_CLASS_HIGH_RISK")


def test_args_array_len_with_double_quotes_counts_recipients() -> None:
    pack = Pack("packs/faramesh-support-agent/policy.yaml")
    many = pack.decide("send_email", args={"recipients": [f"u{i}@x.com" for i in range(12)]})
    one = pack.decide("send_email", args={"recipients": ["u@x.com"]})
    assert (many.effect, many.rule_id) == (Effect.DENY, "deny-mass-email")
    assert (one.effect, one.rule_id) == (Effect.PERMIT, "permit-single-recipient-email")


def test_a_principal_condition_permits_only_a_verified_principal() -> None:
    pack = Pack("engine-yaml/langchain_single_agent.yaml")
    assert pack.decide("idp/probe", principal={"verified": True}).effect is Effect.PERMIT
    assert pack.decide("idp/probe").code is Code.DEFAULT_DENY


def test_declared_tools_keep_their_tags() -> None:
    pack = Pack("engine-yaml/langchain_single_agent.yaml")
    tools = {t.name: t.tags for t in pack.ir.agents[0].tools}
    assert tools["payment/refund"] == ("risk:high",)
    assert "credential:broker" in tools["vault/probe/_run_one"]


def test_a_budget_lowers_to_one_session_record_with_exact_money() -> None:
    pack = Pack("packs/faramesh-p2-research-agent/policy.yaml")
    (budget,) = pack.ir.agents[0].budgets
    assert budget == ir.Budget("session", Money(Decimal(15)), Money(Decimal(75)), 400,
                               on_exceed=ir.RuleEffect.DEFER)
    assert budget.origin.line == line_of(pack.text, "budget:")


def test_parallel_budget_and_defer_priority_are_kept_as_flat_blocks() -> None:
    pack = Pack("packs/faramesh-p2-ops-release/policy.yaml")
    blocks = {b.kind: b for b in pack.ir.agents[0].blocks}
    parallel, priority = blocks["parallel_budget"], blocks["defer_priority"]
    assert parallel.get("agents") == ("release-copilot", "release-verifier")
    assert parallel.get("aggregate_max_cost_usd") == Money(Decimal(40))
    assert priority.get("critical.criteria") == 'tool_id matches "prod/*"'
    assert priority.get("high.sla_seconds") == 900


# --- lowering ----------------------------------------------------------------------------


def rule(body: str) -> ir.Rule:
    return lower(doc(body)).agents[0].rules[0]


def test_a_modify_rule_rewrites_arguments_and_null_removes_one() -> None:
    policy = lower(doc("""\
        rules:
          - id: cap-refund
            match: {tool: stripe/refund}
            effect: modify
            modify_args: {limit: 500, options.isolation: docker, card: null}
            modify_reason: refund capped by policy
        """))
    assert policy.agents[0].rules[0].modify_args == (
        ("limit", 500), ("options.isolation", "docker"), ("card", None))
    d = Policy(policy).evaluate({"tool": "stripe/refund", "agent": "bot",
                                 "args": {"amount": 900, "card": "4242"}})
    assert (d.effect, d.code, d.reason) == (Effect.PERMIT, Code.MODIFIED,
                                            "refund capped by policy")
    assert d.modified_args == {"amount": 900, "limit": 500, "options": {"isolation": "docker"}}


def test_a_step_up_rule_defers_to_its_named_authority() -> None:
    policy = lower(doc("""\
        rules:
          - id: high-value-refund
            match: {tool: stripe/refund}
            effect: step_up
            step_up_authority: finance_manager
            step_up_reason: manager approval required
        """))
    d = Policy(policy).evaluate({"tool": "stripe/refund", "agent": "bot"})
    assert (d.effect, d.code, d.authority, d.reason) == (
        Effect.DEFER, Code.STEP_UP_REQUIRED, "finance_manager", "manager approval required")


@pytest.mark.parametrize("when", ['when: "true"', "when: true", 'when: ""', None])
def test_a_true_or_absent_when_means_no_condition(when: str | None) -> None:
    lines = ["rules:", "  - id: r", "    match:", "      tool: t",
             *([f"      {when}"] if when else []), "    effect: permit", ""]
    assert rule("\n".join(lines)).condition is None


def test_runtime_variable_names_resolve_to_ours() -> None:
    r = rule('rules:\n  - id: r\n    match: {tool: t, when: "tool_name == \'t\' && amount > 1"}'
             "\n    effect: deny\n")
    assert r.condition == ir.And((ir.Compare("==", ir.Var(("tool",)), ir.Lit("t")),
                                  ir.Compare(">", ir.Var(("args", "amount")), ir.Lit(1))))


def test_tool_patterns_are_canonicalized_and_effect_aliases_accepted() -> None:
    r = rule("rules:\n  - id: r\n    match: {tool: ' Stripe//Refund '}\n    effect: Block\n")
    assert (r.pattern, r.effect, r.rule_id) == ("stripe/refund", ir.RuleEffect.DENY, "r")
    assert r.origin == ir.Origin("p.yaml", 5, 5)


def test_a_zero_budget_limit_means_no_limit_as_in_the_runtime() -> None:
    text = doc("budget:\n  max_calls: 0\n  session_usd: 0\n  daily_usd: ~\n")
    assert lower(text).agents[0].budgets == ()


def test_yaml_merge_keys_share_a_match_between_rules() -> None:
    policy = lower(doc("""\
        rules:
          - id: a
            match: &refund {tool: stripe/refund}
            effect: defer
          - id: b
            match: {<<: *refund, when: "amount < 5"}
            effect: permit
        """))
    assert policy.agents[0].rules[1].pattern == "stripe/refund"


def test_tool_metadata_faramesh_cannot_use_is_refused() -> None:
    assert errors(doc("tools:\n  llm/generate:\n    reversibility: none\n    tags: [a]\n")) \
        == [("unsupported-key", 6, 5)]


def test_a_tool_cost_is_dollars_in_the_cost_table() -> None:
    policy = lower(doc("tools:\n  llm/generate:\n    cost_usd: 0.05\n    tags: [a]\n"
                       "  Openai/*: {cost_usd: 2}\n  fs/read: {tags: [b]}\n"))
    assert policy.agents[0].tools == (
        ir.ToolDecl("llm/generate", ("a",), Money(Decimal("0.05"))),
        ir.ToolDecl("openai/*", (), Money(Decimal(2))), ir.ToolDecl("fs/read", ("b",)))


def test_lowering_ignores_errors_already_in_the_sink() -> None:
    text = doc("rules: []\n")
    sink = DiagnosticSink("p.yaml", text)
    sink.error(Span("other", 1, 1), "x", "earlier")
    assert lower_legacy_yaml(text, "p.yaml", sink) is not None


# --- errors ------------------------------------------------------------------------------


def test_an_unknown_top_level_key_is_an_error_at_the_key() -> None:
    assert errors(doc("colour: red\n")) == [("unknown-key", 4, 1)]


def test_a_runtime_key_faramesh_cannot_enforce_is_refused() -> None:
    assert errors(doc("phases:\n  intake: {tools: [a]}\n")) == [("unsupported-key", 4, 1)]


def test_an_unknown_rule_key_is_an_error_with_a_hint() -> None:
    (d,) = diagnostics(doc("rules:\n  - id: r\n    match: {tool: t}\n    effect: deny\n"
                           "    tool: t\n"))
    assert (d.code, d.span.line, d.span.column) == ("unknown-key", 8, 5)
    assert d.hint


def test_an_unknown_effect_is_an_error_at_the_effect() -> None:
    assert errors(doc("rules:\n  - id: r\n    match: {tool: t}\n    effect: maybe\n")) == [
        ("unknown-effect", 7, 13)]


def test_a_rule_without_match_or_without_a_tool_is_an_error() -> None:
    assert errors(doc("rules:\n  - id: r\n    effect: deny\n")) == [("missing-tool", 5, 5)]
    assert errors(doc("rules:\n  - id: r\n    match: {when: 'amount > 1'}\n    effect: deny\n"
                      )) == [("missing-tool", 6, 12)]


def test_a_bad_when_is_reported_inside_the_string() -> None:
    assert errors(doc("rules:\n  - id: r\n    match:\n      tool: t\n      when: \"amount >\"\n"
                      "    effect: deny\n")) == [("syntax", 8, 22)]


def test_an_unknown_function_in_when_is_an_error() -> None:
    assert errors(doc("rules:\n  - id: r\n    match: {tool: t, when: \"deny_count(3)\"}\n"
                      "    effect: deny\n")) == [("unknown-function", 6, 29)]


def test_runtime_variables_without_a_counterpart_are_refused() -> None:
    assert errors(doc("rules:\n  - id: r\n    match: {tool: t, when: \"'x' in tool.tags\"}\n"
                      "    effect: deny\n")) == [("unsupported-variable", 6, 28)]


@pytest.mark.parametrize(("body", "expected"), [
    ("budget:\n  max_calls: lots\n", ("type", 5, 14)),
    ('budget:\n  session_usd: "15"\n', ("type", 5, 16)),
    ("budget:\n  session_usd: -3\n", ("bad-value", 5, 16)),
    ("budget:\n  max_calls: 2.5\n", ("bad-value", 5, 14)),
    ("budget:\n  on_exceed: shadow\n", ("unknown-effect", 5, 14)),
    ("rules: {id: r}\n", ("type", 4, 8)),
    ("rules:\n  - just text\n", ("type", 5, 5)),
    ("tools:\n  t:\n    tags: risk\n", ("type", 6, 11)),
    ('tools:\n  t:\n    cost_usd: "$1"\n', ("type", 6, 15)),
    ("tools:\n  t:\n    cost_usd: -0.5\n", ("bad-value", 6, 15)),
    ("rules:\n  - id: [a]\n    match: {tool: t}\n    effect: deny\n", ("type", 5, 9)),
])
def test_a_value_of_the_wrong_type_is_an_error_at_the_value(
        body: str, expected: tuple[str, int, int]) -> None:
    assert errors(doc(body)) == [expected]


def test_a_duplicate_rule_id_is_an_error_at_the_second_id() -> None:
    body = "rules:\n" + "  - id: r\n    match: {tool: t}\n    effect: deny\n" * 2
    assert errors(doc(body)) == [("duplicate-id", 8, 9)]


def test_a_duplicate_yaml_key_is_an_error_not_a_silent_override() -> None:
    assert errors(doc("rules:\n  - id: r\n    match: {tool: t}\n    effect: deny\n"
                      "    effect: permit\n")) == [("duplicate-key", 8, 5)]


def test_a_nul_byte_in_a_tool_pattern_is_an_error() -> None:
    assert errors(doc('rules:\n  - id: r\n    match: {tool: "shell/\\0"}\n    effect: deny\n'
                      )) == [("nul-in-pattern", 6, 19)]


def test_invalid_yaml_is_reported_where_the_parser_stopped() -> None:
    assert errors(doc("rules:\n  - id: r\n   effect: deny\n")) == [("yaml-syntax", 6, 4)]
    assert errors(HEAD + "agent: \x07\n") == [("yaml-syntax", 4, 8)]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ("empty", 1, 1)),
    ("# only a comment\n", ("empty", 1, 1)),
    ("just text", ("type", 1, 1)),
    ("- a\n- b\n", ("type", 1, 1)),
    ('faramesh-version: "2.0"\n', ("unsupported-version", 1, 19)),
    ("agent-id: x\ndefault_effect: shadow\n", ("bad-default", 2, 17)),
    ("agent-id: x\ndefault_effect: halt\n", ("unknown-effect", 2, 17)),
    ("agent-id: !Ref x\n", ("unsupported-tag", 1, 11)),
    ("agent-id: x\n? [a]\n: 1\n", ("type", 2, 3)),
])
def test_a_document_that_is_not_a_policy_is_an_error(
        text: str, expected: tuple[str, int, int]) -> None:
    assert errors(text) == [expected]


@pytest.mark.parametrize(("body", "expected"), [
    ("rules:\n  - id: r\n    match: {tool: t}\n    effect: permit\n    modify_args: {a: 1}\n",
     ("effect-mismatch", 8, 18)),
    ("rules:\n  - id: r\n    match: {tool: t}\n    effect: modify\n", ("missing-key", 5, 5)),
    ("rules:\n  - id: r\n    match: {tool: t}\n    effect: step_up\n", ("missing-key", 5, 5)),
    ("rules:\n  - match: {tool: t}\n    effect: deny\n", ("missing-key", 5, 5)),
    ("rules:\n  - id: r\n    match: {tool: t}\n", ("missing-key", 5, 5)),
    ("rules:\n  - id: r\n    match: {tool: t}\n    effect: deny\n    step_up_level: 2\n",
     ("unsupported-key", 8, 5)),
])
def test_fields_that_belong_to_an_effect_are_checked_against_it(
        body: str, expected: tuple[str, int, int]) -> None:
    assert errors(doc(body)) == [expected]


def test_all_errors_are_collected_each_with_a_hint() -> None:
    found = diagnostics(doc("""\
        colour: red
        budget:
          max_calls: lots
        rules:
          - id: a
            match: {tool: t}
            effect: maybe
          - id: a
            match: {tool: t}
            effect: deny
        """))
    assert sorted((d.code, d.span.line) for d in found) == [
        ("duplicate-id", 11), ("type", 6), ("unknown-effect", 10), ("unknown-key", 4)]
    assert all(d.hint for d in found)
    assert all(d.message[:1].islower() or d.message[:1] == "`" for d in found)


@pytest.mark.parametrize(("text", "code"), [
    ("a: " + "[" * 5000, "too-deep"),
    (doc("rules:\n  - id: r\n    match: {tool: t, when: \"" + "(" * 400 + "x" + ")" * 400
         + "\"}\n    effect: deny\n"), "too-deep"),
    (doc("rules:\n  - id: r\n    match: {tool: t}\n    effect: modify\n"
         "    modify_args: {a: &a [*a]}\n"), "too-large"),
    (doc("rules:\n  - id: r\n    match: {tool: t}\n    effect: modify\n    modify_args:\n"
         "      l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n"
         + "".join(f"      l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n"
                   for i in range(1, 9))), "too-large"),
    (doc("budget: &b {<<: *b}\n"), "bad-merge"),
])
def test_hostile_nesting_and_anchors_end_in_an_error(text: str, code: str) -> None:
    assert code in [c for c, _, _ in errors(text)]


# --- never raises ------------------------------------------------------------------------


def _check_outcome(text: str) -> None:
    sink = DiagnosticSink("f.yaml", text)
    policy = lower_legacy_yaml(text, "f.yaml", sink)
    assert (policy is None) == bool(sink.items)
    lines = len(text.splitlines()) + 2
    for d in sink.items:
        assert d.code, d
        assert 1 <= d.span.line <= lines and d.span.column >= 1, d
    if policy is not None:
        Policy(policy)


SEEDS = [p.read_text() for p in LEGACY_FILES]
KEYS = ["faramesh-version", "agent-id", "default_effect", "tools", "rules", "budget", "id",
        "match", "tool", "when", "effect", "reason", "modify_args", "step_up_authority",
        "tags", "cost_usd", "max_calls", "session_usd", "on_exceed", "defer_priority", "critical",
        "criteria", "parallel_budget", "agents", "host", "<<"]
INSERTS = [*KEYS, ":", "- ", "\n", "  ", "'", '"', "&a", "*a", "{", "\t", "!!int"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["permit", "deny", "step_up", "shell/*", "amount > 1",
                                     "purpose('x')", "\x00", "*", "true", "1.0"]))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=25)


@pytest.mark.fuzz
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    _check_outcome(text)


@pytest.mark.fuzz
@given(st.dictionaries(st.sampled_from(KEYS), DOCUMENTS, max_size=6))
def test_documents_built_from_the_formats_own_keys_never_raise(data: dict[str, Any]) -> None:
    _check_outcome(yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.fuzz
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_corpus_files_never_raise(seed: str, data: st.DataObject) -> None:
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        size = data.draw(st.integers(1, 20))
        op = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if op == "delete":
            text = text[:at] + text[at + size:]
        elif op == "insert":
            text = text[:at] + data.draw(st.sampled_from(INSERTS)) + text[at:]
        else:
            text = text[:at] + text[at:at + size] * 2 + text[at + size:]
    _check_outcome(text)
