"""The compiled evaluator: `Policy.evaluate(action) -> Decision`, pure and never raising.

Order of one evaluation (DESIGN.md section 3): canonicalize the tool name, resolve the
agent, check phase visibility, then a matching `deny!` wins wherever it stands, then the
first rule whose pattern matches and whose condition holds decides, else the default.
An undecided condition fails closed: a permit does not match, a deny or defer applies.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from faramesh.car import canonical_pattern, canonical_tool
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


_new_decision = tuple.__new__  # Decision/TraceEntry without the keyword-parsing __new__
_UNSEEN = "\x00"  # never a canonical name: marks a name the cache has not seen


# The parts of an action that must be mappings when present, in the order unpacked below.
_MAPPING_PARTS = ("args", "session", "principal", "selectors", "http")


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
    # Precomputed parts of its decision and trace entries: the hot path only assembles.
    head: tuple[Any, ...]  # effect, code, rule_ref, reason
    tail: tuple[Any, ...]  # reason_code .. shadow_code
    matched: TraceEntry
    unmatched: TraceEntry  # the condition was false
    modify: bool

    def decision(self, trace: tuple[TraceEntry, ...], agent: str, tool: str,
                 ctx: Context | None) -> Decision:
        if self.modify and ctx is not None:
            src = self.rule
            return Decision(self.effect, self.code, self.ref, self.reason, trace, agent, tool,
                            src.reason_code, src.rule_id, src.notify,
                            _modified_args(ctx.args, src.modify_args), src.authority)
        return _new_decision(Decision, (*self.head, trace, agent, tool, *self.tail))

    def undecided(self, r: object) -> TraceEntry:
        fields = r.fields if isinstance(r, Unknown) else ()
        return _new_decision(TraceEntry, (self.ref, self.label, self.rule.pattern, "undecided",
                                          fields))


def _qualifier_regex(name: str, glob: str) -> str:
    """HTTP qualifiers are globs: host and method case-insensitive, `*` any run of
    characters (within one label for hosts, one segment for paths), `**` anything."""
    stop = "." if name == "host" else "/"
    out = ["(?is)^" if name in ("host", "method") else "(?s)^"]
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append(f"[^{re.escape(stop)}]*")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out) + "$"


def _qualifier_condition(rule: ir.Rule) -> ir.Expr | None:
    """HTTP qualifiers (`host`, `method`, `path`) are extra tests on the action's request."""
    parts: list[ir.Expr] = [
        ir.Compare("matches", ir.Var((name,)), ir.Lit(_qualifier_regex(name, value)))
        for name, value in (("host", rule.host), ("method", rule.method), ("path", rule.path))
        if value is not None]
    if rule.condition is not None:
        parts.append(rule.condition)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ir.And(tuple(parts))


def compile_rule(rule: ir.Rule) -> CompiledRule:
    effect, code, strict = _OUTCOME[rule.effect]
    if rule.mandatory:  # `deny!` denies, whatever else the record says
        effect, code, strict = Effect.DENY, Code.MANDATORY_DENY, True
    pattern = canonical_pattern(rule.pattern)
    if pattern != rule.pattern:
        rule = replace(rule, pattern=pattern)
    cond = _qualifier_condition(rule)
    label = "deny!" if rule.mandatory else rule.effect.value
    reason = rule.reason or f"`{label} {rule.pattern}` matched"
    ref = rule.origin.ref
    shadow = (Effect.DENY, Code.POLICY_DENY) if rule.effect is ir.RuleEffect.SHADOW and \
        not rule.mandatory else (None, None)
    return CompiledRule(
        rule, compile_condition(cond) if cond is not None else None, effect, code, strict,
        ref, label, reason, (effect, code, ref, reason),
        (rule.reason_code, rule.rule_id, rule.notify, None, rule.authority, *shadow),
        TraceEntry(ref, label, rule.pattern, "matched"),
        TraceEntry(ref, label, rule.pattern, "false"),
        rule.effect is ir.RuleEffect.MODIFY and not rule.mandatory)


class Plan:
    """Everything one tool name needs from one agent (and phase), computed once per name:
    its candidate rules split into `deny!` and the rest, and the decision itself when no
    condition can change it."""

    __slots__ = ("default", "mandatory", "ordinary", "static")

    def __init__(self, candidates: tuple[CompiledRule, ...], default: Decision) -> None:
        self.mandatory = tuple(r for r in candidates if r.rule.mandatory)
        self.ordinary = tuple(r for r in candidates if not r.rule.mandatory)
        self.default = default
        self.static: Decision | None = None
        first = self.mandatory[0] if self.mandatory else \
            self.ordinary[0] if self.ordinary else None
        if first is None:
            self.static = default
        elif first.condition is None and not first.modify:
            self.static = first.decision((first.matched,), default.agent_id or "",
                                         default.tool or "", None)


