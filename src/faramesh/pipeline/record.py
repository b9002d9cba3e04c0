"""Stage 9: the record, durable before the answer leaves the daemon.

Writes the call's decision, its redacted arguments and the state changes it made (the
`state_ops` the embedded state backend replays after a restart) as one WAL record. When
the record cannot be written the call is denied (AUDIT_UNAVAILABLE): nothing is answered
that could not be proven afterwards. Record fields: docs/wire-format.md.
"""

from __future__ import annotations

from typing import Any

from faramesh.errors import RecordError
from faramesh.pipeline import history
from faramesh.pipeline.call import Call, Env, answered_effect
from faramesh.pipeline.redaction import masked
from faramesh.policy.decision import Code, Effect


def build_record(call: Call, mode: str) -> dict[str, Any]:
    car, decision = call.car, call.decision
    assert decision is not None
    record: dict[str, Any] = {
        "kind": "decision",
        "action_id": car.action_id,
        "time": car.received_at.isoformat(),
        "agent_id": car.agent_id,
        "session_id": car.session_id,
        "tool": car.tool,
        "raw_tool": car.raw_tool,
        "caller": car.caller.to_dict(),
        "principal": dict(car.principal),
        "effect": decision.effect.value,
        "answered_effect": answered_effect(decision, mode).value,
        "code": decision.code.value,
        "rule_ref": decision.rule_ref,
        "reason": decision.reason,
        "mode": mode,
        "args": call.stored_args if call.stored_args is not None else {},
        "policy_version": call.policy.version_hash,
        "latency_ns": dict(call.latency_ns),
        "state_ops": call.state_ops,
    }
    optional: dict[str, Any] = {
        "request_id": car.request_id,
        "reason_code": decision.reason_code,
        "cost_usd": str(car.cost_usd) if car.cost_usd is not None else None,
        "purpose": car.purpose,
        "model": car.model,
        "phase": call.phase,
        "delegation": list(car.delegation) or None,
        "findings": call.findings or None,
        "budget": call.budget or None,
        "warnings": [w.value for w in call.warnings] or None,
        "resolution": call.resolution or None,
        "authority": decision.authority,
        "shadow_effect": decision.shadow_effect.value if decision.shadow_effect else None,
        "modified_args": masked(decision.modified_args, call.mask_paths)
        if decision.modified_args is not None else None,
    }
    record.update((k, v) for k, v in optional.items() if v is not None)
    return record


async def run(call: Call, env: Env) -> None:
    decision = call.decision
    assert decision is not None
    if answered_effect(decision, env.settings.mode) is Effect.PERMIT:
        await history.remember(call, env)  # the call will run: later conditions see it
    record = build_record(call, env.settings.mode)
    try:
        call.sequence = await env.log.append(record)
    except RecordError as exc:
        call.decide(Effect.DENY, Code.AUDIT_UNAVAILABLE,
                    f"the decision could not be recorded ({exc}); denied until the audit "
                    f"log is writable")
        return
    call.record = record
