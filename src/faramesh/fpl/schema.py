"""What may be written where: the blocks, their fields and the type of each field.

`OPEN` blocks (provider, identity, trust) take any field: their keys belong to the
provider they configure. Everything else is closed: an unknown field is an error that
names the fields that are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Value types a field may hold.
STRING = "string"          # "text" (or a declared var)
WORD = "word"              # a bare identifier or a string
EFFECT = "effect"          # permit | deny | defer (and aliases)
MONEY = "money"            # $50
DURATION = "duration"      # 15m (a quoted "15m" is accepted)
SIZE = "size"              # 10mb
INT = "int"                # 12
NUMBER = "number"          # 12 or 0.5
RATIO = "ratio"            # 0 <= x <= 1
BOOL = "bool"
STRINGS = "strings"        # ["a", "b"] (a single value is a one-item list)
WORDS = "words"            # refund read_charge
ANY = "any"                # an integer, size, duration, string or word


@dataclass(frozen=True)
class BlockSchema:
    fields: dict[str, str] = field(default_factory=dict)
    named: bool | None = None  # True: a name is required; False: forbidden; None: optional
    repeatable_fields: frozenset[str] = frozenset()
    open: bool = False  # any field name allowed (typed ANY)
    children: frozenset[str] = frozenset()  # nested blocks / statements allowed


RULE_STATEMENTS = frozenset({"rule"})

BLOCKS: dict[str, BlockSchema] = {
    "budget": BlockSchema({"max": MONEY, "daily": MONEY, "max_calls": INT, "warn_at": RATIO,
                           "on_exceed": EFFECT, "window": DURATION}, named=True),
    "phase": BlockSchema({"duration": DURATION, "next": WORD, "tools": STRINGS},
                         named=True, children=frozenset({"rule", "rules"})),
    "delegate": BlockSchema({"target_agent": WORD, "scope": STRING, "ttl": DURATION,
                             "ceiling": WORD}),
    "egress": BlockSchema({"allow": STRINGS, "deny": STRINGS, "on_violation": EFFECT},
                          named=False),
    "model_policy": BlockSchema({"allow": STRINGS, "deny": STRINGS, "on_violation": EFFECT},
                                named=False),
    "session": BlockSchema({"max_duration": DURATION, "idle_timeout": DURATION,
                            "purpose": STRING, "max_calls": INT, "history": INT},
                           named=False),
    "spawn": BlockSchema({"max_concurrent": INT, "allowed_types": STRINGS, "max_depth": INT},
                         named=False),
    "completion_gate": BlockSchema({"require": STRINGS}, named=False,
                                   repeatable_fields=frozenset({"require"})),
    "alert": BlockSchema({"on": WORD, "notify": STRING, "channel": STRING,
                          "threshold": NUMBER, "window": DURATION}),
    "ambient": BlockSchema({"on_exceed": EFFECT}, named=False, open=True),
    "selector": BlockSchema({"source": STRING, "cache": DURATION, "timeout": DURATION,
                             "on_unavailable": EFFECT, "on_timeout": EFFECT}, named=True),
    "credential": BlockSchema({"backend": WORD, "path": STRING, "scope": WORDS,
                               "max_scope": STRING, "ttl": DURATION, "provider": WORD},
                              named=True),
    "tool": BlockSchema({"tags": STRINGS, "cost": MONEY}, named=True),
    # Pre-execution and output scanners (docs/scanners.md); the name is the scanner.
    "scan": BlockSchema({"on": WORD, "on_output": WORD, "tools": STRINGS,
                         "except_tools": STRINGS, "fields": STRINGS, "allow": STRINGS},
                        named=True),
    # From the runtime's policy YAML; keys are dotted (`critical.sla_seconds = 300`).
    "parallel_budget": BlockSchema(named=False, open=True),
    "defer_priority": BlockSchema(named=False, open=True),
    "runtime": BlockSchema({"mode": WORD, "wal_dir": STRING, "data_dir": STRING,
                            "socket": STRING, "control_socket": STRING, "http_listen": STRING,
                            "cold_start_deny_window": DURATION, "backend": WORD,
                            "durability": WORD, "wal_retention": DURATION,
                            "strip_ambient_credentials": BOOL, "log_level": WORD},
                           named=False),
    "provider": BlockSchema(named=True, open=True),
    "identity": BlockSchema(named=None, open=True),
    "trust": BlockSchema(named=None, open=True),
    "system": BlockSchema({"version": STRING, "on_policy_load_failure": WORD,
                           "max_output_bytes": INT}, named=None),
}

AGENT_SETTINGS = {"default": EFFECT, "model": STRING, "framework": STRING,
                  "version": STRING, "description": STRING, "owner": STRING}
AGENT_BLOCKS = frozenset({"rules", "budget", "phase", "delegate", "egress", "model_policy",
                          "session", "spawn", "completion_gate", "alert", "ambient",
                          "selector", "credential", "tool", "parallel_budget",
                          "defer_priority", "scan"})
TOP_BLOCKS = frozenset({"agent", "runtime", "provider", "identity", "trust", "system"})
# Blocks that belong to an agent but may also stand at the top level for flat policies.
FLAT_AGENT_BLOCKS = AGENT_BLOCKS

ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("runtime", "mode"): ("enforce", "audit"),
    ("runtime", "durability"): ("fsync", "os"),
    ("runtime", "backend"): ("sqlite", "memory", "postgres", "redis"),
    ("delegate", "ceiling"): ("permit", "deny", "defer", "inherited"),
    ("alert", "on"): ("deny", "defer", "permit", "budget_warning", "budget_exceeded",
                      "rate_exceeded", "kill_switch", "any"),
    ("scan", "on"): ("deny", "redact", "warn"),
    ("scan", "on_output"): ("deny", "redact", "warn"),
}