class CompiledAgent:
    def __init__(self, agent: ir.Agent) -> None:
        self.agent = agent
        self.default_effect, self.default_code = _DEFAULT[agent.default]
        self.default_ref = agent.origin.ref
        rules = [compile_rule(r) for r in agent.rules]
        self._indexes: dict[str | None, RuleIndex[CompiledRule]] = {
            None: RuleIndex([(r.rule.pattern, r) for r in rules])}
        self._plans: dict[str | None, dict[str, Plan]] = {None: {}}
        self.phases: dict[str, tuple[ir.Phase, Any]] = {}
        self.phase_exits = {p.next for p in agent.phases if p.next} - \
            {p.name for p in agent.phases}
        for phase in agent.phases:
            phase_rules = [compile_rule(r) for r in phase.rules]
            visible = [compile_pattern(canonical_pattern(p))
                       for p in (*phase.tools, *(r.pattern for r in phase.rules))]
            self.phases[phase.name] = (phase, visible)
            self._indexes[phase.name] = RuleIndex(
                [(r.rule.pattern, r) for r in (*phase_rules, *rules)])
            self._plans[phase.name] = {}
        self.first_phase = agent.phases[0].name if agent.phases else None

    def check_phase(self, phase: str | None, tool: str, agent_name: str) -> Decision | None:
        """The PHASE_DENY for `tool` in `phase` (None: the first phase), else None."""
        if self.first_phase is None:
            return None
        result = _phase_check(self, {"phase": phase} if phase else EMPTY, tool, agent_name)
        return result if isinstance(result, Decision) else None

    def candidates(self, phase: str | None, tool: str) -> tuple[CompiledRule, ...]:
        return self._indexes[phase].lookup(tool)

    def plan(self, phase: str | None, tool: str) -> Plan:
        plans = self._plans[phase]
        plan = plans.get(tool)
        if plan is None:
            default = Decision(self.default_effect, self.default_code, self.default_ref,
                               f"no rule matched `{tool}`; default {self.agent.default.value}",
                               (), self.agent.agent_id, tool)
            plan = Plan(self._indexes[phase].find(tool), default)
            if len(plans) >= CACHE_LIMIT:
                plans.clear()  # bounded: hostile tool names cannot grow memory
            plans[tool] = plan
        return plan


