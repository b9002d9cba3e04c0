"""The table of the IR's data form: each record's keys, the IR attribute behind each key
and its value kind, in the order written; the tags and limits both directions share."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from faramesh.policy import ir
from faramesh.policy.values import DataSize, Duration, Money

FORMAT_VERSION = 1
Path = tuple[object, ...]  # keys and indexes from the root; a trailing None: the key itself
Mark = tuple[int, int]  # 1-based line and column


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One key of a record: its name in the data, the IR attribute, and its value kind."""

    key: str
    attr: str
    kind: str
    required: bool = False


def _fields(*specs: tuple[str, str, str] | tuple[str, str, str, bool]) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


# Key order here is the order written. Kind `list` holds records of the type in NESTED.
RECORDS: dict[type[Any], tuple[Field, ...]] = {
    ir.Import: _fields(("source", "source", "name", True), ("alias", "alias", "name")),
    ir.Block: _fields(("kind", "kind", "name", True), ("name", "name", "name"),
                      ("fields", "fields", "settings")),
    ir.Agent: _fields(("id", "agent_id", "name", True), ("default", "default", "default"),
                      ("settings", "settings", "settings"), ("tools", "tools", "tools"),
                      ("rules", "rules", "list"), ("phases", "phases", "list"),
                      ("rate_limits", "rate_limits", "list"), ("budgets", "budgets", "list"),
                      ("redactions", "redactions", "list"),
                      ("delegations", "delegations", "list"), ("blocks", "blocks", "list")),
    ir.Rule: _fields(("effect", "effect", "effect", True), ("tool", "pattern", "pattern", True),
                     ("when", "condition", "condition"), ("reason", "reason", "text"),
                     ("reason_code", "reason_code", "text"), ("notify", "notify", "text"),
                     ("reeval", "reeval", "text"), ("id", "rule_id", "text"),
                     ("host", "host", "text"), ("method", "method", "text"),
                     ("path", "path", "text"), ("authority", "authority", "text"),
                     ("modify_args", "modify_args", "modify")),
    ir.Phase: _fields(("name", "name", "name", True), ("tools", "tools", "patterns"),
                      ("duration", "duration", "duration"), ("next", "next", "name"),
                      ("rules", "rules", "list")),
    ir.RateLimit: _fields(("tool", "pattern", "pattern", True), ("limit", "count", "count", True),
                          ("per", "window", "duration", True)),
    ir.Budget: _fields(("id", "budget_id", "name", True), ("max", "max", "money"),
                       ("daily", "daily", "money"), ("max_calls", "max_calls", "count"),
                       ("warn_at", "warn_at", "ratio"), ("on_exceed", "on_exceed", "exceed"),
                       ("window", "window", "duration")),
    ir.Redaction: _fields(("tool", "pattern", "pattern", True),
                          ("fields", "fields", "texts", True)),
    ir.Delegation: _fields(("agent", "target_agent", "name", True), ("scope", "scope", "text"),
                           ("ttl", "ttl", "duration"), ("ceiling", "ceiling", "ceiling")),
}
NESTED: dict[str, type[Any]] = {"imports": ir.Import, "blocks": ir.Block, "agents": ir.Agent,
                                "rules": ir.Rule, "phases": ir.Phase,
                                "rate_limits": ir.RateLimit, "budgets": ir.Budget,
                                "redactions": ir.Redaction, "delegations": ir.Delegation}
WHAT = {ir.Import: "an import", ir.Block: "a block", ir.Agent: "an agent", ir.Rule: "a rule",
        ir.Phase: "a phase", ir.RateLimit: "a rate limit", ir.Budget: "a budget",
        ir.Redaction: "a redaction", ir.Delegation: "a delegation"}
TOP_KEYS = ("version", "source", "imports", "blocks", "agents")
CEILINGS = ("permit", "deny", "defer", "inherited")
# One-key mappings that spell a value the plain form cannot: {"float": "0.1"}.
TAGS = ("string", "float", "decimal", "money", "duration", "size", "tuple", "map")
_TAG_KINDS = {"decimal": Decimal, "money": Money, "duration": Duration, "size": DataSize}
_RESERVED_WORDS = frozenset({"true", "false", "nil", "null", "and", "or", "not", "in",
                             "contains", "matches"})
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLOCK_VALUE_HINT = ("a block field holds text, numbers, money, durations, sizes, "
                     "`true`/`false`, null or lists of them")
MAX_DEPTH = 48  # nesting of the whole document
MAX_NODES = 200_000  # YAML aliases can make a small file name a huge document
