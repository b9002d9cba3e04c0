"""`check_ir`: what FPL lowering checks on text, checked on the IR itself, for the forms
that arrive as IR (the YAML/JSON encodings). The block schemas of `faramesh.fpl.schema`
decide which blocks stand where, which fields they take and the type of each; rules,
budgets, rate limits and redactions need what FPL requires of them; ids are declared once.
Codes and messages are lowering's. FPL text is not run through it: lowering checks as it
goes, and the errors would be doubled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from decimal import Decimal
from typing import TypeVar

from faramesh.fpl import schema
from faramesh.fpl.diagnostics import DiagnosticSink, Span
from faramesh.fpl.lower import STANDARD_BUDGETS, TYPE_NAMES
from faramesh.policy import ir
from faramesh.policy.values import DataSize, Duration, Money

Locate = Callable[[object], Span]
R = TypeVar("R")
At = tuple[object, object]  # what `locate` is given, and the record whose origin is the default
Entry = tuple[object, str, object]  # what `locate` is given, the key, the value

# Agent-level FPL blocks that the IR keeps as records of their own, and under which key.
RECORD_BLOCKS = {"rules": "rules", "budget": "budgets", "phase": "phases",
                 "delegate": "delegations", "tool": "tools"}
TOP_LEVEL = (schema.TOP_BLOCKS - {"agent"}) | {"manifest"}
AGENT_LEVEL = schema.AGENT_BLOCKS - RECORD_BLOCKS.keys()
# `manifest` lines lower to blocks with fixed fields, one set per verb (lower_manifest).
MANIFESTS = {
    "orchestrator": schema.BlockSchema({"verb": schema.WORD, "orchestrator": schema.WORD,
                                        "undeclared": schema.WORD}, named=False),
    "grant": schema.BlockSchema({"verb": schema.WORD, "orchestrator": schema.WORD,
                                 "target": schema.WORD, "max": schema.INT,
                                 "approval": schema.BOOL}, named=False),
}
ENUMS = {**schema.ENUMS, ("manifest", "undeclared"): ("deny", "defer")}
EFFECT_NAMES = tuple(e.value for e in ir.DEFAULT_EFFECTS)
# A rule's text clauses and the type lowering gives each (lower_rule).
RULE_CLAUSES = (("reason", "reason", schema.STRING), ("reason_code", "reason_code", schema.WORD),
                ("notify", "notify", schema.WORD), ("reeval", "reeval", schema.STRING),
                ("rule_id", "id", schema.WORD), ("host", "host", schema.STRING),
                ("method", "method", schema.WORD), ("path", "path", schema.STRING),
                ("authority", "authority", schema.WORD))
_LOCAL_IMPORT_SUFFIXES = (".fms", ".fpl", ".yaml", ".yml", ".json")


def check_ir(policy: ir.PolicyIR, sink: DiagnosticSink,
             locate: Callable[[object], Span] | None = None) -> None:
    """Record in `sink` every problem of `policy` that FPL lowering would have reported.

    `locate(x)` says where `x` was written: a record (anything with an `origin`), a
    `ToolDecl`, or one `(key, value)` entry of a record's `fields` or `settings`. Without
    it, each error points at its record's `origin`.
    """
    _Checker(sink, locate).policy(policy)


def _origin_span(record: object) -> Span:
    o = getattr(record, "origin", None)
    if not isinstance(o, ir.Origin):
        return Span("<policy>", 1, 1)
    return Span(o.file, max(o.line, 1), max(o.column, 1))


def _found(value: object) -> str:
    """What a value is, in the words of lowering's type errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, tuple | list):
        return "a list"
    return {Money: "a money value", Duration: "a duration", DataSize: "a size"}.get(
        type(value), "a value that is not an FPL value")


def _is_scalar(value: object) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | bool | int | Money | Duration | DataSize)


def _any_value(value: object, depth: int = 0) -> bool:
    if isinstance(value, tuple):
        return depth < 64 and all(_any_value(v, depth + 1) for v in value)
    return _is_scalar(value)