class Policy:
    """A compiled policy. Build with `faramesh.load_policy`; evaluate many times."""

    def __init__(self, policy_ir: ir.PolicyIR) -> None:
        self.ir = policy_ir
        self.agents = {a.agent_id: CompiledAgent(a) for a in policy_ir.agents}
        self._any = self.agents.get(ir.ANY_AGENT)
        self._names: dict[str, str | None] = {}
        self._version_hash: str | None = None

    @property
    def version_hash(self) -> str:
        """SHA-256 of the policy's canonical IR data (docs/ir-format.md), sorted keys:
        the same for every form of one policy, and the same after a JSON round trip."""
        if self._version_hash is None:
            from faramesh.fpl.ir_codec.writer import ir_to_data  # only the daemon asks

            data = json.dumps(ir_to_data(self.ir), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False)
            self._version_hash = hashlib.sha256(data.encode()).hexdigest()
        return self._version_hash

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(self.agents)

    def evaluate(self, action: Mapping[str, Any]) -> Decision:
        """Decide one action. Pure: no I/O, never raises, same input -> same decision."""
        try:
            return self._evaluate(action)
        except Exception as exc:  # the edge of a pure function: fail closed
            return _refuse(Code.INVALID_ACTION, f"action could not be evaluated: {exc}")

    def _canonical(self, raw: str) -> str | None:
        name = canonical_tool(raw)
        if len(self._names) >= CACHE_LIMIT:
            self._names.clear()
        self._names[raw] = name
        return name

    def _evaluate(self, action: Mapping[str, Any]) -> Decision:
        if action.__class__ is not dict and not isinstance(action, Mapping):
            return _refuse(Code.INVALID_ACTION, "action must be a mapping")
        get = action.get
        raw_tool = get("tool")
        if raw_tool.__class__ is not str and not isinstance(raw_tool, str):
            return _refuse(Code.INVALID_ACTION, "action needs a `tool` string")
        tool = self._names.get(raw_tool, _UNSEEN)
        if tool == _UNSEEN:
            tool = self._canonical(raw_tool)
        if not tool:
            return _refuse(Code.INVALID_ACTION, "tool name is empty or holds a NUL byte")
        agent_id = get("agent")
        compiled = self.agents.get(agent_id) if isinstance(agent_id, str) else None
        if compiled is None:
            compiled = self._any
            if compiled is None:
                return _refuse(Code.IDENTITY_UNRESOLVED,
                               f"agent `{agent_id}` is not declared by this policy",
                               agent_id=agent_id if isinstance(agent_id, str) else None,
                               tool=tool)
        agent_name: str = agent_id if isinstance(agent_id, str) else compiled.agent.agent_id

        # Validate the action's parts before any decision, static ones included.
        parts = []
        for key in _MAPPING_PARTS:
            value = get(key)
            if value is None:
                value = EMPTY
            elif value.__class__ is not dict and not isinstance(value, Mapping):
                return _refuse(Code.INVALID_ACTION, f"`{key}` must be a mapping",
                               agent_id=agent_name, tool=tool)
            parts.append(value)
        args, session, principal, selectors, http = parts
        now = get("time")
        if now is not None:
            now = parse_time(now)
            if now is None:
                return _refuse(Code.INVALID_ACTION,
                               "`time` must be a datetime or ISO-8601 string",
                               agent_id=agent_name, tool=tool)

        phase_name: str | None = None
        if compiled.first_phase is not None:
            phase = _phase_check(compiled, session, tool, agent_name)
            if isinstance(phase, Decision):
                return phase
            phase_name = phase

        plan = compiled._plans[phase_name].get(tool) or compiled.plan(phase_name, tool)
        static = plan.static
        if static is not None:
            if static[5] == agent_name:
                return static
            return _new_decision(Decision, (*static[:5], agent_name, *static[6:]))

        ctx = _new_context(Context)
        ctx.tool = tool
        ctx.agent = agent_name
        ctx.args = args
        ctx.session = session
        ctx.principal = principal
        ctx.selectors = selectors
        ctx.http = http
        model = get("model")
        ctx.model = model if isinstance(model, str) else None
        ctx._now = now

        # A matching `deny!` wins whatever its position.
        for rule in plan.mandatory:
            cond = rule.condition
            if cond is None:
                return rule.decision((rule.matched,), agent_name, tool, ctx)
            r = cond(ctx)
            if r is True:
                return rule.decision((rule.matched,), agent_name, tool, ctx)
            if r is not False:
                return rule.decision((rule.undecided(r),), agent_name, tool, ctx)
        trace: list[TraceEntry] = []
        for rule in plan.ordinary:
            cond = rule.condition
            r = True if cond is None else cond(ctx)
            if r is True:
                trace.append(rule.matched)
                return rule.decision(tuple(trace), agent_name, tool, ctx)
            if r is False:
                trace.append(rule.unmatched)
                continue
            trace.append(rule.undecided(r))
            if rule.strict:
                return rule.decision(tuple(trace), agent_name, tool, ctx)
        default = plan.default
        return _new_decision(Decision, (*default[:4], tuple(trace), agent_name,
                                        *default[6:]))


def _phase_check(compiled: CompiledAgent, session: Mapping[str, Any], tool: str,
                 agent_name: str) -> Decision | str | None:
    """The active phase's name (None when restrictions are lifted), or its PHASE_DENY."""
    active = session.get("phase")
    active = active if isinstance(active, str) else compiled.first_phase
    entry = compiled.phases.get(active) if active is not None else None
    if entry is not None:
        phase, visible = entry
        if not any(m(tool) for m in visible):
            return Decision(Effect.DENY, Code.PHASE_DENY, phase.origin.ref,
                            f"`{tool}` is not available in phase `{active}`",
                            (TraceEntry(phase.origin.ref, "phase", active or "", "phase"),),
                            agent_name, tool)
        return phase.name
    if active not in compiled.phase_exits:
        return Decision(Effect.DENY, Code.PHASE_DENY, compiled.default_ref,
                        f"phase `{active}` is not declared for this agent",
                        (), agent_name, tool)
    return None  # a `next` phase this agent does not declare: its restrictions are over


_new_context = object.__new__


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
