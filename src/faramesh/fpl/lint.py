"""`faramesh lint`: findings that compile but are almost certainly mistakes.

- unreachable-rule: an earlier unconditional rule (or any `deny!`, which is tried first)
  covers every tool this rule could match, so it can never decide;
- permit-overlaps-deny: an unconditional permit decides first for part of a later
  deny/defer's tools;
- undeclared-tool: the agent declares its tools, and this pattern matches none of them;
- constant-condition: a condition (or part of one) made only of literals;
- permissive-default: `default permit` lets every tool nobody thought of run.
"""

from __future__ import annotations

from collections.abc import Iterable

from faramesh.fpl.diagnostics import Diagnostic, Span
from faramesh.fpl.expressions import format_expr
from faramesh.policy import ir
from faramesh.policy.patterns import matches, pattern_within, patterns_overlap

_BLOCKING = (ir.RuleEffect.DENY, ir.RuleEffect.DEFER, ir.RuleEffect.STEP_UP)


def _span(o: ir.Origin) -> Span:
    return Span(o.file, o.line, max(o.column, 1))


def _finding(o: ir.Origin, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(_span(o), code, message, hint, severity="warning")


def _unconditional(rule: ir.Rule) -> bool:
    return rule.condition is None and rule.host is None and rule.method is None \
        and rule.path is None


def _label(rule: ir.Rule) -> str:
    return f"`{'deny!' if rule.mandatory else rule.effect.value} {rule.pattern}`"


def lint_policy(policy: ir.PolicyIR) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for agent in policy.agents:
        out += _lint_order(agent.rules)
        for phase in agent.phases:
            out += [f for f in _lint_order((*phase.rules, *agent.rules))
                    if any(f.span.line == r.origin.line and f.span.file == r.origin.file
                           for r in phase.rules)]
        out += _lint_declared_tools(agent)
        for rule in (*agent.rules, *(r for p in agent.phases for r in p.rules)):
            if rule.condition is not None:
                out += _lint_constants(rule, rule.condition)
        if agent.default is ir.RuleEffect.PERMIT:
            out.append(_finding(agent.origin, "permissive-default",
                                f"agent `{agent.agent_id}` permits every tool no rule names",
                                "prefer `default deny` and permit what the agent needs"))
    unique = {(d.span.file, d.span.line, d.span.column, d.code, d.message): d for d in out}
    return sorted(unique.values(), key=lambda d: d.sort_key)


def _lint_order(rules: Iterable[ir.Rule]) -> list[Diagnostic]:
    rules = list(rules)
    ordered = [r for r in rules if r.mandatory] + [r for r in rules if not r.mandatory]
    out = []
    for i, rule in enumerate(ordered):
        for earlier in ordered[:i]:
            if _unconditional(earlier) and pattern_within(rule.pattern, earlier.pattern):
                out.append(_finding(rule.origin, "unreachable-rule",
                                    f"{_label(rule)} can never decide",
                                    f"{_label(earlier)} at {earlier.origin.ref} always "
                                    "decides first; remove or reorder"))
                break
        else:
            if rule.effect in _BLOCKING and not rule.mandatory:
                for earlier in ordered[:i]:
                    if earlier.effect is ir.RuleEffect.PERMIT and _unconditional(earlier) \
                            and patterns_overlap(rule.pattern, earlier.pattern):
                        out.append(_finding(
                            rule.origin, "permit-overlaps-deny",
                            f"{_label(earlier)} at {earlier.origin.ref} decides first for "
                            f"some tools {_label(rule)} names",
                            "move the deny above the permit, or use `deny!`"))
                        break
    return out


def _lint_declared_tools(agent: ir.Agent) -> list[Diagnostic]:
    if not agent.tools:
        return []
    names = [t.name for t in agent.tools]
    out = []
    for rule in (*agent.rules, *(r for p in agent.phases for r in p.rules)):
        if not any(matches(rule.pattern, n) for n in names):
            out.append(_finding(rule.origin, "undeclared-tool",
                                f"`{rule.pattern}` matches none of the agent's declared tools",
                                "check the spelling, or declare the tool"))
    return out


def _has_inputs(expr: ir.Expr) -> bool:
    return ir.any_node(expr, lambda node: isinstance(node, ir.Var | ir.Call))


def _lint_constants(rule: ir.Rule, expr: ir.Expr) -> list[Diagnostic]:
    if not _has_inputs(expr):
        return [_finding(rule.origin, "constant-condition",
                         f"`{format_expr(expr)}` in {_label(rule)} does not depend on the "
                         "action", "it is always the same; simplify the rule")]
    children: tuple[ir.Expr, ...] = ()
    if isinstance(expr, ir.And | ir.Or):
        children = expr.items
    elif isinstance(expr, ir.Not):
        children = (expr.item,)
    out: list[Diagnostic] = []
    for child in children:
        out += _lint_constants(rule, child)
    return out
