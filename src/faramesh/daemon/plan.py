"""`plan`: what putting a new policy in force would change, read-only (no daemon needed).

The policy diff: per agent, rules added or removed (by effect, pattern, qualifiers and
condition text) and every other part changed, against the version in force
(`DATA_DIR/policies/`). The decision diff: recent records (`DATA_DIR/records.db`) replayed
against the new policy, as far as a record allows (masked arguments, no history, unknown
session counters); records decided outside the policy engine (kill switch, budgets, rate
limits, scanners) are counted, not replayed. Printing is cli/plan.py's.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from faramesh.daemon.versions import PolicyVersions
from faramesh.fpl.expressions import format_expr, format_literal
from faramesh.policy import ir
from faramesh.policy.decision import Code, Decision
from faramesh.policy.evaluator import Policy

POLICY_CODES = frozenset({
    Code.RULE_PERMIT, Code.POLICY_DENY, Code.POLICY_DEFER, Code.MANDATORY_DENY,
    Code.DEFAULT_PERMIT, Code.DEFAULT_DENY, Code.DEFAULT_DEFER, Code.SHADOW, Code.MODIFIED,
    Code.STEP_UP_REQUIRED, Code.PHASE_DENY, Code.IDENTITY_UNRESOLVED, Code.INVALID_ACTION})
MAX_RECORDS = 100_000


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # rule, rule_order, default, budget, rate_limit, phase, redaction, ...
    op: str  # "+" added, "-" removed, "~" changed
    text: str  # what is in force after the change (what goes, for "-")
    old: str | None = None  # "~": what it was


@dataclass(frozen=True, slots=True)
class AgentDiff:
    agent_id: str
    status: str  # added | removed | changed
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class InForce:
    version: str
    applied_at: str | None
    source: str | None
    policy: ir.PolicyIR


# --- the policy diff ----------------------------------------------------------------------

def value_text(value: Any) -> str:
    if isinstance(value, StrEnum):  # an effect: a word, not a string
        return value.value
    if isinstance(value, tuple | list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return format_literal(value)


def rule_text(rule: ir.Rule) -> str:
    """A rule as its effect, pattern, qualifiers and condition: what decides a match."""
    words = ["deny!" if rule.mandatory else rule.effect.value, rule.pattern]
    words += [f"{key} {value_text(value)}" for key, value in
              (("host", rule.host), ("method", rule.method), ("path", rule.path))
              if value is not None]
    if rule.condition is not None:
        words += ["if", format_expr(rule.condition)]
    words += [f"set {path} = {value_text(value)}" for path, value in rule.modify_args]
    if rule.authority is not None:
        words.append(f"authority {value_text(rule.authority)}")
    return " ".join(words)


def _fields_text(fields: Iterable[tuple[str, Any]]) -> str:
    return " ".join(f"{k} {value_text(v)}" for k, v in fields if v is not None and v != ())


def _keyed(agent: ir.Agent) -> dict[str, dict[str, str]]:
    """Everything of an agent but its rules, by kind, then by name, as text."""
    return {
        "budget": {b.budget_id: _fields_text(
            (("max", b.max), ("daily", b.daily), ("max_calls", b.max_calls),
             ("warn_at", b.warn_at), ("on_exceed", b.on_exceed),
             ("window", b.window))) for b in agent.budgets},
        "rate_limit": {r.pattern: f"{r.count} per {r.window}" for r in agent.rate_limits},
        "phase": {p.name: _fields_text((("tools", p.tools), ("duration", p.duration),
                                        ("next", p.next))) for p in agent.phases},
        "redaction": {r.pattern: value_text(r.fields) for r in agent.redactions},
        "delegation": {d.target_agent: _fields_text(
            (("scope", d.scope), ("ttl", d.ttl), ("ceiling", d.ceiling)))
            for d in agent.delegations},
        "setting": {k: value_text(v) for k, v in agent.settings},
        "block": _blocks(agent.blocks),
    }


def _blocks(blocks: Iterable[ir.Block]) -> dict[str, str]:
    return {b.kind + (f" {b.name}" if b.name else ""): _fields_text(b.fields) or "{}"
            for b in blocks}


def _rule_lines(agent: ir.Agent) -> list[str]:
    lines = [rule_text(r) for r in agent.rules]
    for phase in agent.phases:
        lines += [f"[phase {phase.name}] {rule_text(r)}" for r in phase.rules]
    return lines


def _named_changes(kind: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    out = [Change(kind, "-", f"{name}: {old[name]}") for name in old if name not in new]
    for name, text in new.items():
        if name not in old:
            out.append(Change(kind, "+", f"{name}: {text}"))
        elif old[name] != text:
            out.append(Change(kind, "~", f"{name}: {text}", f"{name}: {old[name]}"))
    return out


def diff_agent(old: ir.Agent, new: ir.Agent) -> list[Change]:
    old_rules, new_rules = _rule_lines(old), _rule_lines(new)
    removed, added = Counter(old_rules), Counter(new_rules)
    removed, added = removed - added, added - removed
    changes = [Change("rule", "-", line) for line in old_rules if removed.pop(line, 0)]
    changes += [Change("rule", "+", line) for line in new_rules if added.pop(line, 0)]
    kept_old = [line for line in old_rules if line in new_rules]
    kept_new = [line for line in new_rules if line in old_rules]
    if kept_old != kept_new:
        changes.append(Change("rule_order", "~", "rules kept are in another order; the first "
                                                 "match may differ"))
    if old.default != new.default and old.agent_id:
        changes.append(Change("default", "~", new.default.value, old.default.value))
    old_keyed, new_keyed = _keyed(old), _keyed(new)
    for kind, named in new_keyed.items():
        changes += _named_changes(kind, old_keyed[kind], named)
    return changes


def diff_policies(old: ir.PolicyIR, new: ir.PolicyIR) -> list[AgentDiff]:
    """The agents whose policy changes, in the new policy's order, then those removed."""
    before = {a.agent_id: a for a in old.agents}
    after = {a.agent_id: a for a in new.agents}
    empty = ir.Agent("")
    out = []
    for agent_id, agent in after.items():
        if agent_id not in before:
            changes = [Change("default", "+", agent.default.value), *diff_agent(empty, agent)]
            out.append(AgentDiff(agent_id, "added", tuple(changes)))
        elif changes := diff_agent(before[agent_id], agent):
            out.append(AgentDiff(agent_id, "changed", tuple(changes)))
    out += [AgentDiff(agent_id, "removed", ()) for agent_id in before if agent_id not in after]
    return out


