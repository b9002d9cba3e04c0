"""The decision: what the caller must do, a specific code, and how it was reached.

`Effect` and `Code` values are the wire strings (DESIGN.md section 4); the full list of
codes lives here and is documented in docs/decision-codes.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class Effect(StrEnum):
    PERMIT = "PERMIT"
    DENY = "DENY"
    DEFER = "DEFER"


class Code(StrEnum):
    # from the policy engine
    RULE_PERMIT = "RULE_PERMIT"
    POLICY_DENY = "POLICY_DENY"
    POLICY_DEFER = "POLICY_DEFER"
    MANDATORY_DENY = "MANDATORY_DENY"  # a `deny!` rule decided
    DEFAULT_PERMIT = "DEFAULT_PERMIT"  # no rule matched; the agent's default decided
    DEFAULT_DENY = "DEFAULT_DENY"
    DEFAULT_DEFER = "DEFAULT_DEFER"
    SHADOW = "SHADOW"
    MODIFIED = "MODIFIED"
    STEP_UP_REQUIRED = "STEP_UP_REQUIRED"
    PHASE_DENY = "PHASE_DENY"
    IDENTITY_UNRESOLVED = "IDENTITY_UNRESOLVED"  # the agent id names no agent of the policy
    INVALID_ACTION = "INVALID_ACTION"  # malformed action: refused, no rule evaluated
    # from the daemon's pipeline (issue 3)
    RATE_EXCEEDED = "RATE_EXCEEDED"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    BUDGET_WARNING = "BUDGET_WARNING"
    DAEMON_NOT_READY = "DAEMON_NOT_READY"
    KILL_SWITCH = "KILL_SWITCH"
    EGRESS_DENIED = "EGRESS_DENIED"
    MODEL_DENIED = "MODEL_DENIED"
    CREDENTIAL_UNAVAILABLE = "CREDENTIAL_UNAVAILABLE"
    COMPLETION_BLOCKED = "COMPLETION_BLOCKED"
    DELEGATION_DENIED = "DELEGATION_DENIED"
    SCAN_DENY = "SCAN_DENY"
    SCAN_WARNING = "SCAN_WARNING"  # a scanner set to warn found something (in `warnings`)
    RUNTIME_GAP = "RUNTIME_GAP"
    SESSION_EXPIRED = "SESSION_EXPIRED"  # past the session's max_duration or idle_timeout
    SELECTOR_UNAVAILABLE = "SELECTOR_UNAVAILABLE"  # a selector failed; its on_unavailable
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"  # the record could not be written: degraded
    STAGE_FAILED = "STAGE_FAILED"  # a pipeline stage raised: denied, fail closed


class TraceEntry(NamedTuple):
    """One rule the evaluator considered: its place, and what its condition gave."""

    rule_ref: str
    effect: str  # the rule's own effect (`deny!` for mandatory denies)
    pattern: str
    outcome: str  # "matched" | "false" | "undecided" | "phase"
    undecided: tuple[str, ...] = ()  # fields that left the condition undecided

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule_ref": self.rule_ref, "effect": self.effect,
                               "pattern": self.pattern, "outcome": self.outcome}
        if self.undecided:
            out["undecided"] = list(self.undecided)
        return out


class Decision(NamedTuple):
    """The answer for one action. Immutable; `to_dict` gives the wire object."""

    effect: Effect
    code: Code
    rule_ref: str | None
    reason: str
    trace: tuple[TraceEntry, ...] = ()
    agent_id: str | None = None
    tool: str | None = None  # canonical tool name
    reason_code: str | None = None  # a rule's own code (legacy YAML `reason_code`)
    rule_id: str | None = None
    notify: str | None = None
    modified_args: dict[str, Any] | None = None  # MODIFIED: the arguments to run instead
    authority: str | None = None  # STEP_UP_REQUIRED: who may approve
    shadow_effect: Effect | None = None  # SHADOW: what enforcing the rule would have done
    shadow_code: Code | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "effect": self.effect.value,
            "code": self.code.value,
            "rule_ref": self.rule_ref,
            "reason": self.reason,
            "agent_id": self.agent_id,
            "tool": self.tool,
            "trace": [t.to_dict() for t in self.trace],
        }
        for key in ("reason_code", "rule_id", "notify", "modified_args", "authority"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.shadow_effect is not None:
            out["shadow_effect"] = self.shadow_effect.value
            out["shadow_code"] = self.shadow_code.value if self.shadow_code else None
        return out
