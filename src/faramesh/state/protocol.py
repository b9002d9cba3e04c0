"""What the pipeline needs from state, as protocols named for their roles.

The embedded backend (`state.memory.MemoryState`, persisted by `state.sqlite`) and later
fleet backends (PostgreSQL, Redis) implement these; the pipeline sees nothing else.

Contract for every backend:
- Each method is atomic: a check and its update happen as one step, so concurrent calls
  can never overspend a budget or a bucket (`spend`, `take`).
- Methods take the time as an argument (`now`: aware UTC datetime) and never read a clock,
  so the same sequence of calls gives the same state: replay is exact.
- Every mutating method returns a result carrying `op`, a JSON-ready list describing the
  change. The embedded backend persists state by writing these ops into the decision's WAL
  record, so a state change is durable exactly when its decision is; `apply(op)` replays
  one. A backend whose state is durable on its own returns `op=None`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

StateOp = list[Any]  # ["budget.spend", key, "12.50", 1], ...: JSON-ready, documented per op

# How long a backend keeps an idle session, its history and its session budget: a session
# id unused for longer starts afresh (expired sessions stay expired until then).
SESSION_RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class KillState:
    """An engaged kill switch: for every agent (`agent_id` None) or for one."""

    agent_id: str | None
    reason: str
    since: datetime


@dataclass(frozen=True, slots=True)
class SessionState:
    agent_id: str
    session_id: str
    started_at: datetime
    last_seen: datetime
    call_count: int  # calls decided in this session before this one
    purpose: str | None
    phase: str | None  # the active phase; None: the agent's first phase
    phase_started_at: datetime | None
    last_tool: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One permitted call of a session, as conditions see it (`session.history`)."""

    tool: str
    time: datetime
    args: Any  # redacted arguments
    action_id: str

    def to_condition(self) -> dict[str, Any]:
        return {"tool": self.tool, "time": self.time, "args": self.args,
                "action_id": self.action_id}


@dataclass(frozen=True, slots=True)
class Mutation:
    """A change made, and its op for the WAL record (None when nothing changed)."""

    op: StateOp | None


@dataclass(frozen=True, slots=True)
class SessionResult(Mutation):
    session: SessionState


@dataclass(frozen=True, slots=True)
class SpendResult(Mutation):
    allowed: bool  # False: nothing was spent
    spent_usd: Decimal  # in this window, after the spend (before it when refused)
    spent_calls: int


@dataclass(frozen=True, slots=True)
class TakeResult(Mutation):
    allowed: bool  # False: no token was taken
    tokens: float  # left in the bucket
    retry_after_s: float  # 0 when allowed; else when the next token arrives


class KillSwitch(Protocol):
    async def engaged(self, agent_id: str) -> KillState | None:
        """The global switch if engaged, else this agent's, else None."""

    async def engage(self, agent_id: str | None, reason: str, now: datetime) -> Mutation: ...

    async def release(self, agent_id: str | None, now: datetime) -> Mutation: ...

    async def all(self) -> list[KillState]: ...


class Sessions(Protocol):
    async def touch(self, agent_id: str, session_id: str, now: datetime, *,
                    purpose: str | None, tool: str | None) -> SessionResult:
        """Open or continue a session and count this call (`tool` becomes `last_tool`;
        None for a call that is not counted). Returns the state *before* this call, but
        with this call's `purpose` when it gives one (a purpose holds from its first call)."""

    async def get(self, agent_id: str, session_id: str) -> SessionState | None: ...

    async def set_phase(self, agent_id: str, session_id: str | None, phase: str,
                        now: datetime) -> Mutation:
        """Move one session (or, with None, every session of the agent) to `phase`."""

    async def end(self, agent_id: str, session_id: str) -> Mutation: ...

    async def list(self, agent_id: str | None = None) -> list[SessionState]: ...


class History(Protocol):
    async def recent(self, agent_id: str, session_id: str) -> list[HistoryEntry]:
        """The session's ring, oldest first."""

    async def push(self, agent_id: str, session_id: str, entry: HistoryEntry,
                   limit: int) -> Mutation:
        """Append, dropping the oldest entries beyond `limit`."""


class BudgetLedger(Protocol):
    async def spend(self, key: str, usd: Decimal, calls: int, *, max_usd: Decimal | None,
                    max_calls: int | None, expires_at: datetime | None = None) -> SpendResult:
        """Spend if both limits still hold afterwards; otherwise spend nothing. `key`
        names the budget and its window (the budget stage builds it). A negative spend
        refunds. `expires_at`: when the window is over and the key may be forgotten; the
        later of the stored and the given time is kept, and None (never) beats both."""

    async def spent(self, key: str) -> tuple[Decimal, int]: ...

    async def keys(self, prefix: str = "") -> list[str]: ...


class RateLimiter(Protocol):
    async def take(self, key: str, capacity: int, refill_per_s: float,
                   now: datetime) -> TakeResult:
        """Take one token from the bucket `key` (full when first seen)."""

    async def peek(self, key: str, capacity: int, refill_per_s: float,
                   now: datetime) -> float:
        """Tokens the bucket holds now, without taking one."""

    async def keys(self, prefix: str = "") -> list[str]: ...


class StateStore(Protocol):
    kill_switch: KillSwitch
    sessions: Sessions
    history: History
    budgets: BudgetLedger
    rate_limits: RateLimiter

    def apply(self, op: StateOp) -> None:
        """Replay one op from the WAL (the embedded backend; others ignore it)."""

    async def close(self) -> None: ...
