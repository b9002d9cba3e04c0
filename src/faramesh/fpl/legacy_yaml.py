"""Lower the Faramesh runtime's policy YAML (`faramesh-version`, `agent-id`, `rules:`) to the IR.

The YAML is composed to nodes, not loaded, so every diagnostic carries the line and column
of the node it is about. Lowering goes on past errors so one run reports them all, and no
input makes it raise: broken YAML, garbage text and hostile nesting end in diagnostics.
docs/legacy-yaml.md lists the accepted fields and where each lands in the IR.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from faramesh.car import canonical_pattern
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.expressions import parse_expression, resolve_names
from faramesh.policy import ir
from faramesh.policy.values import Money

_T = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR, TIMESTAMP, MERGE = (
    _T + t for t in ("null", "bool", "int", "float", "str", "timestamp", "merge"))
_TEXT_TAGS = (STR, INT, FLOAT, BOOL, TIMESTAMP)  # scalars a text field takes as written

MARKER_KEYS = ("agent-id", "faramesh-version", "default_effect")
TOP_KEYS = ("faramesh-version", "agent-id", "default_effect", "tools", "rules", "budget",
            "parallel_budget", "defer_priority")
# Keys the runtime reads that faramesh cannot enforce yet. Refusing them is safer than
# loading the policy without the protection they were written to add.
UNSUPPORTED_TOP = ("vars", "phases", "post_rules", "session", "context_guards", "webhooks",
                   "max_output_bytes", "compensation", "phase_transitions",
                   "phase_enforcement", "session_state_policy", "cross_session_guards",
                   "loop_governance", "orchestrator_manifest", "delegation_policies",
                   "tool_schemas", "chain_policies", "output_policies",
                   "execution_isolation", "fpl_inline", "fpl_files")
RULE_KEYS = ("id", "match", "effect", "reason", "reason_code", "notify", "modify_args",
             "modify_reason", "modify_required", "step_up_authority", "step_up_reason",
             "incident_category", "incident_severity")
UNSUPPORTED_RULE = ("step_up_level",)
MATCH_KEYS = ("tool", "when", "host", "method", "path")
UNSUPPORTED_MATCH = ("port", "query", "headers")
BUDGET_KEYS = ("session_usd", "daily_usd", "max_calls", "on_exceed")
UNSUPPORTED_BUDGET = ("session_tokens", "daily_tokens")
TOOL_KEYS = ("tags", "cost_usd")
UNSUPPORTED_TOOL = ("reversibility", "blast_radius", "shadow_safe", "endpoint_pattern")
# Block schemas: dotted key -> kind (str, strs, money, count, expr).
PARALLEL_BUDGET = {"orchestration_id": "str", "agents": "strs",
                   "aggregate_max_cost_usd": "money", "per_agent_max_cost_usd": "money",
                   "on_aggregate_exceed": "str"}
_TIER = {"criteria": "expr", "sla_seconds": "count", "channel": "str",
         "escalation_after_seconds": "count", "auto_deny_after_seconds": "count"}
DEFER_PRIORITY = {f"{tier}.{key}": kind for tier in ("critical", "high", "normal")
                  for key, kind in _TIER.items()}

# Spellings that other tools accept or that users reach for, and what they mean here.
_SPELLING_HINTS = {
    "faramesh_version": "faramesh-version", "agent_id": "agent-id",
    "default-effect": "default_effect", "default": "default_effect",
    "authority": "step_up_authority", "approver": "step_up_authority",
}
_VERSION = re.compile(r"1(\.\d+){0,2}")
_MAX_MODIFY_NODES = 10_000
_MAX_DATA_DEPTH = 32
_MAX_MERGE_DEPTH = 8
_MAX_MERGES = 256
_CONSTRUCTOR = SafeConstructor()

Entries = list[tuple[str, Node, Node]]  # (key, key node, value node), in file order


def looks_like_legacy_yaml(data: object) -> bool:
    """True for a loaded YAML document in the runtime's format (a mapping with `agent-id`,
    `faramesh-version` or `default_effect` at the top)."""
    return isinstance(data, Mapping) and any(key in data for key in MARKER_KEYS)


def lower_legacy_yaml(text: str, file: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    """The IR of one runtime policy YAML file, or None when errors were recorded in `sink`."""
    before = len(sink.items)
    policy = _Lowering(text, file, sink).run()
    return policy if len(sink.items) == before else None


class _Lowering:
    def __init__(self, text: str, file: str, sink: DiagnosticSink) -> None:
        self.text = text
        self.file = file
        self.sink = sink
        self.lines = text.splitlines()
        self.modify_budget = _MAX_MODIFY_NODES

    # --- diagnostics -------------------------------------------------------------------

    def error(self, node: Node, code: str, message: str, hint: str) -> None:
        start, end = node.start_mark, node.end_mark
        length = end.column - start.column if end.line == start.line else 1
        self.sink.error(self.sink.span(start.line + 1, start.column + 1, max(length, 1)),
                        code, message, hint)

    def error_at(self, line: int, column: int, code: str, message: str, hint: str) -> None:
        self.sink.error(self.sink.span(line, column), code, message, hint)

    # --- the document ------------------------------------------------------------------

    def run(self) -> ir.PolicyIR | None:
        before = len(self.sink.items)
        root = self.compose()
        if len(self.sink.items) > before:
            return None
        if root is None:
            self.error_at(1, 1, "empty", "the policy is empty",
                          'start with `faramesh-version: "1.0"` and `agent-id: ...`')
            return None
        try:
            return self.document(root)
        except RecursionError:
            self.error_at(1, 1, "too-deep", "the policy is nested too deeply",
                          "flatten the nesting; anchors that refer to themselves are refused")
            return None

    def compose(self) -> Node | None:
        try:
            return yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "cannot read this"
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            self.error_at(line, column, "yaml-syntax", f"invalid yaml: {problem}",
                          "check the indentation and quoting here and on the line before")
        except yaml.reader.ReaderError as exc:
            pos = max(min(exc.position, len(self.text)), 0)
            line = self.text.count("\n", 0, pos) + 1
            column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
            char = _shown(chr(exc.character) if isinstance(exc.character, int)
                          else str(exc.character))
            self.error_at(line, column, "yaml-syntax",
                          f"invalid yaml: character `{char}` is not allowed",
                          "remove control characters; inside double quotes write them as "
                          "escapes such as `\\t`")
        except yaml.YAMLError as exc:
            self.error_at(1, 1, "yaml-syntax", f"invalid yaml: {_shown(str(exc))}",
                          "check that the file is a yaml mapping")
        except RecursionError:
            self.error_at(1, 1, "too-deep", "the policy is nested too deeply",
                          "flatten the nesting")
        return None

    def document(self, root: Node) -> ir.PolicyIR | None:
        if not isinstance(root, MappingNode):
            self.error(root, "type", f"a policy must be a mapping, found {_describe(root)}",
                       'start with `faramesh-version: "1.0"` and `agent-id: ...`')
            return None
        entries = self.entries(root, "the policy") or []
        self.check_keys(entries, TOP_KEYS, "the policy", UNSUPPORTED_TOP)
        agent_id: str = ir.ANY_AGENT
        default = ir.RuleEffect.DENY
        agent_origin = ir.Origin(self.file, 1, 1)
        rules: list[ir.Rule] = []
        budgets: list[ir.Budget] = []
        blocks: list[ir.Block] = []
        tools: list[ir.ToolDecl] = []
        for key, key_node, value in entries:
            if key == "faramesh-version":
                self.version(value)
            elif key == "agent-id":
                agent_id = self.agent_id(value) or agent_id
            elif key == "default_effect":
                default = self.default_effect(value) or default
                agent_origin = _origin(self.file, key_node)
            elif key == "tools":
                self.tools(value, tools)
            elif key == "rules":
                rules.extend(self.rules(value))
            elif key == "budget":
                budget = self.budget(key_node, value)
                if budget is not None:
                    budgets.append(budget)
            elif key == "parallel_budget":
                blocks.extend(self.block("parallel_budget", None, key_node, value,
                                         PARALLEL_BUDGET))
            elif key == "defer_priority":
                blocks.extend(self.block("defer_priority", None, key_node, value,
                                         DEFER_PRIORITY))
        agent = ir.Agent(agent_id, default, rules=tuple(rules), budgets=tuple(budgets),
                         blocks=tuple(blocks), tools=tuple(tools), origin=agent_origin)
        return ir.PolicyIR((agent,), source=self.file)

    def version(self, node: Node) -> None:
        text = self.text_of(node, "faramesh-version")
        if text is not None and not _VERSION.fullmatch(text.strip()):
            self.error(node, "unsupported-version",
                       f"`faramesh-version` `{_shown(text)}` is not supported",
                       'this loader reads version `"1.0"` files')

    def agent_id(self, node: Node) -> str | None:
        text = self.text_of(node, "agent-id")
        if text is not None and not text.strip():
            self.error(node, "bad-value", "`agent-id` is empty", "name the agent")
            return None
        return text.strip() if text is not None else None

    def default_effect(self, node: Node) -> ir.RuleEffect | None:
        text = self.text_of(node, "default_effect")
        if text is None:
            return None
        effect = ir.EFFECT_ALIASES.get(text.strip().lower())
        if effect is None:
            self.error(node, "unknown-effect", f"unknown default effect `{_shown(text)}`",
                       "use `deny`, `permit` or `defer`")
            return None
        if effect not in ir.DEFAULT_EFFECTS:
            self.error(node, "bad-default", f"`{_shown(text)}` cannot be the default effect",
                       "use `deny`, `permit` or `defer`; write a catch-all rule with "
                       '`tool: "*"` for the rest')
            return None
        return effect

    # --- tools -------------------------------------------------------------------------

    def tools(self, node: Node, tools: list[ir.ToolDecl]) -> None:
        seen: dict[str, Node] = {}
        for name, key_node, value in self.entries(node, "`tools`") or []:
            canonical = self.pattern(name, key_node, "tool name")
            entries = self.entries(value, f"tool `{_shown(name)}`")
            if canonical is None or entries is None:
                continue
            if canonical in seen:
                first = seen[canonical].start_mark.line + 1
                self.error(key_node, "duplicate-tool",
                           f"tool `{_shown(name)}` is declared twice",
                           f"it is the same tool as the one on line {first}; merge them")
                continue
            seen[canonical] = key_node
            self.check_keys(entries, TOOL_KEYS, f"tool `{_shown(name)}`", UNSUPPORTED_TOOL)
            get = {k: v for k, _, v in entries}
            tags = self.typed(get["tags"], "strs", "tags") if "tags" in get else None
            cost = self.typed(get["cost_usd"], "money", "cost_usd") if "cost_usd" in get \
                else None
            tools.append(ir.ToolDecl(canonical, tags if isinstance(tags, tuple) else (),
                                     cost if isinstance(cost, Money) else None))

    def pattern(self, raw: str, node: Node, what: str) -> str | None:
        if "\x00" in raw:
            self.error(node, "nul-in-pattern", f"{what} `{_shown(raw)}` holds a NUL byte",
                       "remove the NUL character")
            return None
        canonical = canonical_pattern(raw)
        if not canonical:
            self.error(node, "empty-pattern", f"{what} `{_shown(raw)}` names no tool",
                       'write a tool name such as `stripe/refund`, or `"*"` for every tool')
            return None
        return canonical

    # --- rules -------------------------------------------------------------------------

    def rules(self, node: Node) -> list[ir.Rule]:
        if _is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, "type", f"`rules` must be a list, found {_describe(node)}",
                       "write each rule as a list item starting with `- id: ...`")
            return []
        out: list[ir.Rule] = []
        seen_ids: dict[str, Node] = {}
        for item in node.value:
            rule = self.rule(item, seen_ids)
            if rule is not None:
                out.append(rule)
        return out

    def rule(self, item: Node, seen_ids: dict[str, Node]) -> ir.Rule | None:
        if not isinstance(item, MappingNode):
            self.error(item, "type", f"a rule must be a mapping, found {_describe(item)}",
                       "give `id`, `match` and `effect`")
            return None
        entries = self.entries(item, "a rule")
        if entries is None:
            return None
        self.check_keys(entries, RULE_KEYS, "a rule", UNSUPPORTED_RULE)
        get = {key: value for key, _, value in entries}
        rule_id = self.rule_id(item, get.get("id"), seen_ids)
        effect = self.effect(item, get.get("effect"))
        match = self.match(item, get.get("match"))
        texts = {k: self.text_of(get[k], k) if k in get else None
                 for k in ("reason", "reason_code", "notify", "modify_reason",
                           "step_up_reason", "step_up_authority", "incident_category",
                           "incident_severity")}
        modify_args: tuple[tuple[str, Any], ...] = ()
        if "modify_args" in get:
            modify_args = self.modify_args(get["modify_args"])
        if "modify_required" in get:
            self.modify_required(get["modify_required"])
        reason = texts["reason"]
        if effect is not None:
            self.effect_fields(item, effect, get, modify_args, texts["step_up_authority"])
            if effect is ir.RuleEffect.MODIFY:
                reason = reason or texts["modify_reason"]
            elif effect is ir.RuleEffect.STEP_UP:
                reason = reason or texts["step_up_reason"]
        if effect is None or match is None:
            return None
        pattern, condition, qualifiers = match
        return ir.Rule(effect, pattern, condition, reason=reason,
                       reason_code=texts["reason_code"], notify=texts["notify"],
                       rule_id=rule_id, host=qualifiers.get("host"),
                       method=qualifiers.get("method"), path=qualifiers.get("path"),
                       modify_args=modify_args, authority=texts["step_up_authority"],
                       origin=_origin(self.file, item))

    def rule_id(self, item: Node, node: Node | None, seen: dict[str, Node]) -> str | None:
        if node is None or _is_null(node):
            self.error(item, "missing-key", "a rule needs an `id`",
                       "add `id: a-short-name`; decisions and logs name the rule by it")
            return None
        text = self.text_of(node, "id")
        if text is None:
            return None
        if not text.strip():
            self.error(node, "bad-value", "a rule `id` cannot be empty",
                       "add `id: a-short-name`")
            return None
        if text in seen:
            first = seen[text].start_mark.line + 1
            self.error(node, "duplicate-id", f"rule id `{_shown(text)}` is used twice",
                       f"the first use is on line {first}; give each rule its own id")
            return None
        seen[text] = node
        return text

    def effect(self, item: Node, node: Node | None) -> ir.RuleEffect | None:
        if node is None or _is_null(node):
            self.error(item, "missing-key", "a rule needs an `effect`",
                       "add `effect: permit`, `deny`, `defer`, `shadow`, `modify` or "
                       "`step_up`")
            return None
        text = self.text_of(node, "effect")
        if text is None:
            return None
        effect = ir.EFFECT_ALIASES.get(text.strip().lower())
        if effect is None:
            self.error(node, "unknown-effect", f"unknown effect `{_shown(text)}`",
                       "use `permit`, `deny`, `defer`, `shadow`, `modify` or `step_up`")
        return effect

    def effect_fields(self, item: Node, effect: ir.RuleEffect, get: dict[str, Node],
                      modify_args: tuple[tuple[str, Any], ...],
                      authority: str | None) -> None:
        """Fields that belong to one effect: required with it, refused with any other."""
        owners = {"modify_args": ir.RuleEffect.MODIFY, "modify_reason": ir.RuleEffect.MODIFY,
                  "modify_required": ir.RuleEffect.MODIFY,
                  "step_up_authority": ir.RuleEffect.STEP_UP,
                  "step_up_reason": ir.RuleEffect.STEP_UP}
        for key, owner in owners.items():
            if key in get and effect is not owner:
                self.error(get[key], "effect-mismatch",
                           f"`{key}` belongs to `{owner.value}` rules, not `{effect.value}`",
                           f"remove it, or set `effect: {owner.value}`")
        if effect is ir.RuleEffect.MODIFY and "modify_args" not in get:
            self.error(item, "missing-key", "a `modify` rule needs `modify_args`",
                       "map each argument to its new value; `null` removes it")
        given = get.get("step_up_authority")
        typed_wrong = given is not None and not isinstance(given, ScalarNode)
        if effect is ir.RuleEffect.STEP_UP and not (authority or "").strip() \
                and not typed_wrong:
            self.error(given or item, "missing-key", "a `step_up` rule needs `step_up_authority`",
                       'name who may approve: `step_up_authority: "finance_manager"`')

    def match(self, item: Node, node: Node | None
              ) -> tuple[str, ir.Expr | None, dict[str, str]] | None:
        if node is None or _is_null(node):
            self.error(item, "missing-tool", "a rule needs `match.tool`",
                       'add `match: {tool: "stripe/refund"}`; `"*"` matches every tool')
            return None
        entries = self.entries(node, "`match`")
        if entries is None:
            return None
        self.check_keys(entries, MATCH_KEYS, "`match`", UNSUPPORTED_MATCH)
        get = {key: value for key, _, value in entries}
        pattern: str | None = None
        raw = self.text_of(get["tool"], "tool") if "tool" in get else None
        if raw is None:
            if "tool" not in get or _is_null(get["tool"]):
                self.error(node, "missing-tool", "a rule needs `match.tool`",
                           'add `tool: "stripe/refund"`; `"*"` matches every tool')
        else:
            pattern = self.pattern(raw, get["tool"], "tool pattern")
        condition = self.condition(get["when"], "when") if "when" in get else None
        qualifiers = {}
        for key in ("host", "method", "path"):
            value = self.text_of(get[key], key) if key in get else None
            if value is not None:
                qualifiers[key] = value
        return None if pattern is None else (pattern, condition, qualifiers)

    def modify_args(self, node: Node) -> tuple[tuple[str, Any], ...]:
        entries = self.entries(node, "`modify_args`")
        if entries is None:
            return ()
        if not entries:
            self.error(node, "bad-value", "`modify_args` changes nothing",
                       "map each argument to its new value; `null` removes it")
        out: list[tuple[str, Any]] = []
        for key, key_node, value in entries:
            path = key.removeprefix("args.")
            if not path or any(not part for part in path.split(".")):
                self.error(key_node, "bad-value", f"`{_shown(key)}` is not an argument path",
                           "write an argument name, or a dotted path such as `options.limit`")
                continue
            data = self.data(value, key)
            if data is not _BAD:
                out.append((key, data))
        return tuple(out)

    def modify_required(self, node: Node) -> None:
        if not (isinstance(node, ScalarNode) and node.tag == BOOL):
            self.error(node, "type", f"`modify_required` must be `true` or `false`, found "
                       f"{_describe(node)}", "write `modify_required: true`, or remove it")
        elif not _bool(node):
            self.error(node, "unsupported-value", "optional modifications are not supported",
                       "a `modify` rule always requires the rewritten arguments; remove "
                       "`modify_required: false`")

    def data(self, node: Node, key: str, depth: int = 0) -> Any:
        """Plain data for an argument value: mappings, lists, text, numbers, booleans.
        Bounded in size and depth: anchors can make a small file name a huge value."""
        self.modify_budget -= 1
        if self.modify_budget < 0 or depth > _MAX_DATA_DEPTH:
            if self.modify_budget >= -1:
                self.modify_budget = -2  # report once
                self.error(node, "too-large", f"the value of `{_shown(key)}` is too large "
                           "or nested too deeply", "write the value out plainly")
            return _BAD
        if isinstance(node, MappingNode):
            entries = self.entries(node, f"`{_shown(key)}`")
            if entries is None:
                return _BAD
            out = {name: self.data(value, key, depth + 1) for name, _, value in entries}
            return _BAD if any(v is _BAD for v in out.values()) else out
        if isinstance(node, SequenceNode):
            items = [self.data(item, key, depth + 1) for item in node.value]
            return _BAD if any(v is _BAD for v in items) else items
        if isinstance(node, ScalarNode) and node.tag == FLOAT:
            number = self.decimal(node, key)
            return _BAD if number is None else float(number)
        return self.scalar(node, key)

    # --- budget ------------------------------------------------------------------------

    def budget(self, key_node: Node, node: Node) -> ir.Budget | None:
        entries = self.entries(node, "`budget`")
        if entries is None:
            return None
        self.check_keys(entries, BUDGET_KEYS, "`budget`", UNSUPPORTED_BUDGET)
        get = {key: value for key, _, value in entries if not _is_null(value)}
        # As in the runtime, a zero (or empty) limit means the limit is not set.
        session = self.money(get["session_usd"], "session_usd") if "session_usd" in get \
            else None
        daily = self.money(get["daily_usd"], "daily_usd") if "daily_usd" in get else None
        calls = self.count(get["max_calls"], "max_calls") if "max_calls" in get else None
        on_exceed = ir.RuleEffect.DENY
        if "on_exceed" in get:
            text = self.text_of(get["on_exceed"], "on_exceed")
            effect = ir.EFFECT_ALIASES.get(text.strip().lower()) if text is not None else None
            if effect in (ir.RuleEffect.DENY, ir.RuleEffect.DEFER):
                on_exceed = effect
            elif text is not None:
                self.error(get["on_exceed"], "unknown-effect",
                           f"`on_exceed` `{_shown(text)}` is not `deny` or `defer`",
                           "use `on_exceed: deny` or `on_exceed: defer`")
        session = session if session is not None and session.amount else None
        daily = daily if daily is not None and daily.amount else None
        calls = calls or None
        if session is None and daily is None and calls is None:
            return None
        return ir.Budget("session", session, daily, calls, on_exceed=on_exceed,
                         origin=_origin(self.file, key_node))

    # --- settings blocks ---------------------------------------------------------------

    def block(self, kind: str, name: str | None, key_node: Node, node: Node,
              schema: dict[str, str]) -> list[ir.Block]:
        fields = self.fields(node, f"`{kind}`", schema)
        return [ir.Block(kind, name, fields, _origin(self.file, key_node))] if fields else []

    def fields(self, node: Node, where: str, schema: dict[str, str],
               prefix: str = "") -> tuple[tuple[str, ir.BlockValue], ...]:
        """Typed fields of a block; nested mappings become dotted keys (`critical.sla_seconds`)."""
        out: list[tuple[str, ir.BlockValue]] = []
        level = sorted({k[len(prefix):].split(".")[0] for k in schema if k.startswith(prefix)})
        for key, key_node, value in self.entries(node, where) or []:
            dotted = prefix + key
            if dotted in schema:
                typed = self.typed(value, schema[dotted], key)
                if typed is not _BAD:
                    out.append((dotted, typed))
            elif key in level:
                if not _is_null(value):
                    out.extend(self.fields(value, f"`{dotted}`", schema, dotted + "."))
            else:
                self.unknown_key(key_node, key, where, level)
        return tuple(out)

    def typed(self, node: Node, kind: str, key: str) -> Any:
        if _is_null(node):
            return None
        if kind == "money":
            money = self.money(node, key)
            return _BAD if money is None else money
        if kind == "count":
            count = self.count(node, key)
            return _BAD if count is None else count
        if kind == "strs":
            if not isinstance(node, SequenceNode):
                self.error(node, "type", f"`{key}` must be a list, found {_describe(node)}",
                           f'write `{key}: ["a", "b"]`')
                return _BAD
            items = [self.list_item(item, key) for item in node.value]
            return _BAD if None in items else tuple(items)
        text = self.text_of(node, key)
        if text is None:
            return _BAD
        if kind == "expr" and text.strip() not in ("", "true"):
            self.condition(node, key)
        return text

    # --- scalars -----------------------------------------------------------------------

    def entries(self, node: Node, where: str) -> Entries | None:
        """The key/value pairs of a mapping (merge keys applied, duplicate keys refused)."""
        if _is_null(node):
            return []
        if not isinstance(node, MappingNode):
            self.error(node, "type", f"{where} must be a mapping, found {_describe(node)}",
                       "write `key: value` lines indented under it")
            return None
        out: Entries = []
        seen: dict[str, Node] = {}
        for key_node, value in node.value:
            if key_node.tag == MERGE:
                continue
            if not isinstance(key_node, ScalarNode) or _is_null(key_node):
                self.error(key_node, "type", f"keys in {where} must be names, found "
                           f"{_describe(key_node)}", "write the key as plain text")
                continue
            key = key_node.value
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.error(key_node, "duplicate-key",
                           f"key `{_shown(key)}` appears twice in {where}",
                           f"the first is on line {first}; keep one")
                continue
            seen[key] = key_node
            out.append((key, key_node, value))
        for key, key_node, value in self.merged(node, where):
            if key not in seen:
                seen[key] = key_node
                out.append((key, key_node, value))
        return out

    def merged(self, node: MappingNode, where: str) -> Entries:
        """Pairs brought in by YAML merge keys (`<<: *defaults`); earlier sources win.
        The walk is bounded: merges of merges could otherwise multiply without end."""
        out: Entries = []
        pending: list[tuple[MappingNode, int]] = [(node, 0)]
        visits = 0
        while pending:
            current, depth = pending.pop(0)
            for key_node, value in current.value:
                if key_node.tag != MERGE:
                    continue
                for source in value.value if isinstance(value, SequenceNode) else [value]:
                    visits += 1
                    if not isinstance(source, MappingNode) or depth >= _MAX_MERGE_DEPTH \
                            or visits > _MAX_MERGES:
                        self.error(source, "bad-merge", f"`<<` in {where} must merge a "
                                   "mapping or a list of mappings",
                                   "merge a few anchored mappings, not merges of merges")
                        return out
                    out.extend((k.value, k, v) for k, v in source.value
                               if isinstance(k, ScalarNode) and k.tag not in (MERGE, NULL))
                    pending.append((source, depth + 1))
        return out

    def check_keys(self, entries: Entries, allowed: tuple[str, ...], where: str,
                   unsupported: tuple[str, ...] = ()) -> None:
        for key, key_node, _ in entries:
            if key in allowed:
                continue
            if key in unsupported:
                self.error(key_node, "unsupported-key",
                           f"`{_shown(key)}` in {where} is not supported yet",
                           "faramesh cannot enforce it; remove it to load the rest of "
                           "the policy without that protection")
            else:
                self.unknown_key(key_node, key, where, allowed)

    def unknown_key(self, node: Node, key: str, where: str, allowed: Any) -> None:
        options = list(allowed)
        if where == "a rule" and key in MATCH_KEYS:
            hint = f"`{key}` goes under `match:`"
        elif key in _SPELLING_HINTS and _SPELLING_HINTS[key] in options:
            hint = f"did you mean `{_SPELLING_HINTS[key]}`?"
        elif close := difflib.get_close_matches(key, options, n=1):
            hint = f"did you mean `{close[0]}`?"
        else:
            hint = "expected one of " + ", ".join(f"`{o}`" for o in options)
        self.error(node, "unknown-key", f"unknown key `{_shown(key)}` in {where}", hint)

    def list_item(self, node: Node, key: str) -> str | None:
        if _is_null(node):
            self.error(node, "type", f"`{key}` holds an empty item", "remove it")
            return None
        return self.text_of(node, key)

    def text_of(self, node: Node | None, key: str) -> str | None:
        """A text field. Numbers and booleans are taken as written, as the runtime does."""
        if node is None or _is_null(node):
            return None
        if not isinstance(node, ScalarNode):
            self.error(node, "type", f"`{key}` must be text, found {_describe(node)}",
                       f'write `{key}: "..."` on one line')
            return None
        if node.tag not in _TEXT_TAGS:
            self.unsupported_tag(node)
            return None
        return str(node.value)

    def scalar(self, node: Node, key: str) -> Any:
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            return None
        if node.tag == BOOL:
            return _bool(node)
        if node.tag == INT:
            number = self.decimal(node, key)
            return _BAD if number is None else int(number)
        if node.tag in (STR, TIMESTAMP):
            return str(node.value)
        self.unsupported_tag(node)
        return _BAD

    def unsupported_tag(self, node: Node) -> None:
        self.error(node, "unsupported-tag", f"yaml tag `{_shown(node.tag)}` is not supported",
                   "remove the tag and write the value plainly")

    def decimal(self, node: Node, key: str) -> Decimal | None:
        if not (isinstance(node, ScalarNode) and node.tag in (INT, FLOAT)):
            self.error(node, "type", f"`{key}` must be a number, found {_describe(node)}",
                       "write the number without quotes")
            return None
        value = _number_value(node)
        if value is None or not value.is_finite():
            self.error(node, "bad-value", f"`{key}` must be a finite number, found "
                       f"{_describe(node)}", "write a plain number such as `25` or `2.5`")
            return None
        return value

    def money(self, node: Node, key: str) -> Money | None:
        value = self.decimal(node, key)
        if value is None:
            return None
        if value < 0:
            self.error(node, "bad-value", f"`{key}` cannot be negative, found "
                       f"{_describe(node)}", "amounts are in US dollars, zero or more")
            return None
        return Money(value)

    def count(self, node: Node, key: str) -> int | None:
        value = self.decimal(node, key)
        if value is None:
            return None
        if value < 0 or value != value.to_integral_value():
            self.error(node, "bad-value", f"`{key}` must be a whole number of zero or more, "
                       f"found {_describe(node)}", "write a count such as `100`")
            return None
        return int(value)

    # --- conditions --------------------------------------------------------------------

    def condition(self, node: Node, key: str) -> ir.Expr | None:
        """A `when` string (expr-lang style) as an IR expression; `true` or empty is None."""
        text = self.text_of(node, key)
        if text is None or text.strip() in ("", "true"):
            return None
        line, column = self.content_start(node)
        try:
            expr = parse_expression(text, self.sink, line, column)
            return None if expr is None else resolve_names(self.runtime_names(expr, node))
        except RecursionError:
            self.error(node, "too-deep", f"`{key}` is nested too deeply",
                       "split the condition over several rules")
            return None

    def runtime_names(self, expr: ir.Expr, node: Node) -> ir.Expr:
        """The runtime's own variable names: `tool_name` is the tool; tool metadata,
        `vars` and `delegation` have no counterpart here yet and are refused."""
        if isinstance(expr, ir.Var):
            head = expr.path[0]
            if expr.path == ("tool_name",):
                return ir.Var(("tool",))
            if head in ("vars", "delegation") or (head == "tool" and len(expr.path) > 1):
                name = ".".join(expr.path)
                self.error(node, "unsupported-variable",
                           f"`{_shown(name)}` is not available to conditions yet",
                           "faramesh cannot evaluate it; rewrite the condition without it")
            return expr
        if isinstance(expr, ir.Compare):
            return ir.Compare(expr.op, self.runtime_names(expr.left, node),
                              self.runtime_names(expr.right, node))
        if isinstance(expr, ir.And | ir.Or):
            return type(expr)(tuple(self.runtime_names(i, node) for i in expr.items))
        if isinstance(expr, ir.Not):
            return ir.Not(self.runtime_names(expr.item, node))
        if isinstance(expr, ir.ListLit):
            return ir.ListLit(tuple(self.runtime_names(i, node) for i in expr.items))
        if isinstance(expr, ir.Call):
            return ir.Call(expr.name, tuple(self.runtime_names(a, node) for a in expr.args),
                           tuple((k, self.runtime_names(v, node)) for k, v in expr.kwargs))
        return expr

    def content_start(self, node: Node) -> tuple[int, int]:
        """Where a scalar's text begins, so expression errors point into the file."""
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        style = node.style if isinstance(node, ScalarNode) else None
        if style in ('"', "'"):
            column += 1
        elif style in ("|", ">"):  # a block scalar's text starts on the next line
            line += 1
            src = self.lines[line - 1] if line - 1 < len(self.lines) else ""
            column = len(src) - len(src.lstrip(" ")) + 1
        return line, column


class _Bad:
    """A value that could not be lowered (its error is already recorded)."""

    def __repr__(self) -> str:
        return "<bad>"


_BAD: Any = _Bad()


def _origin(file: str, node: Node) -> ir.Origin:
    return ir.Origin(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL


def _bool(node: ScalarNode) -> bool:
    return str(node.value).lower() in ("yes", "true", "on", "y")


def _number_value(node: ScalarNode) -> Decimal | None:
    try:
        if node.tag == INT:
            return Decimal(_CONSTRUCTOR.construct_yaml_int(node))
        try:
            return Decimal(str(node.value).replace("_", ""))
        except InvalidOperation:  # `.inf`, `1:30.5` and other YAML 1.1 spellings
            return Decimal(repr(_CONSTRUCTOR.construct_yaml_float(node)))
    except (ValueError, IndexError, ArithmeticError, yaml.YAMLError):
        return None


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL:
        return "nothing"
    kind = {INT: "number", FLOAT: "number", BOOL: "boolean"}.get(node.tag, "text")
    return f"{kind} `{_shown(str(node.value))}`"


def _shown(text: str, limit: int = 60) -> str:
    """User text made safe to print inside backticks: control characters escaped, clipped."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return out + "..." if len(text) > limit else out
