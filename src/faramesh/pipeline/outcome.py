"""What `decide` returns: the decision of DESIGN.md section 4 as every transport sends it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from faramesh.policy.decision import Code, Decision, Effect


@dataclass(frozen=True, slots=True)
class Outcome:
    action_id: str
    decision: Decision  # what the pipeline decided (the enforced decision)
    effect: Effect  # what the caller must do: `decision.effect`, or PERMIT in audit mode
    mode: str
    resolution: Mapping[str, Any]
    warnings: tuple[Code, ...] = ()
    latency_us: float = 0.0
    stage_latency_ns: Mapping[str, int] = field(default_factory=dict)  # not on the wire

    def to_wire(self) -> dict[str, Any]:
        """The JSON object of docs/wire-format.md (`decision` on the socket, HTTP body)."""
        d = self.decision
        out: dict[str, Any] = {
            "action_id": self.action_id,
            "effect": self.effect.value,
            "code": d.code.value,
            "rule_ref": d.rule_ref,
            "human_message": d.reason,
            "resolution": dict(self.resolution) or None,
            "agent_id": d.agent_id,
            "tool": d.tool,
            "mode": self.mode,
        }
        if self.effect is not d.effect:
            out["enforced_effect"] = d.effect.value  # audit mode let it through
        if d.modified_args is not None:
            out["args"] = d.modified_args
        if d.authority is not None:
            out["authority"] = d.authority
        if d.shadow_effect is not None:
            out["shadow_effect"] = d.shadow_effect.value
            out["shadow_code"] = d.shadow_code.value if d.shadow_code else None
        if d.reason_code is not None:
            out["reason_code"] = d.reason_code
        if self.warnings:
            out["warnings"] = [w.value for w in self.warnings]
        out["latency_us"] = round(self.latency_us, 1)
        return out
