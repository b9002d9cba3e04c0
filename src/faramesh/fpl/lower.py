"""Lower the FPL syntax tree to the IR, checking placement, fields and types on the way.

Every problem is recorded in the sink with its location; lowering goes on past errors so
that one run reports them all. `env("X")` and `var` references are resolved here, so the
IR holds only values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import cast

from faramesh.car import canonical_tool
from faramesh.fpl import ast, schema
from faramesh.fpl.diagnostics import DiagnosticSink, Span
from faramesh.fpl.expressions import resolve_names
from faramesh.policy import ir
from faramesh.policy.values import DataSize, Duration, Money, is_ascii_number, parse_duration

RATE_WINDOW_TEXT = {"second": "1s", "minute": "1m", "hour": "1h", "day": "1d"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
STANDARD_BUDGETS = frozenset({"daily", "session", "global"})
TYPE_NAMES = {schema.STRING: "a string", schema.WORD: "a name", schema.EFFECT: "an effect",
              schema.MONEY: "money such as `$500`", schema.DURATION: "a duration such as `15m`",
              schema.SIZE: "a size such as `10mb`", schema.INT: "a whole number",
              schema.NUMBER: "a number", schema.RATIO: "a fraction between 0 and 1",
              schema.BOOL: "`true` or `false`", schema.STRINGS: "a list of strings",
              schema.WORDS: "one or more names", schema.ANY: "a value"}
_KIND_NAMES = {"string": "a string", "number": "a number", "money": "a money value",
               "duration": "a duration", "size": "a size", "word": "a bare name",
               "bool": "a boolean"}


def origin(span: Span) -> ir.Origin:
    return ir.Origin(span.file, span.line, span.column)


class Lowerer:
    def __init__(self, file: str, sink: DiagnosticSink,
                 env: Mapping[str, str] | None = None) -> None:
        self.file = file
        self.sink = sink
        self.env = os.environ if env is None else env
        self.vars: dict[str, ir.Scalar] = {}

    def error(self, span: Span, code: str, message: str, hint: str | None = None) -> None:
        self.sink.error(span, code, message, hint)

    # --- the file ----------------------------------------------------------------------

    def lower_file(self, node: ast.FileNode) -> ir.PolicyIR:
        agents: list[ir.Agent] = []
        blocks: list[ir.Block] = []
        imports: list[ir.Import] = []
        flat: list[ast.Statement] = []
        flat_position = 0  # the anonymous agent stands where its first statement does
        seen_agents: dict[str, Span] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.VarNode):
                self._declare(stmt, self.vars)
        for stmt in node.body:
            if isinstance(stmt, ast.BlockNode) and stmt.keyword == "agent":
                agent = self.lower_agent(stmt)
                if agent is None:
                    continue
                if agent.agent_id in seen_agents:
                    first = seen_agents[agent.agent_id]
                    self.error(stmt.span, "duplicate-agent",
                               f"agent `{agent.agent_id}` is declared twice",
                               f"the first declaration is at {first}; merge them")
                    continue
                seen_agents[agent.agent_id] = stmt.span
                agents.append(agent)
            elif isinstance(stmt, ast.BlockNode) and stmt.keyword in schema.TOP_BLOCKS:
                block = self.lower_block(stmt)
                if block is not None:
                    blocks.append(block)
            elif isinstance(stmt, ast.ImportNode):
                imports.append(self.lower_import(stmt))
            elif isinstance(stmt, ast.ManifestNode):
                block = self.lower_manifest(stmt)
                if block is not None:
                    blocks.append(block)
            elif isinstance(stmt, ast.VarNode):
                continue
            else:
                if not flat:
                    flat_position = len(agents)
                flat.append(stmt)
        if flat:
            anchor = flat[0].span
            agent = self._agent_body(ir.ANY_AGENT, flat, anchor, dict(self.vars))
            if ir.ANY_AGENT in seen_agents:
                self.error(anchor, "duplicate-agent", "top-level rules and `agent \"*\"` "
                           "both declare the catch-all agent",
                           f"the agent block is at {seen_agents[ir.ANY_AGENT]}; merge them")
            else:
                agents.insert(flat_position, agent)
        return ir.PolicyIR(tuple(agents), tuple(blocks), tuple(imports), self.file)

    def lower_import(self, node: ast.ImportNode) -> ir.Import:
        src = node.source
        local = src.startswith(("./", "../", "/")) or src.endswith((".fms", ".fpl", ".yaml",
                                                                     ".yml", ".json"))
        if src.endswith("@latest"):
            self.error(node.span, "unpinned-import", f"import `{src}` is not pinned",
                       "name an exact version (`@1.2.0`) so the policy cannot change under you")
        elif not local and "@" not in src:
            self.error(node.span, "unpinned-import", f"import `{src}` names no version",
                       "pin it: `import \"name@1.2.0\"`")
        elif not local:
            self.error(node.span, "unsupported-import",
                       f"registry import `{src}` cannot be fetched by this version",
                       "vendor the policy file and import it by path")
        return ir.Import(src, node.alias, origin(node.span))

    def lower_manifest(self, node: ast.ManifestNode) -> ir.Block | None:
        w = node.words
        if len(w) == 4 and w[0] == "orchestrator" and w[2] == "undeclared" and \
                w[3] in ("deny", "defer"):
            fields: tuple[tuple[str, ir.BlockValue], ...] = (
                ("verb", "orchestrator"), ("orchestrator", w[1]), ("undeclared", w[3]))
        elif len(w) in (6, 7) and w[0] == "grant" and w[2] == "to" and w[4] == "max" \
                and is_ascii_number(w[5]) and (len(w) == 6 or w[6] == "approval"):
            fields = (("verb", "grant"), ("orchestrator", w[1]), ("target", w[3]),
                      ("max", int(w[5])), ("approval", len(w) == 7))
        else:
            self.error(node.span, "bad-manifest", "cannot read this manifest line",
                       "write `manifest orchestrator ID undeclared deny|defer` or "
                       "`manifest grant ORCH to TARGET max N [approval]`")
            return None
        return ir.Block("manifest", None, fields, origin(node.span))

    # --- agents ------------------------------------------------------------------------

    def lower_agent(self, node: ast.BlockNode) -> ir.Agent | None:
        if not node.name:
            self.error(node.span, "missing-name", "`agent` needs a name",
                       'write `agent "payments-bot" { ... }`')
            return None
        scope = dict(self.vars)
        return self._agent_body(node.name, node.body, node.span, scope)

    def _agent_body(self, agent_id: str, body: list[ast.Statement], span: Span,
                    scope: dict[str, ir.Scalar]) -> ir.Agent:
        saved, self.vars = self.vars, scope
        for stmt in body:
            if isinstance(stmt, ast.VarNode):
                self._declare(stmt, scope)
        default = ir.RuleEffect.DENY
        default_origin = origin(span)
        rules: list[ir.Rule] = []
        phases: list[ir.Phase] = []
        rate_limits: list[ir.RateLimit] = []
        budgets: list[ir.Budget] = []
        redactions: list[ir.Redaction] = []
        delegations: list[ir.Delegation] = []
        blocks: list[ir.Block] = []
        settings: list[tuple[str, ir.BlockValue]] = []
        tools: list[ir.ToolDecl] = []
        tools_at: list[tuple[ir.ToolDecl, ir.Origin]] = []
        seen: dict[tuple[str, str | None], Span] = {}
        for stmt in body:
            if isinstance(stmt, ast.VarNode):
                continue
            if isinstance(stmt, ast.RuleNode):
                rule = self.lower_rule(stmt)
                if rule is not None:
                    rules.append(rule)
            elif isinstance(stmt, ast.RateLimitNode):
                rate_limits.append(self.lower_rate_limit(stmt))
            elif isinstance(stmt, ast.RedactNode):
                redaction = self.lower_redaction(stmt)
                if redaction is not None:
                    redactions.append(redaction)
            elif isinstance(stmt, ast.Setting):
                if stmt.key == "default":
                    effect = self._effect_value(stmt.value)
                    if effect is not None:
                        default, default_origin = effect, origin(stmt.span)
                elif stmt.key in schema.AGENT_SETTINGS:
                    value = self.coerce(stmt.value, schema.AGENT_SETTINGS[stmt.key], stmt.key)
                    if value is not None:
                        settings.append((stmt.key, value))
                else:
                    self.error(stmt.span, "unknown-field",
                               f"unknown agent setting `{stmt.key}`",
                               "agents take " + ", ".join(sorted(schema.AGENT_SETTINGS)))
            elif isinstance(stmt, ast.BlockNode) and stmt.keyword in schema.AGENT_BLOCKS:
                key = (stmt.keyword, stmt.name)
                if key in seen and stmt.keyword not in ("rules", "alert"):
                    self.error(stmt.span, "duplicate-block",
                               f"`{stmt.keyword}` block"
                               + (f" `{stmt.name}`" if stmt.name else "") + " is declared twice",
                               f"the first one is at {seen[key]}; merge them")
                    continue
                seen[key] = stmt.span
                if stmt.keyword == "rules":
                    rules.extend(self.lower_rules_block(stmt))
                elif stmt.keyword == "phase":
                    phase = self.lower_phase(stmt)
                    if phase is not None:
                        phases.append(phase)
                elif stmt.keyword == "budget":
                    budget = self.lower_budget(stmt)
                    if budget is not None:
                        budgets.append(budget)
                elif stmt.keyword == "tool":
                    decl = self.lower_tool(stmt)
                    if decl is not None:
                        tools.append(decl)
                        tools_at.append((decl, origin(stmt.span)))
                elif stmt.keyword == "delegate":
                    delegation = self.lower_delegation(stmt)
                    if delegation is not None:
                        delegations.append(delegation)
                else:
                    block = self.lower_block(stmt)
                    if block is not None:
                        blocks.append(block)
            else:
                self._misplaced(stmt, "an agent")
        self.vars = saved
        self._once("tool", [(t.name, o) for t, o in tools_at])
        self._once("delegate", [(d.target_agent, d.origin) for d in delegations])
        return ir.Agent(agent_id, default, tuple(rules), tuple(phases), tuple(rate_limits),
                        tuple(budgets), tuple(redactions), tuple(delegations), tuple(blocks),
                        tuple(settings), tuple(tools), default_origin)

    def _once(self, kind: str, named: list[tuple[str, ir.Origin]]) -> None:
        """Tools (by canonical name) and delegations (by target) are declared once."""
        first: dict[str, ir.Origin] = {}
        for name, at in named:
            if name in first:
                self.error(Span(at.file, at.line, max(at.column, 1)), "duplicate-block",
                           f"`{kind}` `{name}` is declared twice",
                           f"the first one is at {first[name].ref}; merge them")
            else:
                first[name] = at

    def _misplaced(self, stmt: ast.Statement, where: str) -> None:
        what = stmt.keyword if isinstance(stmt, ast.BlockNode) else type(stmt).__name__
        if isinstance(stmt, ast.BlockNode):
            allowed = schema.TOP_BLOCKS | schema.AGENT_BLOCKS
            if stmt.keyword not in allowed:
                self.error(stmt.span, "unknown-block", f"unknown block `{stmt.keyword}`",
                           "known blocks: " + ", ".join(sorted(allowed)))
                return
            self.error(stmt.span, "misplaced", f"`{what}` is not allowed inside {where}")
            return
        label = {"ImportNode": "import", "ManifestNode": "manifest",
                 "RateLimitNode": "rate_limit", "RedactNode": "redact",
                 "RuleNode": "a rule", "Setting": getattr(stmt, "key", "setting")}.get(
            type(stmt).__name__, "this statement")
        self.error(stmt.span, "misplaced", f"`{label}` is not allowed inside {where}")

    def _declare(self, node: ast.VarNode, scope: dict[str, ir.Scalar]) -> None:
        value = self.coerce(node.value, schema.ANY, node.name)
        if isinstance(value, tuple):
            self.error(node.span, "type", "a `var` holds one value, not a list")
            return
        if node.name in scope and scope is not self.vars:
            pass  # an agent's var shadows a top-level one
        scope[node.name] = value

    # --- rules -------------------------------------------------------------------------

    def lower_rules_block(self, node: ast.BlockNode) -> list[ir.Rule]:
        rules = []
        for stmt in node.body:
            if isinstance(stmt, ast.RuleNode):
                rule = self.lower_rule(stmt)
                if rule is not None:
                    rules.append(rule)
            else:
                self._misplaced(stmt, "`rules`")
        if node.name:
            self.error(node.span, "syntax", "`rules` takes no name")
        return rules

    def pattern(self, raw: str, span: Span) -> str | None:
        canonical = canonical_tool(raw)
        if canonical is None:
            self.error(span, "bad-pattern", "a tool pattern may not hold a NUL byte")
            return None
        if not canonical:
            self.error(span, "bad-pattern", "empty tool pattern", "use `*` to match every tool")
            return None
        return canonical

    def lower_rule(self, node: ast.RuleNode) -> ir.Rule | None:
        mandatory = node.effect == "deny!"
        effect = ir.RuleEffect.DENY if mandatory else ir.EFFECT_ALIASES[node.effect]
        pattern = self.pattern(node.pattern, node.span)
        condition = None
        if node.condition is not None:
            condition = resolve_names(node.condition, self._scalar_vars())
            if isinstance(condition, ir.Lit) and condition.value is True:
                condition = None
        clauses: dict[str, ir.BlockValue] = {}
        modify: list[tuple[str, object]] = []
        for clause in node.clauses:
            if clause.key in ("set", "unset"):
                if clause.key == "set":
                    new = self.coerce(clause.value, schema.ANY, str(clause.target))
                    if isinstance(new, Money | Duration | DataSize) or new is None:
                        self.error(clause.span, "type", "`set` takes a string, number, "
                                   "boolean or list", "money and durations are not argument "
                                   "values; write the plain number")
                        continue
                    modify.append((str(clause.target).removeprefix("args."), new))
                else:
                    modify.append((str(clause.target).removeprefix("args."), None))
                continue
            if clause.key in clauses:
                self.error(clause.span, "duplicate-clause", f"`{clause.key}` is given twice")
                continue
            kind = schema.WORD if clause.key in ("notify", "reeval", "authority",
                                                 "reason_code", "id", "method") \
                else schema.STRING
            if clause.key == "reeval":
                kind = schema.ANY
            value = self.coerce(clause.value, kind, clause.key)
            if value is not None:
                clauses[clause.key] = value if clause.key != "reeval" else _text(value)
        authority = clauses.get("authority")
        if effect is ir.RuleEffect.STEP_UP and not authority:
            self.error(node.span, "missing-authority", "`step_up` needs an authority",
                       'add `authority "finance-lead"`: who may approve')
        if effect is ir.RuleEffect.MODIFY and not modify:
            self.error(node.span, "missing-field", "`modify` needs the arguments it rewrites",
                       "add `set args.amount = 100` or `unset args.card`")
        if pattern is None:
            return None
        method = clauses.get("method")
        return ir.Rule(effect, pattern, condition, mandatory,
                       _opt_str(clauses.get("reason")), _opt_str(clauses.get("reason_code")),
                       _opt_str(clauses.get("notify")), _opt_str(clauses.get("reeval")),
                       _opt_str(clauses.get("id")), _opt_str(clauses.get("host")),
                       method.upper() if isinstance(method, str) else None,
                       _opt_str(clauses.get("path")), tuple(modify),
                       _opt_str(authority), origin(node.span))

    def _scalar_vars(self) -> dict[str, ir.Scalar]:
        return self.vars

    def lower_rate_limit(self, node: ast.RateLimitNode) -> ir.RateLimit:
        text = RATE_WINDOW_TEXT.get(node.window, node.window)
        window = parse_duration(text) or Duration(Decimal(60), "1m")
        pattern = self.pattern(node.pattern, node.span) or node.pattern
        return ir.RateLimit(pattern, node.count, window, origin(node.span))

    def lower_redaction(self, node: ast.RedactNode) -> ir.Redaction | None:
        pattern = self.pattern(node.pattern, node.span)
        if not node.fields:
            self.error(node.span, "type", "`redact` needs at least one argument name")
        if pattern is None:
            return None
        return ir.Redaction(pattern, tuple(node.fields), origin(node.span))

    # --- typed blocks ------------------------------------------------------------------

    def lower_phase(self, node: ast.BlockNode) -> ir.Phase | None:
        fields = self._fields(node, schema.BLOCKS["phase"], allow_rules=True)
        rules: list[ir.Rule] = []
        for stmt in node.body:
            if isinstance(stmt, ast.RuleNode):
                rule = self.lower_rule(stmt)
                if rule is not None:
                    rules.append(rule)
            elif isinstance(stmt, ast.BlockNode) and stmt.keyword == "rules":
                rules.extend(self.lower_rules_block(stmt))
        if not node.name:
            return None
        tools = fields.get("tools", ())
        tool_patterns = []
        for t in tools if isinstance(tools, tuple) else ():
            p = self.pattern(str(t), node.span)
            if p:
                tool_patterns.append(p)
        duration = fields.get("duration")
        nxt = fields.get("next")
        return ir.Phase(node.name, tuple(tool_patterns), tuple(rules),
                        duration if isinstance(duration, Duration) else None,
                        nxt if isinstance(nxt, str) else None, origin(node.span))

    def lower_budget(self, node: ast.BlockNode) -> ir.Budget | None:
        fields = self._fields(node, schema.BLOCKS["budget"])
        if not node.name:
            return None
        window = fields.get("window")
        if node.name not in STANDARD_BUDGETS and window is None:
            self.error(node.span, "missing-field",
                       f"budget `{node.name}` needs a `window`",
                       "custom budgets say how long they last: `window = 7d`")
        on_exceed = fields.get("on_exceed", "deny")
        written = {stmt.key for stmt in node.body if isinstance(stmt, ast.Setting)}
        if not written & {"max", "daily", "max_calls"}:
            self.error(node.span, "missing-field", f"budget `{node.name}` sets no limit",
                       "give `max`, `daily` or `max_calls`")
        mx, daily, calls, warn = (fields.get(k) for k in ("max", "daily", "max_calls",
                                                          "warn_at"))
        return ir.Budget(node.name, mx if isinstance(mx, Money) else None,
                         daily if isinstance(daily, Money) else None,
                         calls if isinstance(calls, int) else None,
                         warn if isinstance(warn, Decimal) else None,
                         ir.RuleEffect(on_exceed) if isinstance(on_exceed, str)
                         else ir.RuleEffect.DENY,
                         window if isinstance(window, Duration) else None, origin(node.span))

    def lower_tool(self, node: ast.BlockNode) -> ir.ToolDecl | None:
        fields = self._fields(node, schema.BLOCKS["tool"])
        name = self.pattern(node.name, node.span) if node.name else None
        if node.name is None:
            self.error(node.span, "missing-name", "`tool` needs a name",
                       'write `tool "stripe/refund" { tags = ["risk:high"] }`')
        tags, cost = fields.get("tags", ()), fields.get("cost")
        if isinstance(cost, Money) and cost.currency != "USD":
            at = next(stmt.value.span for stmt in node.body
                      if isinstance(stmt, ast.Setting) and stmt.key == "cost")
            self.error(at, "type", f"`cost` expects US dollars, found {cost}",
                       "budgets count in US dollars: write `cost = $0.05`")
        if name is None:
            return None
        return ir.ToolDecl(name, tuple(str(t) for t in tags) if isinstance(tags, tuple) else (),
                           cost if isinstance(cost, Money) else None)

    def lower_delegation(self, node: ast.BlockNode) -> ir.Delegation | None:
        fields = self._fields(node, schema.BLOCKS["delegate"])
        target = fields.get("target_agent", node.name)
        if node.name and "target_agent" in fields and fields["target_agent"] != node.name:
            self.error(node.span, "conflict", "the block name and `target_agent` differ")
        if not isinstance(target, str) or not target:
            self.error(node.span, "missing-field", "`delegate` needs a target agent",
                       'write `delegate researcher { ... }` or `target_agent = "researcher"`')
            return None
        ttl = fields.get("ttl")
        scope, ceiling = fields.get("scope"), fields.get("ceiling")
        return ir.Delegation(target, scope if isinstance(scope, str) else None,
                             ttl if isinstance(ttl, Duration) else None,
                             ceiling if isinstance(ceiling, str) else None, origin(node.span))

    def lower_block(self, node: ast.BlockNode) -> ir.Block | None:
        spec = schema.BLOCKS.get(node.keyword)
        if spec is None:
            self._misplaced(node, "this block")
            return None
        if spec.named is True and not node.name:
            self.error(node.span, "missing-name", f"`{node.keyword}` needs a name",
                       f"write `{node.keyword} NAME {{ ... }}`")
        elif spec.named is False and node.name:
            self.error(node.span, "syntax", f"`{node.keyword}` takes no name")
        fields = self._fields(node, spec)
        return ir.Block(node.keyword, node.name, tuple(fields.items()), origin(node.span))

    def _fields(self, node: ast.BlockNode, spec: schema.BlockSchema,
                allow_rules: bool = False) -> dict[str, ir.BlockValue]:
        out: dict[str, ir.BlockValue] = {}
        for stmt in node.body:
            if allow_rules and (isinstance(stmt, ast.RuleNode) or
                                (isinstance(stmt, ast.BlockNode) and stmt.keyword == "rules")):
                continue
            if not isinstance(stmt, ast.Setting):
                self._misplaced(stmt, f"`{node.keyword}`")
                continue
            kind = spec.fields.get(stmt.key)
            if kind is None:
                if not spec.open:
                    self.error(stmt.span, "unknown-field",
                               f"unknown field `{stmt.key}` in `{node.keyword}`",
                               "allowed: " + ", ".join(sorted(spec.fields)))
                    continue
                kind = schema.ANY
            value = self.coerce(stmt.value, kind, stmt.key, node.keyword)
            if value is None:
                continue
            if stmt.key in out:
                if stmt.key in spec.repeatable_fields:
                    prev = out[stmt.key]
                    out[stmt.key] = (prev if isinstance(prev, tuple) else (prev,)) + \
                        (value if isinstance(value, tuple) else (value,))
                    continue
                self.error(stmt.span, "duplicate-field", f"`{stmt.key}` is set twice")
                continue
            out[stmt.key] = value
        return out

    # --- values ------------------------------------------------------------------------

    def _effect_value(self, value: ast.Value) -> ir.RuleEffect | None:
        text = self.coerce(value, schema.EFFECT, "default")
        return ir.RuleEffect(text) if isinstance(text, str) else None

    def coerce(self, value: ast.Value, kind: str, key: str,
               block: str | None = None) -> ir.BlockValue:
        """The value as `kind`, or None after recording a located type error."""
        if isinstance(value, ast.EnvCall):
            if value.name not in self.env:
                self.error(value.span, "env-unset",
                           f"environment variable `{value.name}` is not set",
                           "set it before compiling; env() is read once, at compile time")
                return None
            value = ast.Scalar("string", self.env[value.name], value.name, value.span)
        if kind in (schema.STRINGS, schema.WORDS):
            items = value.items if isinstance(value, ast.ListValue | ast.Words) else [value]
            out: list[ir.BlockValue] = []
            for item in items:
                v = self.coerce(item, schema.STRING if kind == schema.STRINGS else schema.WORD,
                                key, block)
                if v is None:
                    return None
                out.append(v)
            return tuple(out)
        if isinstance(value, ast.ListValue | ast.Words):
            if kind == schema.ANY:
                items = value.items
                converted = [self.coerce(i, schema.ANY, key, block) for i in items]
                return None if any(c is None for c in converted) else tuple(converted)
            return self._type_error(value.span, key, kind, "a list")
        return self._coerce_scalar(value, kind, key, block)

    def _coerce_scalar(self, value: ast.Scalar, kind: str, key: str,
                       block: str | None) -> ir.BlockValue:
        v, k = cast(ir.BlockValue, value.value), value.kind
        if k == "word" and kind == schema.STRING and not _IDENTIFIER.fullmatch(str(v)):
            return str(v)  # a bare path or host (`secret/data/zendesk`), not a variable
        if k == "word" and kind in (schema.STRING, schema.DURATION, schema.MONEY,
                                    schema.SIZE, schema.INT, schema.NUMBER):
            if str(v) not in self.vars:
                self.error(value.span, "undefined-var", f"undefined variable `{v}`",
                           "declare it with `var` or quote the text")
                return None
            resolved = self.vars[str(v)]
            return self._coerce_scalar(_scalar_for(resolved, value.span), kind, key, block)
        if kind == schema.ANY:
            return v
        if kind == schema.STRING:
            return v if k == "string" else self._type_error(value.span, key, kind, k)
        if kind == schema.WORD:
            if k not in ("string", "word"):
                return self._type_error(value.span, key, kind, k)
            allowed = schema.ENUMS.get((block or "", key))
            if allowed and v not in allowed:
                self.error(value.span, "bad-value", f"`{v}` is not a valid `{key}`",
                           "use one of: " + ", ".join(allowed))
                return None
            return v
        if kind == schema.EFFECT:
            effect = ir.EFFECT_ALIASES.get(str(v)) if k in ("string", "word") else None
            if effect not in ir.DEFAULT_EFFECTS:
                self.error(value.span, "bad-value", f"`{value.text}` is not an effect here",
                           "use permit, deny or defer")
                return None
            return effect.value if effect else None
        if kind == schema.DURATION:
            if k == "duration":
                return v
            if k == "string" and (d := parse_duration(str(v))) is not None:
                return d
            return self._type_error(value.span, key, kind, k)
        if kind == schema.MONEY:
            return v if k == "money" else self._type_error(
                value.span, key, kind, k,
                "write money with its currency: `$500`" if k == "number" else None)
        if kind == schema.SIZE:
            return v if k == "size" else self._type_error(
                value.span, key, kind, k)
        if kind == schema.BOOL:
            return v if k == "bool" else self._type_error(
                value.span, key, kind, k)
        if kind in (schema.INT, schema.NUMBER, schema.RATIO):
            if k != "number" or (kind == schema.INT and not isinstance(v, int)):
                return self._type_error(value.span, key, kind, k)
            number = Decimal(str(v))
            if number < 0 or (kind == schema.RATIO and number > 1):
                self.error(value.span, "bad-value", f"`{value.text}` is out of range for "
                           f"`{key}`", "expected " + TYPE_NAMES[kind])
                return None
            return number if kind == schema.RATIO else v
        return self._type_error(value.span, key, kind, k)  # pragma: no cover

    def _type_error(self, span: Span, key: str, kind: str, found: str,
                    hint: str | None = None) -> ir.BlockValue:
        """Record a type error; the value is then None (absent)."""
        self.error(span, "type", f"`{key}` expects {TYPE_NAMES[kind]}, found "
                   f"{_KIND_NAMES.get(found, found)}", hint)
        return None


def _scalar_for(value: ir.Scalar, span: Span) -> ast.Scalar:
    kind = {Money: "money", Duration: "duration", DataSize: "size", str: "string",
            bool: "bool"}.get(type(value), "number")
    return ast.Scalar(kind, value, str(value), span)


def _opt_str(value: ir.BlockValue) -> str | None:
    return value if isinstance(value, str) else None


def _text(value: ir.BlockValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
