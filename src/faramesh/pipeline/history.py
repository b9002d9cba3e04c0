"""Stage 5: the session's history ring, loaded for conditions (`session.history`,
`history_sequence`, `session.sum`), and `remember`, with which `record` adds a call that
will run. Only calls that ran are history: a denied call never happened.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from faramesh.pipeline.call import Call, Env
from faramesh.pipeline.session import limits_of, session_block
from faramesh.policy import ir
from faramesh.policy.evaluator import Policy
from faramesh.state.protocol import HistoryEntry

HISTORY_FUNCTIONS = frozenset({"history_sequence", "history_contains_within", "session.sum",
                               "session.count"})
_READS: WeakKeyDictionary[Policy, bool] = WeakKeyDictionary()


def reads_history(policy: Policy) -> bool:
    """Whether any condition of the policy reads the history. Per policy, not per agent:
    a delegation evaluates the call as its delegators too."""
    known = _READS.get(policy)
    if known is None:
        rules = [r for a in policy.ir.agents
                 for r in (*a.rules, *(pr for p in a.phases for pr in p.rules))]
        known = _READS[policy] = any(
            r.condition is not None and ir.any_node(r.condition, _reads) for r in rules)
    return known


def _reads(expr: ir.Expr) -> bool:
    return (isinstance(expr, ir.Var) and expr.path[:2] == ("session", "history")) or \
        (isinstance(expr, ir.Call) and expr.name in HISTORY_FUNCTIONS)


async def run(call: Call, env: Env) -> None:
    if call.agent is None or not reads_history(call.policy):
        return  # the ring is still kept (`remember`): a later policy may read it
    car = call.car
    call.history = await env.state.history.recent(car.agent_id, car.session_id)


async def remember(call: Call, env: Env) -> None:
    """Push the call onto its session's ring, with its recorded (redacted) arguments.

    `record` calls this for the calls the caller will run (PERMIT, or let through in
    audit mode); the ring keeps the session block's `history` entries, else
    `settings.history_limit`.
    """
    if call.agent is None:
        return
    car = call.car
    limit = limits_of(session_block(call.agent.agent)).history
    if limit is None:
        limit = env.settings.history_limit
    entry = HistoryEntry(car.tool, car.received_at, call.stored_args, car.action_id)
    mutation = await env.state.history.push(car.agent_id, car.session_id, entry, limit)
    call.note(mutation.op)
