"""`Policy.evaluate`: first match, `deny!`, fail-closed conditions, phases, identities,
the decision's codes and trace, and malformed actions (refused, never raised)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from faramesh.policy import ir
from faramesh.policy.decision import Code, Decision, Effect
from faramesh.policy.evaluator import Policy
from faramesh.policy.values import Money

P, D, F = ir.RuleEffect.PERMIT, ir.RuleEffect.DENY, ir.RuleEffect.DEFER
_lines = itertools.count(1)


def rule(effect: ir.RuleEffect, pattern: str, condition: ir.Expr | None = None,
         **fields: Any) -> ir.Rule:
    return ir.Rule(effect, pattern, condition, origin=ir.Origin("p.fpl", next(_lines)),
                   **fields)


def deny_bang(pattern: str, condition: ir.Expr | None = None) -> ir.Rule:
    return rule(D, pattern, condition, mandatory=True)


def agent(*rules: ir.Rule, agent_id: str = "bot", default: ir.RuleEffect = D,
          phases: tuple[ir.Phase, ...] = ()) -> ir.Agent:
    return ir.Agent(agent_id, default, rules, phases, origin=ir.Origin("p.fpl", 1000))


def policy(*rules: ir.Rule, **kwargs: Any) -> Policy:
    return Policy(ir.PolicyIR((agent(*rules, **kwargs),)))


def act(tool: str, agent_id: str | None = "bot", **args: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"tool": tool, "args": args}
    if agent_id is not None:
        action["agent"] = agent_id
    return action


def amount_over(limit: int) -> ir.Compare:
    return ir.Compare(">", ir.Var(("args", "amount")), ir.Lit(Money(Decimal(limit))))


def amount_upto(limit: int) -> ir.Compare:
    return ir.Compare("<=", ir.Var(("args", "amount")), ir.Lit(Money(Decimal(limit))))


def ref_of(p: Policy, index: int) -> str:
    return p.ir.agents[0].rules[index].origin.ref


# --- first match, defaults, codes ----------------------------------------------------

def test_the_first_matching_rule_decides() -> None:
    p = policy(rule(P, "stripe/refund"), rule(D, "stripe/*"))
    d = p.evaluate(act("stripe/refund"))
    assert (d.effect, d.code, d.rule_ref) == (Effect.PERMIT, Code.RULE_PERMIT, ref_of(p, 0))
    d = p.evaluate(act("stripe/charge"))
    assert (d.effect, d.code, d.rule_ref) == (Effect.DENY, Code.POLICY_DENY, ref_of(p, 1))


def test_a_false_condition_passes_to_the_next_rule() -> None:
    p = policy(rule(P, "stripe/refund", amount_upto(100)), rule(F, "stripe/refund"))
    assert p.evaluate(act("stripe/refund", amount=50)).effect is Effect.PERMIT
    d = p.evaluate(act("stripe/refund", amount=500))
    assert (d.effect, d.code, d.rule_ref) == (Effect.DEFER, Code.POLICY_DEFER, ref_of(p, 1))


@pytest.mark.parametrize(("default", "effect", "code"), [
    (P, Effect.PERMIT, Code.DEFAULT_PERMIT),
    (D, Effect.DENY, Code.DEFAULT_DENY),
    (F, Effect.DEFER, Code.DEFAULT_DEFER),
])
def test_no_match_takes_the_agent_default(default: ir.RuleEffect, effect: Effect,
                                          code: Code) -> None:
    d = policy(rule(P, "stripe/refund"), default=default).evaluate(act("fs/read"))
    assert (d.effect, d.code, d.rule_ref, d.trace) == (effect, code, "p.fpl:1000", ())


def test_decisions_carry_agent_tool_and_the_rule_s_own_fields() -> None:
    p = policy(rule(D, "fs/*", reason="no files", reason_code="FS_OFF", rule_id="r1",
                    notify="#sec"))
    d = p.evaluate(act("FS/Write"))
    assert (d.agent_id, d.tool, d.reason, d.reason_code, d.rule_id, d.notify) == \
        ("bot", "fs/write", "no files", "FS_OFF", "r1", "#sec")
    assert d.to_dict()["reason_code"] == "FS_OFF"


def test_a_rule_without_a_reason_says_what_matched() -> None:
    assert "fs/*" in policy(rule(D, "fs/*")).evaluate(act("fs/x")).reason


# --- fail closed ---------------------------------------------------------------------

def test_missing_amount_cannot_skip_a_deny() -> None:
    p = policy(rule(D, "stripe/refund", amount_over(100)), rule(P, "stripe/refund"))
    d = p.evaluate(act("stripe/refund"))
    assert (d.effect, d.code, d.rule_ref) == (Effect.DENY, Code.POLICY_DENY, ref_of(p, 0))
    assert d.trace[0].outcome == "undecided"
    assert d.trace[0].undecided == ("args.amount",)


def test_missing_amount_cannot_skip_a_defer() -> None:
    p = policy(rule(F, "stripe/refund", amount_over(100)), rule(P, "stripe/refund"))
    assert p.evaluate(act("stripe/refund")).code is Code.POLICY_DEFER


def test_missing_amount_does_not_satisfy_a_permit() -> None:
    p = policy(rule(P, "stripe/refund", amount_upto(100)), default=D)
    d = p.evaluate(act("stripe/refund"))
    assert (d.effect, d.code) == (Effect.DENY, Code.DEFAULT_DENY)
    assert [(t.outcome, t.undecided) for t in d.trace] == [("undecided", ("args.amount",))]


def test_a_wrongly_typed_amount_cannot_skip_a_deny() -> None:
    p = policy(rule(D, "stripe/refund", amount_over(100)), rule(P, "stripe/refund"))
    for amount in ("1000", True, [1000], {"v": 1000}, None, Money(Decimal(5), "EUR")):
        assert p.evaluate(act("stripe/refund", amount=amount)).effect is Effect.DENY, amount


@pytest.mark.parametrize("amount", [math.nan, math.inf, -math.inf, Decimal("NaN"),
                                    Decimal("-Infinity")])
def test_nan_and_infinite_amounts_never_skip_a_deny(amount: object) -> None:
    p = policy(rule(D, "stripe/refund", amount_over(100)), rule(P, "stripe/refund"))
    assert p.evaluate(act("stripe/refund", amount=amount)).code is Code.POLICY_DENY
    only_permit = policy(rule(P, "stripe/refund", amount_upto(100)))
    assert only_permit.evaluate(act("stripe/refund", amount=amount)).effect is Effect.DENY


def test_not_of_a_missing_field_stays_undecided() -> None:
    p = policy(rule(P, "x/y", ir.Not(amount_over(100))))
    assert p.evaluate(act("x/y")).code is Code.DEFAULT_DENY
    assert p.evaluate(act("x/y", amount=5)).code is Code.RULE_PERMIT


def test_an_or_with_one_true_side_decides_despite_a_missing_field() -> None:
    either = ir.Or((amount_upto(100), ir.Compare("==", ir.Var(("principal", "role")),
                                                 ir.Lit("admin"))))
    p = policy(rule(P, "x/y", either))
    assert p.evaluate({**act("x/y"), "principal": {"role": "admin"}}).code is Code.RULE_PERMIT
    assert p.evaluate(act("x/y")).code is Code.DEFAULT_DENY


def test_existence_guards_a_permit() -> None:
    has_ticket = ir.Compare("!=", ir.Var(("args", "ticket")), ir.Lit(None))
    p = policy(rule(P, "deploy/*", has_ticket))
    assert p.evaluate(act("deploy/prod", ticket="T-1")).effect is Effect.PERMIT
    d = p.evaluate(act("deploy/prod"))
    assert d.effect is Effect.DENY and d.trace[0].outcome == "false"


# --- deny! ---------------------------------------------------------------------------

def test_a_mandatory_deny_wins_whatever_its_position() -> None:
    p = policy(rule(P, "*"), rule(P, "shell/ls"), deny_bang("shell/*"))
    d = p.evaluate(act("shell/ls"))
    assert (d.effect, d.code, d.rule_ref) == (Effect.DENY, Code.MANDATORY_DENY, ref_of(p, 2))
    assert [t.effect for t in d.trace] == ["deny!"]
    assert p.evaluate(act("fs/read")).code is Code.RULE_PERMIT


def test_a_mandatory_deny_with_a_false_condition_lets_rules_decide() -> None:
    p = policy(rule(P, "pay/*"), deny_bang("pay/*", amount_over(1000)))
    assert p.evaluate(act("pay/x", amount=5)).code is Code.RULE_PERMIT
    assert p.evaluate(act("pay/x", amount=5000)).code is Code.MANDATORY_DENY
    assert p.evaluate(act("pay/x")).code is Code.MANDATORY_DENY  # undecided applies


def test_the_first_matching_mandatory_deny_is_the_one_reported() -> None:
    p = policy(rule(P, "*"), deny_bang("a/*", amount_over(10)), deny_bang("a/b"))
    assert p.evaluate(act("a/b", amount=50)).rule_ref == ref_of(p, 1)
    assert p.evaluate(act("a/b", amount=5)).rule_ref == ref_of(p, 2)


@pytest.mark.parametrize("spelling", ["SHELL/exec", " shell//exec", "sh\u0435ll/exec",
                                      "./shell/exec", "ｓｈｅｌｌ/ｅｘｅｃ", "sh\u200bell/exec"])
def test_no_spelling_of_a_tool_slips_past_a_mandatory_deny(spelling: str) -> None:
    p = policy(rule(P, "*"), deny_bang("shell/*"))
    d = p.evaluate(act(spelling))
    assert (d.code, d.tool) == (Code.MANDATORY_DENY, "shell/exec")


def test_patterns_written_in_another_case_are_canonicalized() -> None:
    p = policy(rule(P, "*"), deny_bang("Shell/*"))
    assert p.evaluate(act("shell/exec")).code is Code.MANDATORY_DENY


# --- identities ----------------------------------------------------------------------

def test_an_unknown_agent_is_unresolved() -> None:
    p = policy(rule(P, "*"))
    for agent_id in ("intruder", None, 7):
        d = p.evaluate(act("fs/read", agent_id=agent_id))
        assert (d.effect, d.code, d.rule_ref, d.trace) == \
            (Effect.DENY, Code.IDENTITY_UNRESOLVED, None, ())


def test_agents_have_their_own_rules() -> None:
    p = Policy(ir.PolicyIR((agent(rule(P, "*"), agent_id="ops"),
                            agent(rule(D, "*"), agent_id="reader"))))
    assert p.evaluate(act("x", agent_id="ops")).effect is Effect.PERMIT
    assert p.evaluate(act("x", agent_id="reader")).effect is Effect.DENY
    assert p.agent_ids == ("ops", "reader")


def test_flat_rules_catch_every_agent() -> None:
    p = Policy(ir.PolicyIR((agent(rule(P, "fs/*"), agent_id="ops", default=D),
                            agent(rule(D, "fs/*"), agent_id=ir.ANY_AGENT, default=P))))
    assert p.evaluate(act("fs/read", agent_id="ops")).effect is Effect.PERMIT
    d = p.evaluate(act("fs/read", agent_id="someone"))
    assert (d.effect, d.agent_id) == (Effect.DENY, "someone")
    d = p.evaluate(act("other", agent_id="someone-else"))
    assert (d.code, d.agent_id) == (Code.DEFAULT_PERMIT, "someone-else")
    assert p.evaluate(act("other", agent_id=None)).agent_id == ir.ANY_AGENT


# --- phases --------------------------------------------------------------------------

def phased(*phases: ir.Phase, rules: tuple[ir.Rule, ...] = ()) -> Policy:
    return Policy(ir.PolicyIR((agent(*rules, phases=phases, default=P),)))


def in_phase(tool: str, phase: str | None, **args: Any) -> dict[str, Any]:
    action = act(tool, **args)
    if phase is not None:
        action["session"] = {"phase": phase}
    return action


def test_a_tool_outside_the_active_phase_is_denied_before_rules() -> None:
    p = phased(ir.Phase("explore", ("fs/read", "search/*"), next="build",
                        origin=ir.Origin("p.fpl", 50)),
               ir.Phase("build", ("fs/*",)), rules=(rule(P, "*"),))
    d = p.evaluate(in_phase("fs/write", "explore"))
    assert (d.effect, d.code, d.rule_ref) == (Effect.DENY, Code.PHASE_DENY, "p.fpl:50")
    assert d.trace[0].outcome == "phase"
    assert p.evaluate(in_phase("fs/read", "explore")).code is Code.RULE_PERMIT
    assert p.evaluate(in_phase("fs/write", "build")).code is Code.RULE_PERMIT
    # without a phase in the session, the first phase is active
    assert p.evaluate(in_phase("fs/write", None)).code is Code.PHASE_DENY


def test_phase_rules_come_before_the_agent_s_rules() -> None:
    p = phased(ir.Phase("review", rules=(rule(F, "pr/merge"),)), rules=(rule(P, "pr/*"),))
    assert p.evaluate(in_phase("pr/merge", "review")).code is Code.POLICY_DEFER
    # phase rules make their tools visible; others stay hidden
    assert p.evaluate(in_phase("pr/comment", "review")).code is Code.PHASE_DENY


def test_a_mandatory_deny_wins_over_phase_rules() -> None:
    p = phased(ir.Phase("ops", rules=(rule(P, "shell/*"),)), rules=(deny_bang("shell/rm"),))
    assert p.evaluate(in_phase("shell/rm", "ops")).code is Code.MANDATORY_DENY
    assert p.evaluate(in_phase("shell/ls", "ops")).code is Code.RULE_PERMIT


def test_next_to_an_undeclared_phase_lifts_the_restrictions() -> None:
    p = phased(ir.Phase("explore", ("fs/read",), next="done"), rules=(rule(D, "shell/*"),))
    assert p.evaluate(in_phase("net/fetch", "done")).code is Code.DEFAULT_PERMIT
    assert p.evaluate(in_phase("shell/x", "done")).code is Code.POLICY_DENY


def test_an_unknown_phase_name_is_denied() -> None:
    p = phased(ir.Phase("explore", ("fs/read",), next="done"), rules=(rule(P, "*"),))
    d = p.evaluate(in_phase("fs/read", "hacking"))
    assert (d.effect, d.code) == (Effect.DENY, Code.PHASE_DENY)


# --- shadow, modify, step_up ---------------------------------------------------------

def test_shadow_permits_and_reports_what_enforcing_would_do() -> None:
    p = policy(rule(ir.RuleEffect.SHADOW, "db/drop"))
    d = p.evaluate(act("db/drop"))
    assert (d.effect, d.code, d.shadow_effect, d.shadow_code) == \
        (Effect.PERMIT, Code.SHADOW, Effect.DENY, Code.POLICY_DENY)
    assert d.to_dict()["shadow_effect"] == "DENY"


def test_an_undecided_shadow_still_reports() -> None:
    p = policy(rule(ir.RuleEffect.SHADOW, "db/drop", amount_over(1)))
    assert p.evaluate(act("db/drop")).code is Code.SHADOW


def test_modify_permits_with_rewritten_arguments() -> None:
    p = policy(rule(ir.RuleEffect.MODIFY, "mail/send",
                    modify_args=(("args.bcc", None), ("args.headers.x-audit", "1"),
                                 ("to", ["a@b.c"]))))
    original = {"bcc": "spy@x", "headers": {"subject": "hi"}, "to": ["z@z"]}
    d = p.evaluate(act("mail/send", **original))
    assert (d.effect, d.code) == (Effect.PERMIT, Code.MODIFIED)
    assert d.modified_args == {"headers": {"subject": "hi", "x-audit": "1"}, "to": ["a@b.c"]}
    assert original == {"bcc": "spy@x", "headers": {"subject": "hi"}, "to": ["z@z"]}
    d2 = p.evaluate(act("mail/send"))
    assert d2.modified_args == {"headers": {"x-audit": "1"}, "to": ["a@b.c"]}
    assert d2.modified_args is not d.modified_args


def test_an_undecided_modify_does_not_apply() -> None:
    p = policy(rule(ir.RuleEffect.MODIFY, "mail/send", amount_upto(5),
                    modify_args=(("x", 1),)))
    assert p.evaluate(act("mail/send")).code is Code.DEFAULT_DENY


def test_step_up_defers_to_the_named_authority() -> None:
    p = policy(rule(ir.RuleEffect.STEP_UP, "iam/*", authority="security-team"))
    d = p.evaluate(act("iam/grant"))
    assert (d.effect, d.code, d.authority) == \
        (Effect.DEFER, Code.STEP_UP_REQUIRED, "security-team")
    p2 = policy(rule(ir.RuleEffect.STEP_UP, "iam/*", amount_over(1)))
    assert p2.evaluate(act("iam/grant")).code is Code.STEP_UP_REQUIRED  # undecided applies


# --- HTTP qualifiers -----------------------------------------------------------------

def test_http_qualifiers_are_equality_tests() -> None:
    p = policy(rule(P, "http/*", host="api.example.com", method="GET"))
    ok = {**act("http/get"), "http": {"host": "api.example.com", "method": "GET"}}
    assert p.evaluate(ok).code is Code.RULE_PERMIT
    bad = {**act("http/get"), "http": {"host": "evil.example.com", "method": "GET"}}
    assert p.evaluate(bad).code is Code.DEFAULT_DENY


# --- the trace -----------------------------------------------------------------------

def test_the_trace_lists_every_rule_considered_in_order() -> None:
    p = policy(rule(P, "pay/*", amount_upto(10)),
               rule(P, "pay/*", ir.Compare("==", ir.Var(("args", "ok")), ir.Lit(True))),
               rule(P, "other/*"),
               rule(D, "pay/*", ir.Compare("==", ir.Var(("args", "cur")), ir.Lit("EUR"))))
    d = p.evaluate(act("pay/x", amount=50))
    assert [(t.rule_ref, t.outcome, t.undecided) for t in d.trace] == [
        (ref_of(p, 0), "false", ()),
        (ref_of(p, 1), "undecided", ("args.ok",)),
        (ref_of(p, 3), "undecided", ("args.cur",)),
    ]
    assert d.rule_ref == ref_of(p, 3)
    assert d.to_dict()["trace"][1] == {"rule_ref": ref_of(p, 1), "effect": "permit",
                                       "pattern": "pay/*", "outcome": "undecided",
                                       "undecided": ["args.ok"]}


# --- malformed actions ---------------------------------------------------------------

NOT_A_MAPPING: list[Any] = [None, "tool", 5, ["tool"], ("x",)]


@pytest.mark.parametrize("action", NOT_A_MAPPING)
def test_an_action_that_is_not_a_mapping_is_invalid(action: Any) -> None:
    d = policy(rule(P, "*")).evaluate(action)
    assert (d.effect, d.code) == (Effect.DENY, Code.INVALID_ACTION)


@pytest.mark.parametrize("action", [
    {"agent": "bot"},
    {"agent": "bot", "tool": 5},
    {"agent": "bot", "tool": b"fs/read"},
    {"agent": "bot", "tool": ["fs/read"]},
    {"agent": "bot", "tool": "fs\x00/read"},
    {"agent": "bot", "tool": ""},
    {"agent": "bot", "tool": " / "},
    {"agent": "bot", "tool": "fs/read", "args": ["a"]},
    {"agent": "bot", "tool": "fs/read", "args": "a=1"},
    {"agent": "bot", "tool": "fs/read", "session": 5},
    {"agent": "bot", "tool": "fs/read", "principal": "root"},
    {"agent": "bot", "tool": "fs/read", "selectors": [1]},
    {"agent": "bot", "tool": "fs/read", "http": "GET /"},
    {"agent": "bot", "tool": "fs/read", "time": "yesterday"},
    {"agent": "bot", "tool": "fs/read", "time": math.nan},
    {"agent": "bot", "tool": "fs/read", "time": 1e300},
    {"agent": "bot", "tool": "fs/read", "time": True},
    {"agent": "bot", "tool": "fs/read", "time": [2026]},
])
def test_malformed_actions_are_invalid_even_when_no_condition_reads_them(
        action: dict[str, Any]) -> None:
    d = policy(rule(P, "*")).evaluate(action)
    assert (d.effect, d.code, d.rule_ref) == (Effect.DENY, Code.INVALID_ACTION, None)


class ExplodingMapping(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("boom")


def test_an_action_that_raises_is_refused_not_raised() -> None:
    d = policy(rule(P, "*")).evaluate(ExplodingMapping(tool="x"))
    assert (d.effect, d.code) == (Effect.DENY, Code.INVALID_ACTION)


def test_times_in_every_accepted_form_are_read() -> None:
    at_night = ir.Compare(">=", ir.Var(("time", "hour")), ir.Lit(22))
    p = policy(rule(D, "*", at_night), rule(P, "*"))
    for when in ("2026-01-05T23:00:00Z", "2026-01-05T23:00:00+00:00",
                 datetime(2026, 1, 5, 23, tzinfo=UTC), datetime(2026, 1, 5, 23),
                 "2026-01-06T01:00:00+02:00", 1767654000):
        assert p.evaluate({**act("x"), "time": when}).code is Code.POLICY_DENY, when
    assert p.evaluate({**act("x"), "time": "2026-01-05T09:00:00Z"}).code is Code.RULE_PERMIT


def test_a_model_that_is_not_text_is_treated_as_missing() -> None:
    p = policy(rule(D, "*", ir.Compare("==", ir.Var(("model",)), ir.Lit("gpt-x"))),
               rule(P, "*"))
    assert p.evaluate({**act("x"), "model": 5}).code is Code.POLICY_DENY  # undecided
    assert p.evaluate({**act("x"), "model": "other"}).code is Code.RULE_PERMIT


# --- purity --------------------------------------------------------------------------

def test_the_same_action_gets_the_same_decision_every_time() -> None:
    p = policy(rule(P, "pay/*", amount_upto(10)), deny_bang("pay/admin"), rule(P, "fs/*"))
    actions = [act("pay/x", amount=5), act("pay/x"), act("pay/admin"), act("fs/r"),
               act("nope"), act("pay/x", agent_id="zzz")]
    first = [p.evaluate(a) for a in actions]
    for _ in range(3):
        assert [p.evaluate(a) for a in actions] == first


def test_many_distinct_tool_names_do_not_grow_the_caches_without_bound() -> None:
    p = policy(rule(P, "t/*"))
    for i in range(20_000):
        assert p.evaluate(act(f"t/{i}")).effect is Effect.PERMIT
    compiled = p.agents["bot"]
    assert len(p._names) <= 8192
    assert all(len(plans) <= 8192 for plans in compiled._plans.values())


def test_decisions_are_decision_records() -> None:
    d = policy(rule(P, "*")).evaluate(act("x"))
    assert isinstance(d, Decision)
    assert d._fields[-1] == "shadow_code" and len(d) == len(d._fields)


def test_json_float_argument_equals_the_decimal_it_was_written_as() -> None:
    from faramesh.fpl.compiler import compile_fpl

    policy = Policy(compile_fpl('agent "a" {\n rules {\n  permit x if amount == 0.1\n'
                                '  permit y if amount <= $0.10\n  permit z if amount in [0.3]\n'
                                ' }\n}\n', "f.fms"))
    for tool, amount in (("x", 0.1), ("y", 0.1), ("z", 0.1 + 0.2 - 0.0000000000000000555)):
        decision = policy.evaluate({"agent": "a", "tool": tool, "args": {"amount": amount}})
        assert decision.effect == "PERMIT", (tool, decision.trace)


def test_http_qualifiers_are_globs_case_insensitive_for_host_and_method() -> None:
    from faramesh.fpl.compiler import compile_fpl

    policy = Policy(compile_fpl('agent "a" {\n rules {\n  permit api/get host "*.example.com" '
                                'method "get" path "/v1/**"\n }\n}\n', "f.fms"))
    base = {"agent": "a", "tool": "api/get"}
    ok = {**base, "http": {"host": "API.Example.com", "method": "GET", "path": "/v1/a/b"}}
    assert policy.evaluate(ok).effect == "PERMIT"
    for http in ({"host": "evil.com", "method": "GET", "path": "/v1/a"},
                 {"host": "a.b.example.com", "method": "GET", "path": "/v1/a"},
                 {"host": "x.example.com", "method": "POST", "path": "/v1/a"},
                 {"host": "x.example.com", "method": "GET", "path": "/v2/a"},
                 {"method": "GET", "path": "/v1/a"}):
        assert policy.evaluate({**base, "http": http}).effect == "DENY", http


def test_tool_with_a_field_path_is_undecided_not_the_tool_name() -> None:
    from faramesh.fpl.compiler import compile_fpl

    policy = Policy(compile_fpl('agent "a" {\n default permit\n rules {\n'
                                '  deny x if tool.tags == "x"\n  permit x if tool.tags == "x"\n'
                                ' }\n}\n', "f.fms"))
    decision = policy.evaluate({"agent": "a", "tool": "x"})
    assert decision.code == "POLICY_DENY"
    assert decision.trace[0].undecided == ("tool.tags",)
