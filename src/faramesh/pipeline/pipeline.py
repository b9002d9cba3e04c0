"""`decide`: run one CAR through the stages and return its Outcome (step 11).

The one enforcement path: every transport builds a CAR and calls `Pipeline.decide`.
A stage that raises fails closed: the call is denied with STAGE_FAILED and still
recorded. The policy is read once per call, so `swap` never splits a call between two
policies.
"""

from __future__ import annotations

import logging
from time import perf_counter_ns

from faramesh.car import CAR
from faramesh.pipeline.call import Call, Env, answered_effect
from faramesh.pipeline.outcome import Outcome
from faramesh.pipeline.stages import STAGES, When
from faramesh.policy.decision import Code, Effect
from faramesh.policy.evaluator import Policy
from faramesh.policy.ir import ANY_AGENT

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, env: Env, policy: Policy) -> None:
        self.env = env
        self.policy = policy

    def swap(self, policy: Policy) -> None:
        """Put a new policy in force for every call that arrives from now on."""
        self.policy = policy

    async def decide(self, car: CAR) -> Outcome:
        started = perf_counter_ns()
        policy = self.policy
        agents = policy.agents
        call = Call(car, policy, agents.get(car.agent_id) or agents.get(ANY_AGENT))
        env = self.env
        latency = call.latency_ns
        t0 = perf_counter_ns()
        for name, run, when in STAGES:
            decision = call.decision
            if decision is not None and (when is When.UNDECIDED or (
                    when is When.NOT_DENIED and decision.effect is Effect.DENY)):
                continue
            try:
                await run(call, env)
            except Exception:  # the stage runner is an edge: fail closed, keep recording
                log.exception("stage %s failed for action %s", name, car.action_id)
                call.decide(Effect.DENY, Code.STAGE_FAILED,
                            f"stage `{name}` failed; denied (fail closed)")
            # One clock read per stage: a stage's time runs from the end of the one before
            # (the skip checks in between are a few nanoseconds).
            latency[name] = (t1 := perf_counter_ns()) - t0
            t0 = t1
        return outcome_of(call, env.settings.mode, t0 - started)


def outcome_of(call: Call, mode: str, elapsed_ns: int) -> Outcome:
    decision = call.decision
    assert decision is not None  # `policy` or an earlier stage always decides
    return Outcome(call.car.action_id, decision, answered_effect(decision, mode), mode,
                   call.resolution, tuple(call.warnings), elapsed_ns / 1000, call.latency_ns)
