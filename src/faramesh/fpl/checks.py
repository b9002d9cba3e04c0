"""Checks over the lowered IR that need the whole agent: the `deny!` invariant.

A `deny!` cannot be overridden. A permit, defer or other granting rule written after an
unconditional `deny!` (or anywhere in a phase), or a delegation scope, whose pattern lies
entirely within the `deny!` pattern is an attempted override and is rejected. A broader
rule that merely overlaps (`permit *`) is accepted: at run time a matching `deny!` wins
whatever its position.
"""

from __future__ import annotations

from faramesh.fpl.diagnostics import DiagnosticSink, Span
from faramesh.policy import ir
from faramesh.policy.patterns import pattern_within

_GRANTS = frozenset({ir.RuleEffect.PERMIT, ir.RuleEffect.DEFER, ir.RuleEffect.MODIFY,
                     ir.RuleEffect.STEP_UP, ir.RuleEffect.SHADOW})


def _span(o: ir.Origin) -> Span:
    return Span(o.file, o.line, max(o.column, 1))


def check_mandatory_denies(policy: ir.PolicyIR, sink: DiagnosticSink) -> None:
    for agent in policy.agents:
        denies: list[ir.Rule] = []
        for rule in agent.rules:
            if rule.mandatory and rule.condition is None and rule.host is None and \
                    rule.method is None and rule.path is None:
                denies.append(rule)
            elif rule.effect in _GRANTS:
                _report_override(rule, denies, sink)
        for phase in agent.phases:
            for rule in phase.rules:
                if rule.effect in _GRANTS:
                    _report_override(rule, [d for d in agent.rules if d in denies], sink,
                                     f" (in phase `{phase.name}`)")
        for delegation in agent.delegations:
            if not delegation.scope:
                continue
            scope = delegation.scope.split(":", 1)[0].strip().casefold()
            for deny in denies:
                if scope and pattern_within(scope, deny.pattern):
                    sink.error(_span(delegation.origin), "deny-override",
                               f"delegation scope `{scope}` lies within `deny! {deny.pattern}`",
                               f"the `deny!` at {deny.origin.ref} can never be lifted by a "
                               "delegation; narrow the scope or remove it")


def _report_override(rule: ir.Rule, denies: list[ir.Rule], sink: DiagnosticSink,
                     where: str = "") -> None:
    for deny in denies:
        if pattern_within(rule.pattern, deny.pattern):
            sink.error(_span(rule.origin), "deny-override",
                       f"`{rule.effect.value} {rule.pattern}`{where} tries to override "
                       f"`deny! {deny.pattern}`",
                       f"the `deny!` at {deny.origin.ref} always wins; remove this rule or "
                       "make the `deny!` narrower")
            return
