"""The working state of one decision as it moves through the stages (daemon-internal).

A stage reads the CAR and what earlier stages put here, and either leaves `decision`
unset (go on) or sets it. Stages after the policy engine may only make a decision
stricter; `record` and `dpr` run for every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from faramesh.car import CAR
from faramesh.policy.decision import Code, Decision, Effect

if TYPE_CHECKING:
    from faramesh.audit.log import RecordLog
    from faramesh.policy.evaluator import CompiledAgent, Policy
    from faramesh.state.protocol import HistoryEntry, SessionState, StateOp, StateStore


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime settings the stages read (from the policy's `runtime` block and flags)."""

    mode: str = "enforce"  # "enforce" | "audit"
    history_limit: int = 64  # entries kept per session when `session { history }` is unset


@dataclass(slots=True)
class Env:
    """What every stage may use: state, the record log, settings, the clock."""

    state: StateStore
    log: RecordLog
    settings: Settings
    clock: Callable[[], datetime]
    selectors: Any = None  # pipeline.selectors.SelectorCache, set by the daemon
    dpr: Any = None  # audit.index.RecordIndex: takes records off the hot path (`submit`)


@dataclass(slots=True)
class Call:
    car: CAR
    policy: Policy  # the policy in force when the call arrived (a swap never splits a call)
    agent: CompiledAgent | None  # None: the agent id names no agent of the policy
    decision: Decision | None = None
    session: SessionState | None = None
    phase: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    selectors: dict[str, Any] = field(default_factory=dict)
    stored_args: Any = None  # the arguments as recorded: redacted (set by `redaction`)
    findings: list[dict[str, Any]] = field(default_factory=list)  # pre-scan hits, recorded
    mask_paths: list[str] = field(default_factory=list)  # args paths to mask when stored
    warnings: list[Code] = field(default_factory=list)  # BUDGET_WARNING, scanner warnings
    resolution: dict[str, Any] = field(default_factory=dict)
    budget: list[dict[str, Any]] = field(default_factory=list)  # budget state, recorded
    cost_usd: Decimal | None = None  # what `budget` charged (the request's, or the table's)
    state_ops: list[StateOp] = field(default_factory=list)
    latency_ns: dict[str, int] = field(default_factory=dict)
    sequence: int | None = None  # the record's WAL sequence, set by `record`
    record: dict[str, Any] | None = None  # what `record` wrote, handed to `dpr`

    def decide(self, effect: Effect, code: Code, reason: str, *,
               rule_ref: str | None = None) -> None:
        """End the call with a decision made by a stage other than the policy engine."""
        self.decision = Decision(effect, code, rule_ref, reason, (), self.car.agent_id,
                                 self.car.tool)

    def tighten(self, effect: Effect, code: Code, reason: str, *,
                rule_ref: str | None = None) -> None:
        """Replace a permit or defer by a stricter answer (post-policy stages)."""
        current = self.decision
        if current is None or _STRICTNESS[effect] > _STRICTNESS[current.effect]:
            self.decide(effect, code, reason, rule_ref=rule_ref)

    def note(self, op: StateOp | None) -> None:
        if op is not None:
            self.state_ops.append(op)


_STRICTNESS = {Effect.PERMIT: 0, Effect.DEFER: 1, Effect.DENY: 2}

# Codes that deny in every mode: an emergency stop is never a dry run, and nothing is
# let through that could not be recorded or whose checks failed.
ALWAYS_ENFORCED = frozenset({Code.KILL_SWITCH, Code.DAEMON_NOT_READY, Code.AUDIT_UNAVAILABLE,
                             Code.STAGE_FAILED})


def answered_effect(decision: Decision, mode: str) -> Effect:
    """What the caller is told to do: the decision, or PERMIT in audit mode."""
    if mode == "audit" and decision.code not in ALWAYS_ENFORCED:
        return Effect.PERMIT
    return decision.effect