def diff_top_level(old: ir.PolicyIR, new: ir.PolicyIR) -> list[Change]:
    """Stack-wide blocks (runtime, trust, identity, ...) added, removed or changed."""
    return _named_changes("block", _blocks(old.blocks), _blocks(new.blocks))


def load_in_force(data_dir: Path) -> InForce | None:
    """The last version the daemon put in force, or None when none was ever applied."""
    listing = data_dir / "policies" / "versions.json"
    if not listing.is_file():  # PolicyVersions would create the directory
        return None
    versions = PolicyVersions(listing.parent)
    history = versions.history()
    if not history:
        return None
    last = history[-1]
    version = str(last.get("version", ""))
    return InForce(version, last.get("applied_at"), last.get("source"),
                   versions.load(version).ir)


# --- the decision diff --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DecisionChange:
    action_id: str | None
    time: str | None
    agent_id: str | None
    tool: str | None
    old_effect: str | None
    old_code: str | None
    old_rule_ref: str | None
    new_effect: str
    new_code: str
    new_rule_ref: str | None


@dataclass(frozen=True, slots=True)
class DecisionDiff:
    since: str
    replayed: int  # records re-evaluated against the new policy
    not_replayed: int  # decided outside the policy engine (kill switch, budgets, ...)
    changed: int
    changes: tuple[DecisionChange, ...]  # the first `limit` of them

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changes": [asdict(c) for c in self.changes]}


def load_decisions(db_path: Path, since_iso: str,
                   limit: int = MAX_RECORDS) -> list[dict[str, Any]]:
    """Decision records at or after `since_iso`, oldest first, read without writing."""
    if not db_path.is_file():
        return []
    uri = db_path.resolve().as_uri()
    try:
        rows = _select(f"{uri}?mode=ro", since_iso, limit)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        # A WAL-mode file whose -shm is gone cannot be opened read-only: read the file as
        # it is (no daemon is writing it then).
        rows = _select(f"{uri}?immutable=1", since_iso, limit)
    return [orjson.loads(row[0]) for row in rows]


def _select(uri: str, since_iso: str, limit: int) -> list[Any]:
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        return conn.execute("select body from records where kind = 'decision' and "
                            "time >= ? order by sequence limit ?",
                            (since_iso, limit)).fetchall()


def replay_action(record: Mapping[str, Any]) -> dict[str, Any]:
    """The action the policy engine saw, as far as the record kept it."""
    session: dict[str, Any] = {"id": record.get("session_id"), "history": []}
    for key in ("purpose", "phase"):
        if record.get(key) is not None:
            session[key] = record[key]
    action = {"agent": record.get("agent_id"), "tool": record.get("tool"),
              "args": record.get("args") or {}, "principal": record.get("principal") or {},
              "time": record.get("time"), "session": session}
    if record.get("model") is not None:
        action["model"] = record["model"]
    return action


def diff_decisions(records: Iterable[Mapping[str, Any]],
                   evaluate: Callable[[Mapping[str, Any]], Decision], since: str,
                   limit: int) -> DecisionDiff:
    """Replay each record with `evaluate` (a new `Policy.evaluate`); keep the changes."""
    replayed = not_replayed = changed = 0
    changes: list[DecisionChange] = []
    for record in records:
        if record.get("code") not in POLICY_CODES:
            not_replayed += 1
            continue
        replayed += 1
        decision = evaluate(replay_action(record))
        if (decision.effect.value, decision.code.value) == (record.get("effect"),
                                                            record.get("code")):
            continue
        changed += 1
        if len(changes) < limit:
            changes.append(DecisionChange(
                record.get("action_id"), record.get("time"), record.get("agent_id"),
                record.get("tool"), record.get("effect"), record.get("code"),
                record.get("rule_ref"), decision.effect.value, decision.code.value,
                decision.rule_ref))
    return DecisionDiff(since, replayed, not_replayed, changed, tuple(changes))


def plan_decisions(data_dir: Path, policy: Policy, since: str, limit: int) -> DecisionDiff:
    return diff_decisions(load_decisions(data_dir / "records.db", since), policy.evaluate,
                          since, limit)
