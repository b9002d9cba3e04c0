"""Stage 4: session state. Opens or continues the call's session, counts the call, and
enforces the agent's `session { max_duration idle_timeout max_calls }` block.

An expired session stays expired: its calls are denied without touching it, so neither
its `last_seen` nor its count moves and the same limit holds for every later call (until
the backend forgets the session, `state.protocol.SESSION_RETENTION` after its last call).
The agent starts a new session by sending a new session id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect
from faramesh.policy.ir import Agent, Block
from faramesh.policy.values import Duration
from faramesh.state.protocol import SessionState

HINT = "start a new session: send a new session id"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_duration: timedelta | None
    idle_timeout: timedelta | None
    max_calls: int | None
    history: int | None  # entries kept in the session's history ring


def session_block(agent: Agent) -> Block | None:
    return next((b for b in agent.blocks if b.kind == "session"), None)


@lru_cache(maxsize=1024)  # blocks are frozen; equal blocks have equal limits
def limits_of(block: Block | None) -> SessionLimits:
    if block is None:
        return SessionLimits(None, None, None, None)

    def duration(key: str) -> timedelta | None:
        value = block.get(key)
        return timedelta(seconds=float(value.seconds)) if isinstance(value, Duration) else None

    def count(key: str) -> int | None:
        value = block.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return SessionLimits(duration("max_duration"), duration("idle_timeout"),
                         count("max_calls"), count("history"))


def expiry(limits: SessionLimits, session: SessionState, now: datetime) -> str | None:
    """Why the session is over at `now`, or None while it is live."""
    if limits.max_duration is not None and now - session.started_at > limits.max_duration:
        return f"session `{session.session_id}` is older than its max_duration"
    if limits.idle_timeout is not None and now - session.last_seen > limits.idle_timeout:
        return f"session `{session.session_id}` was idle longer than its idle_timeout"
    if limits.max_calls is not None and session.call_count >= limits.max_calls:
        return f"session `{session.session_id}` has made its {limits.max_calls} calls"
    return None


async def run(call: Call, env: Env) -> None:
    agent = call.agent
    if agent is None:  # `identity` has denied it; unknown ids get no state
        return
    car = call.car
    now = car.received_at
    sessions = env.state.sessions
    block = session_block(agent.agent)
    limits = limits_of(block)
    ref = block.origin.ref if block is not None else None
    current = await sessions.get(car.agent_id, car.session_id)
    if current is not None and (why := expiry(limits, current, now)) is not None:
        _expired(call, current, why, ref)
        return
    result = await sessions.touch(car.agent_id, car.session_id, now, purpose=car.purpose,
                                  tool=car.tool)
    call.note(result.op)
    call.session = result.session
    # Checked again on the state the touch saw: a concurrent call may have used the last
    # of `max_calls` between `get` and `touch`.
    if (why := expiry(limits, result.session, now)) is not None:
        _expired(call, result.session, why, ref)


def _expired(call: Call, session: SessionState, why: str, ref: str | None) -> None:
    call.session = session
    call.decide(Effect.DENY, Code.SESSION_EXPIRED, why, rule_ref=ref)
    call.resolution["hint"] = HINT
    call.resolution["session_id"] = session.session_id
