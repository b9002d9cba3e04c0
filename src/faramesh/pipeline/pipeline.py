"""`decide`: run one CAR through the stages and return its Outcome (step 11).

The one enforcement path: every transport builds a CAR and calls `Pipeline.decide`.
A stage that raises fails closed: the call is denied with STAGE_FAILED and still
recorded. The policy is read once per call, so `swap` never splits a call between two
policies.
"""

from __future__ import annotations

import logging
from time import perf_counter_ns
from weakref import WeakKeyDictionary

from faramesh.car import CAR
from faramesh.pipeline.call import Call, Env, answered_effect
from faramesh.pipeline.history import reads_history
from faramesh.pipeline.outcome import Outcome
from faramesh.pipeline.stages import STAGES, StageFn, When
from faramesh.policy.decision import Code, Effect
from faramesh.policy.evaluator import CompiledAgent, Policy
from faramesh.policy.ir import ANY_AGENT

log = logging.getLogger(__name__)

Stages = tuple[tuple[str, StageFn, When], ...]
_PLANS: WeakKeyDictionary[CompiledAgent, Stages] = WeakKeyDictionary()


def stages_for(policy: Policy, agent: CompiledAgent | None) -> Stages:
    """STAGES without those that can have nothing to do for this agent (no phases, no
    selectors, no egress or model policy, no rate limits, no budgets, a policy that never
    reads history); computed once per compiled agent. Order is unchanged."""
    if agent is None:
        return STAGES  # `identity` decides; the rest skip themselves
    plan = _PLANS.get(agent)
    if plan is None:
        spec = agent.agent
        kinds = {b.kind for b in spec.blocks}
        needed = {"phase_check": agent.first_phase is not None,
                  "history": reads_history(policy),
                  "selectors": "selector" in kinds,
                  "egress": bool(kinds & {"egress", "model_policy"}),
                  "rate_limit": bool(spec.rate_limits),
                  "budget": bool(spec.budgets)}
        plan = _PLANS[agent] = tuple(s for s in STAGES if needed.get(s[0], True))
    return plan


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
        agent = agents.get(car.agent_id) or agents.get(ANY_AGENT)
        call = Call(car, policy, agent)
        env = self.env
        latency = call.latency_ns
        t0 = perf_counter_ns()
        for name, run, when in stages_for(policy, agent):
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
