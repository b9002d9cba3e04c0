"""Stage 9, record: what one decision's record holds (fields: docs/wire-format.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import faramesh
from faramesh.car import Caller, build_car
from faramesh.pipeline.call import Call, answered_effect
from faramesh.pipeline.record import build_record
from faramesh.pipeline.redaction import masked
from faramesh.policy.decision import Code, Decision, Effect

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POLICY = faramesh.load_policy('agent "a" { default permit }')


def reference_record(call: Call, mode: str) -> dict[str, Any]:
    """The record as first written: every field, then the optional ones that have a value,
    in this order. `build_record` must produce the same object, key order included."""
    car, decision = call.car, call.decision
    assert decision is not None
    record: dict[str, Any] = {
        "kind": "decision", "action_id": car.action_id,
        "time": car.received_at.isoformat(), "agent_id": car.agent_id,
        "session_id": car.session_id, "tool": car.tool, "raw_tool": car.raw_tool,
        "caller": car.caller.to_dict(), "principal": dict(car.principal),
        "effect": decision.effect.value,
        "answered_effect": answered_effect(decision, mode).value,
        "code": decision.code.value, "rule_ref": decision.rule_ref,
        "reason": decision.reason, "mode": mode,
        "args": call.stored_args if call.stored_args is not None else {},
        "policy_version": call.policy.version_hash, "latency_ns": dict(call.latency_ns),
        "state_ops": call.state_ops,
    }
    optional: dict[str, Any] = {
        "request_id": car.request_id, "reason_code": decision.reason_code,
        "cost_usd": str(car.cost_usd) if car.cost_usd is not None else None,
        "purpose": car.purpose, "model": car.model, "phase": call.phase,
        "delegation": list(car.delegation) or None, "findings": call.findings or None,
        "budget": call.budget or None,
        "warnings": [w.value for w in call.warnings] or None,
        "resolution": call.resolution or None, "authority": decision.authority,
        "shadow_effect": decision.shadow_effect.value if decision.shadow_effect else None,
        "modified_args": masked(decision.modified_args, call.mask_paths)
        if decision.modified_args is not None else None,
    }
    record.update((k, v) for k, v in optional.items() if v is not None)
    return record


def bare_call() -> Call:
    car = build_car({"agent": "a", "tool": "t", "args": {"x": 1}}, Caller("inprocess"), T0)
    call = Call(car, POLICY, POLICY.agents["a"])
    call.decide(Effect.PERMIT, Code.RULE_PERMIT, "permitted")
    return call


def full_call() -> Call:
    car = build_car({"agent": "a", "tool": "pay", "args": {"card": "4111", "n": 2},
                     "session_id": "s1", "request_id": "r1", "cost": "2.50",
                     "purpose": "refund", "model": "m-1", "principal": {"sub": "u"},
                     "delegation": ["boss"]}, Caller("socket", pid=7, uid=0, gid=0), T0)
    call = Call(car, POLICY, POLICY.agents["a"])
    call.decision = Decision(Effect.DEFER, Code.POLICY_DEFER, "a.fms:3", "needs a human",
                             agent_id="a", tool="pay", reason_code="R1",
                             modified_args={"card": "4111", "n": 2}, authority="ops",
                             shadow_effect=Effect.DENY, shadow_code=Code.POLICY_DENY)
    call.phase, call.stored_args, call.mask_paths = "intake", {"card": "***"}, ["args.card"]
    call.findings, call.budget = [{"scanner": "pii"}], [{"budget_id": "b"}]
    call.warnings, call.resolution = [Code.BUDGET_WARNING], {"hint": "ask"}
    call.latency_ns.update(policy=5, record=7)
    call.state_ops.append(["session.touch", "a", "s1", T0.isoformat(), None, "pay"])
    return call


@pytest.mark.parametrize("make", [bare_call, full_call])
@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_the_record_holds_every_field_in_its_order(make: Any, mode: str) -> None:
    call = make()
    record = build_record(call, mode)
    assert list(record.items()) == list(reference_record(call, mode).items())


def test_optional_fields_appear_only_with_a_value() -> None:
    record = build_record(bare_call(), "enforce")
    assert not {"request_id", "cost_usd", "delegation", "findings", "warnings",
                "modified_args", "shadow_effect"} & set(record)
    assert build_record(full_call(), "enforce")["modified_args"] == {"card": "[REDACTED]",
                                                                     "n": 2}
