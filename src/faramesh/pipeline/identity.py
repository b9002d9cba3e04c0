"""Identify the agent: an id that names no agent of the policy matches no rule (fail closed).

Decided here, before any state is touched, so unknown ids cannot grow sessions, buckets or
history. The caller's transport identity (peer pid/uid) is on the CAR and recorded.
"""

from __future__ import annotations

from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect


async def run(call: Call, env: Env) -> None:
    if call.agent is None:
        call.decide(Effect.DENY, Code.IDENTITY_UNRESOLVED,
                    f"agent `{call.car.agent_id}` is not declared by the policy in force")