def _shown(value: object) -> str:
    text = str(value).replace("`", "'").replace("\n", "\\n")
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker:
    def __init__(self, sink: DiagnosticSink, locate: Locate | None) -> None:
        self.sink = sink
        self.locate = locate

    def at(self, target: object, record: object) -> Span:
        return self.locate(target) if self.locate is not None else _origin_span(record)

    def error(self, at: At, code: str, message: str, hint: str | None = None) -> None:
        self.sink.error(self.at(*at), code, message, hint)

    # --- the policy ----------------------------------------------------------------------

    def policy(self, policy: ir.PolicyIR) -> None:
        for imp in policy.imports:
            self.import_(imp)
        for block in policy.blocks:
            self.block(block, top=True)
        self.once(policy.agents, lambda a: a.agent_id, "duplicate-agent",
                  lambda a: f"agent `{_shown(a.agent_id)}` is declared twice")
        for agent in policy.agents:
            self.agent(agent)

    def once(self, records: Iterable[R], key: Callable[[R], Hashable], code: str,
             message: Callable[[R], str], *, parent: object = None) -> None:
        """Report each record whose key an earlier record already has."""
        first: dict[Hashable, Span] = {}
        for record in records:
            k = key(record)
            span = self.at(record, parent if parent is not None else record)
            if k in first:
                self.sink.error(span, code, message(record),
                                f"the first one is at {first[k]}; merge them")
            else:
                first[k] = span

    def import_(self, imp: ir.Import) -> None:
        src = imp.source
        if not isinstance(src, str) or not src:
            self.error((imp, imp), "type", "an import needs the file it imports")
            return
        local = src.startswith(("./", "../", "/")) or src.endswith(_LOCAL_IMPORT_SUFFIXES)
        if src.endswith("@latest"):
            self.error((imp, imp), "unpinned-import", f"import `{_shown(src)}` is not pinned",
                       "name an exact version (`@1.2.0`) so the policy cannot change under you")
        elif not local and "@" not in src:
            self.error((imp, imp), "unpinned-import", f"import `{_shown(src)}` names no version",
                       "pin it: `import \"name@1.2.0\"`")
        elif not local:
            self.error((imp, imp), "unsupported-import",
                       f"registry import `{_shown(src)}` cannot be fetched by this version",
                       "vendor the policy file and import it by path")

    # --- agents --------------------------------------------------------------------------

    def agent(self, agent: ir.Agent) -> None:
        if not isinstance(agent.agent_id, str) or not agent.agent_id:
            self.error((agent, agent), "missing-name", "`agent` needs a name",
                       'give the agent an id such as `payments-bot`')
        if agent.default not in ir.DEFAULT_EFFECTS:
            self.error((agent, agent), "bad-value",
                       f"`{_shown(agent.default)}` is not an effect here",
                       "use permit, deny or defer")
        for entry in agent.settings:
            key, value = entry
            if key == "default":
                self.error((entry, agent), "misplaced", "`default` is not an agent setting",
                           "give it as the agent's `default`")
            elif key not in schema.AGENT_SETTINGS:
                self.error((entry, agent), "unknown-field", f"unknown agent setting "
                           f"`{_shown(key)}`", "agents take " + ", ".join(
                               sorted(schema.AGENT_SETTINGS.keys() - {"default"})))
            else:
                self.value((entry, agent), key, schema.AGENT_SETTINGS[key], value, None)
        for rule in agent.rules:
            self.rule(rule)
        self.records(agent, "phase", agent.phases, lambda p: p.name)
        for phase in agent.phases:
            self.phase(phase)
        for limit in agent.rate_limits:
            self.rate_limit(limit)
        self.records(agent, "budget", agent.budgets, lambda b: b.budget_id)
        for budget in agent.budgets:
            self.budget(budget)
        for redaction in agent.redactions:
            self.redaction(redaction)
        self.records(agent, "delegate", agent.delegations, lambda d: d.target_agent)
        for delegation in agent.delegations:
            self.delegation(delegation)
        # As in FPL, `alert` blocks may repeat; other blocks are declared once (per name).
        self.records(agent, "", [b for b in agent.blocks if b.kind != "alert"],
                     lambda b: (b.kind, b.name))
        for block in agent.blocks:
            self.block(block, top=False)
        self.records(agent, "tool", agent.tools, lambda t: t.name, parent=agent)
        for tool in agent.tools:
            self.tool(tool, agent)

    def records(self, agent: ir.Agent, kind: str, records: Iterable[R],
                name: Callable[[R], Hashable], *, parent: object = None) -> None:
        def message(record: R) -> str:
            key = name(record)
            block, named = key if isinstance(key, tuple) else (kind, key)
            return f"`{block}` block" + (f" `{_shown(named)}`" if named else "") + \
                f" is declared twice in agent `{_shown(agent.agent_id)}`"
        self.once(records, name, "duplicate-block", message, parent=parent)

    # --- rules ---------------------------------------------------------------------------

    def pattern(self, at: At, pattern: object) -> None:
        if not isinstance(pattern, str) or not pattern or "\x00" in pattern:
            self.error(at, "bad-pattern", "empty tool pattern",
                       "use `*` to match every tool")

    def rule(self, rule: ir.Rule) -> None:
        self.pattern((rule, rule), rule.pattern)
        for attr, key, kind in RULE_CLAUSES:
            value = getattr(rule, attr)
            if value is not None:
                self.value((rule, rule), key, kind, value, None)
        if rule.effect is ir.RuleEffect.STEP_UP and not rule.authority:
            self.error((rule, rule), "missing-authority", "`step_up` needs an authority",
                       'add `authority: finance-lead`: who may approve')
        if rule.effect is ir.RuleEffect.MODIFY and not rule.modify_args:
            self.error((rule, rule), "missing-field", "`modify` needs the arguments it rewrites",
                       "add `modify_args`: `{amount: 100}`; `null` removes an argument")
        elif rule.effect is not ir.RuleEffect.MODIFY and rule.modify_args:
            self.error((rule, rule), "misplaced",
                       f"`modify_args` belongs to `modify` rules, not `{rule.effect}`",
                       "remove it, or make the rule `modify`")

    def rate_limit(self, limit: ir.RateLimit) -> None:
        self.pattern((limit, limit), limit.pattern)
        count = limit.count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            self.error((limit, limit), "type", "a rate limit needs a whole number of calls",
                       "give `limit` as 1 or more")
        if not isinstance(limit.window, Duration):
            self.error((limit, limit), "type", f"`per` expects {TYPE_NAMES[schema.DURATION]}, "
                       f"found {_found(limit.window)}")

    def redaction(self, redaction: ir.Redaction) -> None:
        self.pattern((redaction, redaction), redaction.pattern)
        if not redaction.fields:
            self.error((redaction, redaction), "type", "`redact` needs at least one argument name")
        elif not all(isinstance(f, str) and f for f in redaction.fields):
            self.error((redaction, redaction), "type", "`redact` takes argument names")

    # --- typed blocks --------------------------------------------------------------------

    def typed(self, record: object, kind: str, values: dict[str, object]) -> None:
        """The fields of a record that FPL writes as a `kind` block, checked by its schema."""
        spec = schema.BLOCKS[kind]
        self.fields(kind, spec, record, ((record, k, v) for k, v in values.items()
                                         if v is not None and v != ()))

    def phase(self, phase: ir.Phase) -> None:
        if not isinstance(phase.name, str) or not phase.name:
            self.error((phase, phase), "missing-name", "`phase` needs a name")
        self.typed(phase, "phase", {"duration": phase.duration, "next": phase.next,
                                    "tools": phase.tools})
        for pattern in phase.tools if isinstance(phase.tools, tuple) else ():
            self.pattern((phase, phase), pattern)
        for rule in phase.rules:
            self.rule(rule)

    def budget(self, budget: ir.Budget) -> None:
        name = budget.budget_id
        if not isinstance(name, str) or not name:
            self.error((budget, budget), "missing-name", "`budget` needs a name",
                       "give an id: `daily`, `session` or your own")
            return
        self.typed(budget, "budget", {"max": budget.max, "daily": budget.daily,
                                      "max_calls": budget.max_calls,
                                      "warn_at": budget.warn_at,
                                      "on_exceed": budget.on_exceed, "window": budget.window})
        if name not in STANDARD_BUDGETS and budget.window is None:
            self.error((budget, budget), "missing-field", f"budget `{_shown(name)}` needs a "
                       "`window`", "custom budgets say how long they last: `window: 7d`")
        if budget.max is None and budget.daily is None and budget.max_calls is None:
            self.error((budget, budget), "missing-field", f"budget `{_shown(name)}` sets no "
                       "limit", "give `max`, `daily` or `max_calls`")

    def delegation(self, delegation: ir.Delegation) -> None:
        if not isinstance(delegation.target_agent, str) or not delegation.target_agent:
            self.error((delegation, delegation), "missing-field",
                       "`delegate` needs a target agent", "name the agent it delegates to")
            return
        self.typed(delegation, "delegate", {
            "target_agent": delegation.target_agent, "scope": delegation.scope,
            "ttl": delegation.ttl, "ceiling": delegation.ceiling})

    def tool(self, tool: ir.ToolDecl, agent: ir.Agent) -> None:
        if not isinstance(tool.name, str) or not tool.name or "\x00" in tool.name:
            self.error((tool, agent), "missing-name", "`tool` needs a name",
                       "name the tool: `stripe/refund`")
        self.fields("tool", schema.BLOCKS["tool"], agent,
                    [(tool, k, v) for k, v in (("tags", tool.tags), ("cost", tool.cost))
                     if v is not None and v != ()])
        if isinstance(tool.cost, Money) and tool.cost.currency != "USD":
            self.error((tool, agent), "type", f"`cost` expects US dollars, found {tool.cost}",
                       "budgets count in US dollars: write `cost: $0.05`")

    # --- blocks --------------------------------------------------------------------------

    def block(self, block: ir.Block, top: bool) -> None:
        kind = block.kind
        where = "at the top level" if top else "inside an agent"
        if kind not in TOP_LEVEL | schema.AGENT_BLOCKS | {"agent"}:
            allowed = schema.TOP_BLOCKS | schema.AGENT_BLOCKS
            self.error((block, block), "unknown-block", f"unknown block `{_shown(kind)}`",
                       "known blocks: " + ", ".join(sorted(allowed)))
            return
        if kind not in (TOP_LEVEL if top else AGENT_LEVEL):
            if kind in RECORD_BLOCKS or kind == "agent":
                hint = f"write it under `{RECORD_BLOCKS.get(kind, 'agents')}`"
            elif top:
                hint = "put it in an agent's `blocks` (agent `*` for every agent)"
            else:
                hint = "put it in the policy's top-level `blocks`"
            self.error((block, block), "misplaced", f"`{kind}` is not allowed {where}", hint)
            return
        if kind == "manifest":
            self.manifest(block)
            return
        spec = schema.BLOCKS[kind]
        self.name(block, spec)
        self.fields(kind, spec, block, ((entry, *entry) for entry in block.fields))

    def name(self, block: ir.Block, spec: schema.BlockSchema) -> None:
        if spec.named is True and not block.name:
            self.error((block, block), "missing-name", f"`{block.kind}` needs a name",
                       "give the block a `name`")
        elif spec.named is False and block.name is not None:
            self.error((block, block), "syntax", f"`{block.kind}` takes no name",
                       "remove `name`")

    def manifest(self, block: ir.Block) -> None:
        verb = block.get("verb")
        spec = MANIFESTS.get(verb) if isinstance(verb, str) else None
        if spec is None:
            self.error((block, block), "bad-manifest", "cannot read this manifest",
                       "give `verb: orchestrator` with `orchestrator` and `undeclared`, or "
                       "`verb: grant` with `orchestrator`, `target`, `max` and `approval`")
            return
        self.name(block, spec)
        self.fields("manifest", spec, block, ((entry, *entry) for entry in block.fields))
        given = {k for k, _ in block.fields}
        for key in spec.fields:
            if key not in given:
                self.error((block, block), "missing-field", f"manifest `{verb}` needs `{key}`")

    def fields(self, kind: str, spec: schema.BlockSchema, record: object,
               entries: Iterable[Entry]) -> None:
        seen: set[str] = set()
        for target, key, value in entries:
            at = (target, record)
            if not isinstance(key, str):
                self.error(at, "type", f"a field of `{kind}` is named by text")
                continue
            field_type = spec.fields.get(key)
            if field_type is None and not spec.open:
                self.error(at, "unknown-field",
                           f"unknown field `{_shown(key)}` in `{kind}`",
                           "allowed: " + ", ".join(sorted(spec.fields)))
                continue
            if key in seen:
                self.error(at, "duplicate-field", f"`{_shown(key)}` is set twice")
                continue
            seen.add(key)
            self.value(at, key, field_type or schema.ANY, value, kind)

    # --- values --------------------------------------------------------------------------

    def value(self, at: At, key: str, kind: str, value: object, block: str | None) -> None:
        """Is `value` what lowering gives a `kind` field? Report it where it is not."""
        def wrong(hint: str | None = None) -> None:
            self.error(at, "type", f"`{_shown(key)}` expects {TYPE_NAMES[kind]}, "
                       f"found {_found(value)}", hint)

        def out_of_range() -> None:
            self.error(at, "bad-value", f"`{_shown(value)}` is out of range for "
                       f"`{_shown(key)}`", "expected " + TYPE_NAMES[kind])

        if kind in (schema.STRINGS, schema.WORDS):
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                wrong("write a list of text: `[a, b]`")
            elif kind == schema.WORDS:
                for item in value:
                    self.enum(at, key, item, block)
        elif kind == schema.ANY:
            if not _any_value(value):
                wrong()
        elif kind in (schema.STRING, schema.WORD):
            if not isinstance(value, str):
                typed = isinstance(value, int | Decimal | Money | Duration | DataSize) and \
                    not isinstance(value, bool)
                wrong("quote it as text (in YAML or JSON `{string: ...}`)" if typed else None)
            elif kind == schema.WORD:
                self.enum(at, key, value, block)
        elif kind == schema.EFFECT:
            if not isinstance(value, str):
                wrong()
            elif value not in EFFECT_NAMES:
                self.error(at, "bad-value", f"`{_shown(value)}` is not an effect "
                           "here", "use permit, deny or defer")
        elif kind in _TYPES:
            if not isinstance(value, _TYPES[kind]) or (
                    kind != schema.BOOL and isinstance(value, bool)):
                wrong("write money with its currency: `$500`" if kind == schema.MONEY and
                      isinstance(value, int | Decimal) else None)
        elif isinstance(value, bool) or not isinstance(value, int | Decimal) or \
                (kind == schema.INT and not isinstance(value, int)) or \
                (kind == schema.RATIO and not isinstance(value, Decimal)):
            wrong()  # INT, NUMBER, RATIO
        elif (isinstance(value, Decimal) and not value.is_finite()) or value < 0 or \
                (kind == schema.RATIO and value > 1):
            out_of_range()

    def enum(self, at: At, key: str, value: str, block: str | None) -> None:
        allowed = ENUMS.get((block or "", key))
        if allowed and value not in allowed:
            self.error(at, "bad-value", f"`{_shown(value)}` is not a valid "
                       f"`{_shown(key)}`", "use one of: " + ", ".join(allowed))


_TYPES: dict[str, type | tuple[type, ...]] = {
    schema.MONEY: Money, schema.DURATION: Duration, schema.SIZE: DataSize, schema.BOOL: bool}
