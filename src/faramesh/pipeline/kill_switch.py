"""Stage 1: the kill switch, global or per agent. It denies in every mode, on every
transport, from the very next call after `faramesh kill`; it is state, so it survives a
restart until `faramesh agent resume` (or `faramesh kill --release`) lifts it."""

from __future__ import annotations

from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect


async def run(call: Call, env: Env) -> None:
    engaged = await env.state.kill_switch.engaged(call.car.agent_id)
    if engaged is None:
        return
    scope = "every agent" if engaged.agent_id is None else f"agent `{engaged.agent_id}`"
    call.decide(Effect.DENY, Code.KILL_SWITCH,
                f"kill switch engaged for {scope}: {engaged.reason}")
    call.resolution["since"] = engaged.since.isoformat()
    call.resolution["hint"] = ("faramesh kill --release" if engaged.agent_id is None
                               else f"faramesh agent resume {engaged.agent_id}")
