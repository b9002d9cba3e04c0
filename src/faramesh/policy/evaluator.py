"""The compiled evaluator: `Policy.evaluate(action) -> Decision`, pure and never raising.

Order of one evaluation (DESIGN.md section 3): canonicalize the tool name, resolve the
agent, check phase visibility, then a matching `deny!` wins wherever it stands, then the
first rule whose pattern matches and whose condition holds decides, else the default.
An undecided condition fails closed: a permit does not match, a deny or defer applies.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faramesh.car import canonical_tool
from faramesh.policy import ir
from faramesh.policy.conditions import CondFn, Unknown, compile_condition
from faramesh.policy.context import EMPTY, Context, parse_time
from faramesh.policy.decision import Code, Decision, Effect, TraceEntry
from faramesh.policy.index import CACHE_LIMIT, RuleIndex
from faramesh.policy.patterns import compile_pattern

# How each rule effect turns into a decision; "strict" effects apply when undecided.
_OUTCOME: dict[ir.RuleEffect, tuple[Effect, Code, bool]] = {
    ir.RuleEffect.PERMIT: (Effect.PERMIT, Code.RULE_PERMIT, False),
    ir.RuleEffect.MODIFY: (Effect.PERMIT, Code.MODIFIED, False),
    ir.RuleEffect.DENY: (Effect.DENY, Code.POLICY_DENY, True),
    ir.RuleEffect.DEFER: (Effect.DEFER, Code.POLICY_DEFER, True),
    ir.RuleEffect.STEP_UP: (Effect.DEFER, Code.STEP_UP_REQUIRED, True),
    ir.RuleEffect.SHADOW: (Effect.PERMIT, Code.SHADOW, True),
}
_DEFAULT: dict[ir.RuleEffect, tuple[Effect, Code]] = {
    ir.RuleEffect.PERMIT: (Effect.PERMIT, Code.DEFAULT_PERMIT),
    ir.RuleEffect.DENY: (Effect.DENY, Code.DEFAULT_DENY),
    ir.RuleEffect.DEFER: (Effect.DEFER, Code.DEFAULT_DEFER),
}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: ir.Rule
    condition: CondFn | None
    effect: Effect
    code: Code
    strict: bool  # applies when its condition is undecided
    ref: str
    label: str  # the rule's effect as written, for the trace
    reason: str


def _qualifier_condition(rule: ir.Rule) -> ir.Expr | None:
    """HTTP qualifiers (`host`, `method`, `path`) are extra equality tests on the action."""
    parts: list[ir.Expr] = [ir.Compare("==", ir.Var((name,)), ir.Lit(value))
                            for name, value in (("host", rule.host), ("method", rule.method),
                                                ("path", rule.path)) if value is not None]
    if rule.condition is not None:
        parts.append(rule.condition)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ir.And(tuple(parts))


def compile_rule(rule: ir.Rule) -> CompiledRule:
    effect, code, strict = _OUTCOME[rule.effect]
    if rule.mandatory:
        code = Code.MANDATORY_DENY
    cond = _qualifier_condition(rule)
    label = "deny!" if rule.mandatory else rule.effect.value
    reason = rule.reason or f"`{label} {rule.pattern}` matched"
    return CompiledRule(rule, compile_condition(cond) if cond is not None else None,
                        effect, code, strict, rule.origin.ref, label, reason)


class CompiledAgent:
    def __init__(self, agent: ir.Agent) -> None:
        self.agent = agent
        self.default_effect, self.default_code = _DEFAULT[agent.default]
        self.default_ref = agent.origin.ref
        rules = [compile_rule(r) for r in agent.rules]
        self._indexes: dict[str | None, RuleIndex[CompiledRule]] = {
            None: RuleIndex([(r.rule.pattern, r) for r in rules])}
        self.phases: dict[str, tuple[ir.Phase, Any]] = {}
        self.phase_exits = {p.next for p in agent.phases if p.next} - \
            {p.name for p in agent.phases}
        for phase in agent.phases:
            phase_rules = [compile_rule(r) for r in phase.rules]
            visible = [compile_pattern(p) for p in (*phase.tools,
                                                    *(r.pattern for r in phase.rules))]
            self.phases[phase.name] = (phase, visible)
            self._indexes[phase.name] = RuleIndex(
                [(r.rule.pattern, r) for r in (*phase_rules, *rules)])
        self.first_phase = agent.phases[0].name if agent.phases else None

    def candidates(self, phase: str | None, tool: str) -> tuple[CompiledRule, ...]:
        return self._indexes[phase].lookup(tool)


class Policy:
    """A compiled policy. Build with `faramesh.load_policy`; evaluate many times."""

    def __init__(self, policy_ir: ir.PolicyIR) -> None:
        self.ir = policy_ir
        self.agents = {a.agent_id: CompiledAgent(a) for a in policy_ir.agents}
        self._any = self.agents.get(ir.ANY_AGENT)
        self._names: dict[str, str | None] = {}
        self.version_hash = hashlib.sha256(repr(policy_ir).encode()).hexdigest()

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(self.agents)

    def evaluate(self, action: Mapping[str, Any]) -> Decision:
        """Decide one action. Pure: no I/O, never raises, same input -> same decision."""
        try:
            return self._evaluate(action)
        except Exception as exc:  # noqa: BLE001 - the edge of a pure function: fail closed
            return _refuse(Code.INVALID_ACTION, f"action could not be evaluated: {exc}")

    def _canonical(self, raw: str) -> str | None:
        name = self._names.get(raw, "")
        if name == "":
            name = canonical_tool(raw)
            if len(self._names) >= CACHE_LIMIT:
                self._names.clear()
            self._names[raw] = name
        return name

    def _evaluate(self, action: Mapping[str, Any]) -> Decision:
        if not isinstance(action, Mapping):
            return _refuse(Code.INVALID_ACTION, "action must be a mapping")
        raw_tool = action.get("tool")
        if not isinstance(raw_tool, str):
            return _refuse(Code.INVALID_ACTION, "action needs a `tool` string")
        tool = self._canonical(raw_tool)
        if not tool:
            return _refuse(Code.INVALID_ACTION, "tool name is empty or holds a NUL byte")
        agent_id = action.get("agent")
        compiled = self.agents.get(agent_id) if isinstance(agent_id, str) else None
        if compiled is None:
            compiled = self._any
            if compiled is None:
                return _refuse(Code.IDENTITY_UNRESOLVED,
                               f"agent `{agent_id}` is not declared by this policy",
                               agent_id=agent_id if isinstance(agent_id, str) else None,
                               tool=tool)
        agent_name = agent_id if isinstance(agent_id, str) else compiled.agent.agent_id
        ctx = _context(action, tool, agent_name)
        if isinstance(ctx, Decision):
            return ctx

        phase_name: str | None = None
        if compiled.first_phase is not None:
            active = ctx.session.get("phase") if isinstance(ctx.session, Mapping) else None
            active = active if isinstance(active, str) else compiled.first_phase
            entry = compiled.phases.get(active)
            if entry is not None:
                phase, visible = entry
                if not any(m(tool) for m in visible):
                    return Decision(Effect.DENY, Code.PHASE_DENY, phase.origin.ref,
                                    f"`{tool}` is not available in phase `{active}`",
                                    (TraceEntry(phase.origin.ref, "phase", active, "phase"),),
                                    agent_name, tool)
                phase_name = active
            elif active not in compiled.phase_exits:
                return Decision(Effect.DENY, Code.PHASE_DENY, compiled.default_ref,
                                f"phase `{active}` is not declared for this agent",
                                (), agent_name, tool)

        candidates = compiled.candidates(phase_name, tool)
        trace: list[TraceEntry] = []
        # A matching `deny!` wins whatever its position.
        for rule in candidates:
            if rule.rule.mandatory:
                r = True if rule.condition is None else rule.condition(ctx)
                if r is not False:
                    trace.append(_trace(rule, r))
                    return _decide(rule, ctx, trace, agent_name, tool)
        for rule in candidates:
            if rule.rule.mandatory:
                continue
            r = True if rule.condition is None else rule.condition(ctx)
            trace.append(_trace(rule, r))
            if r is True or (rule.strict and r is not False):
                return _decide(rule, ctx, trace, agent_name, tool)
        return Decision(compiled.default_effect, compiled.default_code, compiled.default_ref,
                        f"no rule matched `{tool}`; default {compiled.agent.default.value}",
                        tuple(trace), agent_name, tool)


def _trace(rule: CompiledRule, r: bool | Unknown) -> TraceEntry:
    if r is True:
        return TraceEntry(rule.ref, rule.label, rule.rule.pattern, "matched")
    if r is False:
        return TraceEntry(rule.ref, rule.label, rule.rule.pattern, "false")
    fields = r.fields if isinstance(r, Unknown) else ()
    return TraceEntry(rule.ref, rule.label, rule.rule.pattern, "undecided", fields)


def _decide(rule: CompiledRule, ctx: Context, trace: list[TraceEntry], agent: str,
            tool: str) -> Decision:
    src = rule.rule
    modified = None
    shadow_effect = shadow_code = None
    if src.effect is ir.RuleEffect.MODIFY:
        modified = _modified_args(ctx.args, src.modify_args)
    elif src.effect is ir.RuleEffect.SHADOW:
        shadow_effect, shadow_code = Effect.DENY, Code.POLICY_DENY
    return Decision(rule.effect, rule.code, rule.ref, rule.reason, tuple(trace), agent, tool,
                    src.reason_code, src.rule_id, src.notify, modified, src.authority,
                    shadow_effect, shadow_code)


def _modified_args(args: Mapping[str, Any], changes: tuple[tuple[str, Any], ...]
                   ) -> dict[str, Any]:
    """Apply `modify_args`: each dotted path is set to its value; a None value removes it."""
    out: dict[str, Any] = copy.deepcopy(dict(args))
    for path, value in changes:
        keys = path.removeprefix("args.").split(".")
        node = out
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = copy.deepcopy(value)
    return out


def _refuse(code: Code, reason: str, *, agent_id: str | None = None,
            tool: str | None = None) -> Decision:
    return Decision(Effect.DENY, code, None, reason, (), agent_id, tool)


def _mapping(action: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = action.get(key)
    if value is None:
        return EMPTY
    return value if isinstance(value, Mapping) else None


def _context(action: Mapping[str, Any], tool: str, agent: str) -> Context | Decision:
    parts = {}
    for key in ("args", "principal", "session", "selectors", "http"):
        value = _mapping(action, key)
        if value is None:
            return _refuse(Code.INVALID_ACTION, f"`{key}` must be a mapping",
                           agent_id=agent, tool=tool)
        parts[key] = value
    now = None
    if action.get("time") is not None:
        now = parse_time(action["time"])
        if now is None:
            return _refuse(Code.INVALID_ACTION, "`time` must be a datetime or ISO-8601 string",
                           agent_id=agent, tool=tool)
    model = action.get("model")
    return Context(tool=tool, agent=agent, args=parts["args"], principal=parts["principal"],
                   session=parts["session"], selectors=parts["selectors"], http=parts["http"],
                   model=model if isinstance(model, str) else None, now=now)
