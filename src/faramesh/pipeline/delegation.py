"""Delegation chain and ceiling: a delegate can never exceed its delegator.

A call made on behalf of other agents carries `delegation`: the delegating agents,
outermost first, ending with the one that delegated to the caller. Each link must be
declared (`delegate TARGET { scope ttl ceiling }` in the delegator), the tool must lie in
its scope, the decision is capped at its `ceiling`, and the action is evaluated as every
delegator too: the strictest answer stands, so a delegator's `deny!` is never lifted.
Link TTLs are enforced by delegation tokens (a later issue); here they are not checked.
"""

from __future__ import annotations

import itertools

from faramesh.car import canonical_pattern
from faramesh.pipeline.call import Call, Env
from faramesh.pipeline.policy import session_view
from faramesh.policy.decision import Code, Effect
from faramesh.policy.ir import Delegation
from faramesh.policy.patterns import compile_pattern

_CEILING = {"permit": Effect.PERMIT, "defer": Effect.DEFER, "deny": Effect.DENY}


async def run(call: Call, env: Env) -> None:
    car = call.car
    if not car.delegation:
        return
    chain = (*car.delegation, car.agent_id)
    agents = call.policy.agents
    for delegator, delegate in itertools.pairwise(chain):
        compiled = agents.get(delegator)
        link = _link(compiled.agent.delegations, delegate) if compiled else None
        if compiled is None or link is None:
            call.tighten(Effect.DENY, Code.DELEGATION_DENIED,
                         f"`{delegator}` has not delegated to `{delegate}`")
            return
        if link.scope is not None and not compile_pattern(canonical_pattern(link.scope))(car.tool):
            call.tighten(Effect.DENY, Code.DELEGATION_DENIED,
                         f"`{car.tool}` is outside the scope `{link.scope}` that "
                         f"`{delegator}` delegated", rule_ref=link.origin.ref)
            return
        ceiling = _CEILING.get(link.ceiling or "")
        if ceiling is not None:
            call.tighten(ceiling, Code.DELEGATION_DENIED,
                         f"`{delegator}` caps what `{delegate}` may do at {ceiling.value}",
                         rule_ref=link.origin.ref)
        as_delegator = call.policy.evaluate(car.action(
            agent=delegator, session=session_view(call), selectors=call.selectors))
        if as_delegator.effect is not Effect.PERMIT:
            call.tighten(as_delegator.effect, Code.DELEGATION_DENIED,
                         f"delegator `{delegator}` would not be permitted this call: "
                         f"{as_delegator.reason}", rule_ref=as_delegator.rule_ref)
        if call.decision is not None and call.decision.effect is Effect.DENY:
            return


def _link(delegations: tuple[Delegation, ...], target: str) -> Delegation | None:
    return next((d for d in delegations if d.target_agent == target), None)
