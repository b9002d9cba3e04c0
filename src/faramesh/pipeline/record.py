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
    # The optional fields, in this order, each only when it has a value.
    if car.request_id is not None:
        record["request_id"] = car.request_id
    if decision.reason_code is not None:
        record["reason_code"] = decision.reason_code
    cost = call.cost_usd if call.cost_usd is not None else car.cost_usd
    if cost is not None:
        record["cost_usd"] = str(cost)
    if car.purpose is not None:
        record["purpose"] = car.purpose
    if car.model is not None:
        record["model"] = car.model
    if call.phase is not None:
        record["phase"] = call.phase
    if car.delegation:
        record["delegation"] = list(car.delegation)
    if call.findings:
        record["findings"] = call.findings
    if call.budget:
        record["budget"] = call.budget
    if call.warnings:
        record["warnings"] = [w.value for w in call.warnings]
    if call.resolution:
        record["resolution"] = call.resolution
    if decision.authority is not None:
        record["authority"] = decision.authority
    if decision.shadow_effect:
        record["shadow_effect"] = decision.shadow_effect.value
    if decision.modified_args is not None:
        record["modified_args"] = masked(decision.modified_args, call.mask_paths)
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
