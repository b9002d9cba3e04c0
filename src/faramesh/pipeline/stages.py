"""The order of the pipeline, in one place (DESIGN.md section 1).

Each entry is (name, run, when). The name is the stage's module, its metric label, its
span name and its latency key in the record. `when` says which calls it sees:

- UNDECIDED: only while no decision is made (stages before and including the engine);
- NOT_DENIED: while the decision is not a DENY (post-policy checks may only tighten);
- ALWAYS: every call (redaction, the record, the DPR hand-off).

The post-policy checks run cheapest and stateless first, so a call that a later check
denies has not consumed a rate-limit token or budget: delegation, egress, then
rate_limit (takes a token), then budget (spends, PERMIT only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum

from faramesh.pipeline import (
    budget,
    delegation,
    dpr,
    egress,
    history,
    identity,
    kill_switch,
    phase_check,
    policy,
    pre_scan,
    rate_limit,
    record,
    redaction,
    selectors,
    session,
)
from faramesh.pipeline.call import Call, Env

StageFn = Callable[[Call, Env], Awaitable[None]]


class When(Enum):
    UNDECIDED = "undecided"
    NOT_DENIED = "not_denied"
    ALWAYS = "always"


STAGES: tuple[tuple[str, StageFn, When], ...] = (
    ("kill_switch", kill_switch.run, When.UNDECIDED),  # 1
    ("identity", identity.run, When.UNDECIDED),
    ("phase_check", phase_check.run, When.UNDECIDED),  # 2
    ("pre_scan", pre_scan.run, When.UNDECIDED),  # 3
    ("session", session.run, When.UNDECIDED),  # 4
    ("history", history.run, When.UNDECIDED),  # 5
    ("selectors", selectors.run, When.UNDECIDED),  # 6
    ("policy", policy.run, When.UNDECIDED),  # 7, 8: the decision
    ("delegation", delegation.run, When.NOT_DENIED),
    ("egress", egress.run, When.NOT_DENIED),
    ("rate_limit", rate_limit.run, When.NOT_DENIED),
    ("budget", budget.run, When.NOT_DENIED),
    ("redaction", redaction.run, When.ALWAYS),
    ("record", record.run, When.ALWAYS),  # 9: durable before the answer
    ("dpr", dpr.run, When.ALWAYS),  # 10: chain and signing, off the hot path
)
STAGE_NAMES = tuple(name for name, _, _ in STAGES)
