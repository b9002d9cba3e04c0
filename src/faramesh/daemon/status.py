"""`faramesh status`: what the daemon is doing, read from its live state.

Lifecycle, mode and durability, the policy in force, and per agent: kill switch,
sessions, budget consumption and rate-limit tokens. The trust level is a placeholder
until the sandbox layers exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faramesh.pipeline.budget import limit_status, limits_for
from faramesh.pipeline.rate_limit import bucket_key, compile_limit
from faramesh.policy.evaluator import CompiledAgent

if TYPE_CHECKING:
    from datetime import datetime

    from faramesh.daemon.core import Daemon
    from faramesh.state.protocol import StateStore

TRUST_LEVEL = "none: OS sandbox layers are not built yet (SDK and socket enforcement only)"


async def build_status(daemon: Daemon) -> dict[str, Any]:
    settings = daemon.settings
    out: dict[str, Any] = {
        "lifecycle": daemon.lifecycle.value,
        "started_at": daemon.started_at.isoformat(),
        "ready_at": daemon.ready_at.isoformat() if daemon.ready_at else None,
        "trust_level": TRUST_LEVEL,
        "pid": _pid(),
    }
    if settings is not None:
        out["mode"] = settings.mode
        out["durability"] = settings.durability
        out["settings"] = settings.to_dict()
        if settings.durability == "os":
            out["unflushed_window_s"] = settings.flush_interval_s
    wal = daemon.wal
    if wal is not None:
        out["wal"] = {"last_sequence": wal.last_sequence, "degraded": wal.degraded,
                      "durability": wal.durability}
    pipeline, state = daemon.pipeline, daemon.state
    if pipeline is None or state is None:
        return out
    policy = pipeline.policy
    out["policy"] = {"version": policy.version_hash, "source": daemon.policy_source,
                     "agents": len(policy.agents)}
    out["kill_switch"] = [{"agent_id": k.agent_id, "reason": k.reason,
                           "since": k.since.isoformat()} for k in await state.kill_switch.all()]
    now = daemon.clock()
    out["agents"] = [await _agent_status(agent, state, now)
                     for agent in policy.agents.values()]
    return out


async def _agent_status(agent: CompiledAgent, state: StateStore,
                        now: datetime) -> dict[str, Any]:
    agent_id = agent.agent.agent_id
    engaged = await state.kill_switch.engaged(agent_id)
    sessions = await state.sessions.list(agent_id)
    budgets: list[dict[str, Any]] = []
    for budget in agent.agent.budgets:
        if budget.budget_id == "session":
            for session in sessions:
                for limit in limits_for(budget, agent_id, session.session_id, now):
                    spent_usd, spent_calls = await state.budgets.spent(limit.key)
                    budgets.append({**limit_status(limit, spent_usd, spent_calls),
                                    "session_id": session.session_id})
            continue
        for limit in limits_for(budget, agent_id, "", now):
            spent_usd, spent_calls = await state.budgets.spent(limit.key)
            budgets.append(limit_status(limit, spent_usd, spent_calls))
    rate_limits = []
    for rate_limit in agent.agent.rate_limits:
        bucket = compile_limit(rate_limit)
        tokens = await state.rate_limits.peek(bucket_key(agent_id, bucket.pattern),
                                              bucket.capacity, bucket.refill_per_s, now)
        rate_limits.append({"pattern": bucket.pattern, "capacity": bucket.capacity,
                            "tokens": round(tokens, 3), "per": rate_limit.window.text})
    return {"agent_id": agent_id,
            "killed": engaged is not None,
            "sessions": len(sessions),
            "budgets": budgets,
            "rate_limits": rate_limits}


def _pid() -> int:
    import os

    return os.getpid()
