"""Stage 5: the session's history ring, loaded for conditions (`session.history`,
`history_sequence`, `session.sum`), and `remember`, with which `record` adds a call that
will run. Only calls that ran are history: a denied call never happened.
"""

from __future__ import annotations

from faramesh.pipeline.call import Call, Env
from faramesh.pipeline.session import limits_of, session_block
from faramesh.state.protocol import HistoryEntry


async def run(call: Call, env: Env) -> None:
    if call.agent is None:
        return
    car = call.car
    call.history = await env.state.history.recent(car.agent_id, car.session_id)


async def remember(call: Call, env: Env) -> None:
    """Push the call onto its session's ring, with its recorded (redacted) arguments.

    `record` calls this for the calls the caller will run (PERMIT, or let through in
    audit mode); the ring keeps the session block's `history` entries, else
    `settings.history_limit`.
    """
    if call.agent is None:
        return
    car = call.car
    limit = limits_of(session_block(call.agent.agent)).history
    if limit is None:
        limit = env.settings.history_limit
    entry = HistoryEntry(car.tool, car.received_at, call.stored_args, car.action_id)
    mutation = await env.state.history.push(car.agent_id, car.session_id, entry, limit)
    call.note(mutation.op)
