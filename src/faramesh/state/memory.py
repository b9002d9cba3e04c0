"""The embedded state backend: all daemon state in plain dicts, in the daemon's process.

Every mutation builds its op and then changes state through the same function `apply`
uses, so live state and replayed state come from the same code. No method awaits anything,
so each one runs as one step of the event loop: atomic, as the protocol requires. No clock
is read; times come from the caller (aware datetimes, kept in UTC).

Ops (JSON-ready lists; `iso` is an ISO 8601 UTC time; `null` is None):

- `["kill.engage", agent_id|null, reason, iso]`: engage the switch for one agent, or
  (null) for every agent; engaging again replaces the reason and the time.
- `["kill.release", agent_id|null, iso]`: release that switch.
- `["session.touch", agent_id, session_id, iso, purpose|null, tool|null]`: open the
  session at `iso` if new; `last_seen` becomes the later of the two times; a tool counts
  the call. A non-null tool (as `last_tool`) or purpose replaces the stored one only when
  `iso` is not older than `last_seen`, so touches replayed out of order end the same.
- `["session.phase", agent_id, session_id|null, phase, iso]`: move one session (opened at
  `iso` if new) or every session of the agent to `phase`, started at `iso`.
- `["session.end", agent_id, session_id]`: forget the session and its history.
- `["history.push", agent_id, session_id, {"tool", "time": iso, "args", "action_id"},
  limit]`: append to the session's ring, keeping the newest `limit` entries.
- `["budget.spend", key, "usd-decimal-string", calls, expires_iso|null]`: add to the
  ledger (negative: a refund). Only allowed spends are written, so replay adds without
  checking limits.
- `["rate.take", key, capacity, refill_per_s, iso]`: refill the bucket (capacity tokens,
  full when first seen, refilled continuously at refill_per_s) and take one token. A
  refused take changes nothing and writes no op.

Memory stays bounded by a sweep, run by the first `session.touch` or `rate.take` at least
`SWEEP_INTERVAL` after the previous sweep (the time of the next one is state, kept in
snapshots, so replay sweeps at the same points). It forgets:
- rate buckets that are full again: a full bucket and a missing one are the same bucket;
- budget keys whose `expires_at` (the end of their window) is more than `BUDGET_GRACE`
  past: a call still in flight from the old window cannot refill it, and a key of a live
  window is never dropped; keys without `expires_at` are kept;
- sessions not seen for `SESSION_RETENTION`, with their history.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from faramesh.state.protocol import (
    SESSION_RETENTION,
    BudgetLedger,
    History,
    HistoryEntry,
    KillState,
    KillSwitch,
    Mutation,
    RateLimiter,
    SessionResult,
    Sessions,
    SessionState,
    SpendResult,
    StateOp,
    TakeResult,
)

SWEEP_INTERVAL = timedelta(seconds=60)
BUDGET_GRACE = timedelta(hours=1)


@dataclass(slots=True)
class Ledger:
    spent_usd: Decimal
    spent_calls: int
    expires_at: datetime | None  # None: never forgotten


@dataclass(slots=True)
class Bucket:
    tokens: float
    last: datetime
    capacity: int  # as last taken, for the sweep
    refill_per_s: float

    def level(self, capacity: int, refill_per_s: float, now: datetime) -> float:
        elapsed = max(0.0, (now - self.last).total_seconds())
        return min(float(capacity), self.tokens + elapsed * refill_per_s)


def utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("state times must be timezone-aware")
    return now.astimezone(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else utc(datetime.fromisoformat(text))


def _json_ready(value: Any) -> Any:
    """The value as replay will see it: a JSON round trip (Decimals and the like as text).
    orjson first (the hot path); the stdlib for what orjson refuses (integers beyond 64
    bits, keys that are not strings)."""
    try:
        return orjson.loads(orjson.dumps(value, default=str))
    except TypeError:
        return json.loads(json.dumps(value, default=str))


class MemoryState:
    """`StateStore` in dicts. The dicts are public for `state.sqlite` snapshots."""

    def __init__(self) -> None:
        self.kills: dict[str | None, KillState] = {}
        self.session_table: dict[str, dict[str, SessionState]] = {}
        self.rings: dict[tuple[str, str], deque[HistoryEntry]] = {}
        self.ledger: dict[str, Ledger] = {}
        self.buckets: dict[str, Bucket] = {}
        self.next_sweep: datetime | None = None
        self.kill_switch: KillSwitch = _KillSwitch(self)
        self.sessions: Sessions = _Sessions(self)
        self.history: History = _History(self)
        self.budgets: BudgetLedger = _Budgets(self)
        self.rate_limits: RateLimiter = _RateLimiter(self)

    def apply(self, op: StateOp) -> None:
        """Replay one op; an op this version does not know stops the replay (ValueError)."""
        match op:
            case ["kill.engage", agent, reason, at]:
                self.kill_engage(agent, reason, utc(datetime.fromisoformat(at)))
            case ["kill.release", agent, _at]:
                self.kills.pop(agent, None)
            case ["session.touch", agent, session, at, purpose, tool]:
                self.touch(agent, session, utc(datetime.fromisoformat(at)), purpose, tool)
            case ["session.phase", agent, session, phase, at]:
                self.set_phase(agent, session, phase, utc(datetime.fromisoformat(at)))
            case ["session.end", agent, session]:
                self.end(agent, session)
            case ["history.push", agent, session, entry, limit]:
                self.push(agent, session, entry, limit)
            case ["budget.spend", key, usd, calls, expires]:
                self.spend(key, Decimal(usd), calls, _time(expires))
            case ["rate.take", key, capacity, refill, at]:
                self.take(key, capacity, refill, utc(datetime.fromisoformat(at)))
            case _:
                raise ValueError(f"unknown state op `{str(op)[:80]}`")

    async def close(self) -> None:
        return None

    # --- the changes, shared by the live methods and `apply` -----------------------------

    def kill_engage(self, agent_id: str | None, reason: str, now: datetime) -> None:
        self.kills[agent_id] = KillState(agent_id, reason, now)

    def touch(self, agent_id: str, session_id: str, now: datetime, purpose: str | None,
              tool: str | None) -> SessionState:
        self.tick(now)
        table = self.session_table.setdefault(agent_id, {})
        before = table.get(session_id) or SessionState(
            agent_id, session_id, now, now, 0, None, None, None, None)
        newer = now >= before.last_seen
        table[session_id] = SessionState(
            agent_id, session_id, min(before.started_at, now), max(before.last_seen, now),
            before.call_count + (tool is not None),
            purpose if purpose is not None and newer else before.purpose,
            before.phase, before.phase_started_at,
            tool if tool is not None and newer else before.last_tool)
        return before if purpose is None else replace(before, purpose=purpose)

    def set_phase(self, agent_id: str, session_id: str | None, phase: str,
                  now: datetime) -> None:
        table = self.session_table.setdefault(agent_id, {})
        if session_id is None:
            targets = list(table.values())
        else:
            targets = [table.get(session_id) or SessionState(
                agent_id, session_id, now, now, 0, None, None, None, None)]
        for s in targets:
            table[s.session_id] = replace(s, phase=phase, phase_started_at=now)
        if not table:
            del self.session_table[agent_id]

    def end(self, agent_id: str, session_id: str) -> None:
        table = self.session_table.get(agent_id, {})
        table.pop(session_id, None)
        if not table:
            self.session_table.pop(agent_id, None)
        self.rings.pop((agent_id, session_id), None)

    def push(self, agent_id: str, session_id: str, entry: dict[str, Any], limit: int) -> None:
        ring = self.rings.setdefault((agent_id, session_id), deque())
        ring.append(HistoryEntry(entry["tool"], utc(datetime.fromisoformat(entry["time"])),
                                 entry["args"], entry["action_id"]))
        while len(ring) > max(limit, 0):
            ring.popleft()
        if not ring:
            del self.rings[agent_id, session_id]

    def spend(self, key: str, usd: Decimal, calls: int, expires_at: datetime | None) -> None:
        led = self.ledger.get(key)
        if led is None:
            self.ledger[key] = Ledger(usd, calls, expires_at)
            return
        led.spent_usd += usd
        led.spent_calls += calls
        if led.expires_at is not None:
            led.expires_at = None if expires_at is None else max(led.expires_at, expires_at)

    def take(self, key: str, capacity: int, refill_per_s: float, now: datetime) -> float:
        self.tick(now)
        b = self.buckets.get(key)
        level = float(capacity) if b is None else b.level(capacity, refill_per_s, now)
        last = now if b is None else max(b.last, now)
        self.buckets[key] = Bucket(level - 1.0, last, capacity, refill_per_s)
        return level - 1.0

    def tick(self, now: datetime) -> None:
        if self.next_sweep is not None and now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        for key in [k for k, b in self.buckets.items()
                    if b.level(b.capacity, b.refill_per_s, now) >= b.capacity]:
            del self.buckets[key]
        for key in [k for k, led in self.ledger.items()
                    if led.expires_at is not None and led.expires_at + BUDGET_GRACE <= now]:
            del self.ledger[key]
        for agent_id, table in list(self.session_table.items()):
            for s in [s for s in table.values() if s.last_seen + SESSION_RETENTION <= now]:
                self.end(agent_id, s.session_id)
        for ring_key in [k for k, ring in self.rings.items()
                         if k[1] not in self.session_table.get(k[0], {})
                         and ring[-1].time + SESSION_RETENTION <= now]:
            del self.rings[ring_key]


class _Role:
    """One protocol role of a MemoryState (the store's `kill_switch`, `sessions`, ...)."""

    def __init__(self, root: MemoryState) -> None:
        self._root = root


class _KillSwitch(_Role):
    async def engaged(self, agent_id: str) -> KillState | None:
        kills = self._root.kills
        return kills.get(None) or kills.get(agent_id)

    async def engage(self, agent_id: str | None, reason: str, now: datetime) -> Mutation:
        now = utc(now)
        self._root.kill_engage(agent_id, reason, now)
        return Mutation(["kill.engage", agent_id, reason, _iso(now)])

    async def release(self, agent_id: str | None, now: datetime) -> Mutation:
        if self._root.kills.pop(agent_id, None) is None:
            return Mutation(None)
        return Mutation(["kill.release", agent_id, _iso(utc(now))])

    async def all(self) -> list[KillState]:
        return sorted(self._root.kills.values(), key=lambda k: (k.agent_id is not None,
                                                                 k.agent_id or ""))


class _Sessions(_Role):
    async def touch(self, agent_id: str, session_id: str, now: datetime, *,
                    purpose: str | None, tool: str | None) -> SessionResult:
        now = utc(now)
        before = self._root.touch(agent_id, session_id, now, purpose, tool)
        return SessionResult(["session.touch", agent_id, session_id, _iso(now), purpose, tool],
                             before)

    async def get(self, agent_id: str, session_id: str) -> SessionState | None:
        return self._root.session_table.get(agent_id, {}).get(session_id)

    async def set_phase(self, agent_id: str, session_id: str | None, phase: str,
                        now: datetime) -> Mutation:
        if session_id is None and not self._root.session_table.get(agent_id):
            return Mutation(None)
        now = utc(now)
        self._root.set_phase(agent_id, session_id, phase, now)
        return Mutation(["session.phase", agent_id, session_id, phase, _iso(now)])

    async def end(self, agent_id: str, session_id: str) -> Mutation:
        root = self._root
        if session_id not in root.session_table.get(agent_id, {}) and \
                (agent_id, session_id) not in root.rings:
            return Mutation(None)
        root.end(agent_id, session_id)
        return Mutation(["session.end", agent_id, session_id])

    async def list(self, agent_id: str | None = None) -> list[SessionState]:
        table = self._root.session_table
        agents = sorted(table) if agent_id is None else [agent_id]
        return [s for a in agents for _, s in sorted(table.get(a, {}).items())]


class _History(_Role):
    async def recent(self, agent_id: str, session_id: str) -> list[HistoryEntry]:
        return list(self._root.rings.get((agent_id, session_id), ()))

    async def push(self, agent_id: str, session_id: str, entry: HistoryEntry,
                   limit: int) -> Mutation:
        data = {"tool": entry.tool, "time": _iso(utc(entry.time)),
                "args": _json_ready(entry.args), "action_id": entry.action_id}
        self._root.push(agent_id, session_id, data, limit)
        return Mutation(["history.push", agent_id, session_id, data, limit])


class _Budgets(_Role):
    async def spend(self, key: str, usd: Decimal, calls: int, *, max_usd: Decimal | None,
                    max_calls: int | None, expires_at: datetime | None = None) -> SpendResult:
        spent_usd, spent_calls = await self.spent(key)
        usd_after, calls_after = spent_usd + usd, spent_calls + calls
        if (max_usd is not None and usd_after > max_usd) or \
                (max_calls is not None and calls_after > max_calls):
            return SpendResult(None, False, spent_usd, spent_calls)
        expires = None if expires_at is None else utc(expires_at)
        self._root.spend(key, usd, calls, expires)
        return SpendResult(["budget.spend", key, str(usd), calls, _iso(expires)], True,
                           usd_after, calls_after)

    async def spent(self, key: str) -> tuple[Decimal, int]:
        led = self._root.ledger.get(key)
        return (Decimal(0), 0) if led is None else (led.spent_usd, led.spent_calls)

    async def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._root.ledger if k.startswith(prefix))


class _RateLimiter(_Role):
    async def take(self, key: str, capacity: int, refill_per_s: float,
                   now: datetime) -> TakeResult:
        now = utc(now)
        level = await self.peek(key, capacity, refill_per_s, now)
        if level < 1.0:
            wait = (1.0 - level) / refill_per_s if refill_per_s > 0 else math.inf
            return TakeResult(None, False, level, wait)
        left = self._root.take(key, capacity, refill_per_s, now)
        return TakeResult(["rate.take", key, capacity, refill_per_s, _iso(now)], True, left,
                          0.0)

    async def peek(self, key: str, capacity: int, refill_per_s: float,
                   now: datetime) -> float:
        b = self._root.buckets.get(key)
        return float(capacity) if b is None else b.level(capacity, refill_per_s, utc(now))

    async def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._root.buckets if k.startswith(prefix))
