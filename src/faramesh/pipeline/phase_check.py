"""Stage 2: the active phase. A phase with `duration` and `next` advances when its time is
up (the change is state, recorded with the call); a tool the active phase does not make
visible is denied here, before any rule is evaluated (PHASE_DENY)."""

from __future__ import annotations

from datetime import timedelta

from faramesh.pipeline.call import Call, Env


async def run(call: Call, env: Env) -> None:
    agent = call.agent
    if agent is None or agent.first_phase is None:
        return
    car = call.car
    now = car.received_at
    current = await env.state.sessions.get(car.agent_id, car.session_id)
    active = current.phase if current and current.phase else agent.first_phase
    since = (current.phase_started_at or current.started_at) if current else now
    # Follow `duration`/`next` as far as the elapsed time reaches (bounded by the phases).
    for _ in range(len(agent.phases) + 1):
        entry = agent.phases.get(active)
        if entry is None:
            break
        phase = entry[0]
        if phase.duration is None or phase.next is None:
            break
        ends = since + timedelta(seconds=float(phase.duration.seconds))
        if now < ends:
            break
        active, since = phase.next, ends
        call.note((await env.state.sessions.set_phase(car.agent_id, car.session_id, active,
                                                      ends)).op)
    call.phase = active
    denial = agent.check_phase(active, car.tool, car.agent_id)
    if denial is not None:
        call.decision = denial
