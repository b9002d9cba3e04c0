"""Budgets: charge a permitted call's cost to each of the agent's budgets. A budget the
call would overshoot refuses it per `on_exceed` (BUDGET_EXCEEDED, nothing charged); a
spend that passes `warn_at` warns (BUDGET_WARNING). Only PERMIT decisions spend.

Windows, one ledger key each (`agent_id`, the budget id and the window, joined by \\x1f):
- `daily`: the UTC day; resets at the next midnight UTC.
- `session`: the call's session id; never resets (the ledger forgets it
  `SESSION_RETENTION` after its last spend, as the session itself is forgotten).
- `global`: the agent's lifetime; never resets.
- any other id: fixed windows of its `window` duration, aligned to the Unix epoch.
A `daily` amount in a budget other than `daily` is a second limit over the UTC day.

Cost: the call's `cost` (`car.cost_usd`) when it gives one; else the cost table, the
agent's tool declarations (`tool "openai/**" { cost = $0.002 }`, legacy YAML `cost_usd`):
the cost of the first declaration, in declaration order, that has a cost and whose
pattern matches the tool; else $0. A call costing $0 still counts against `max_calls`.
Limits and costs are in US dollars: a budget or a tool cost in another currency cannot be
compared and refuses every call it applies to (fail closed; the compilers refuse both).

All or nothing: the budgets are spent one by one, each spend atomic with its own check;
when one refuses, the spends already made for this call are refunded (negative spends),
so a refused call is charged nowhere. A concurrent call that sees the amount reserved in
between may be refused: a race errs on the strict side and never overspends. (In the
embedded backend no other call runs in between at all: its methods never yield.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from faramesh.car import canonical_pattern
from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect
from faramesh.policy.evaluator import CompiledAgent
from faramesh.policy.ir import Budget, RuleEffect
from faramesh.policy.patterns import Matcher, compile_pattern
from faramesh.policy.values import Money
from faramesh.state.protocol import SESSION_RETENTION, SpendResult

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLAIN_PERMITS = frozenset({Code.RULE_PERMIT, Code.DEFAULT_PERMIT})
_DEFERRING = frozenset({RuleEffect.DEFER, RuleEffect.STEP_UP})
# Each agent's cost table, compiled on first use: (matcher, cost) in declaration order.
_COST_TABLES: WeakKeyDictionary[CompiledAgent, tuple[tuple[Matcher, Money], ...]] = \
    WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class Limit:
    """One ledger key a budget charges for this call, and its limits."""

    budget: Budget
    key: str
    window: str  # "day", "session", "global" or the budget's window (`7d`)
    max_usd: Decimal | None
    max_calls: int | None
    resets_at: datetime | None
    expires_at: datetime | None  # when the ledger may forget the key


def _usd(money: Money | None) -> Decimal | None:
    return None if money is None else money.amount


def table_cost(agent: CompiledAgent, tool: str) -> Money | None:
    """The cost table's price of a call to the canonical `tool`, None when none is given."""
    table = _COST_TABLES.get(agent)
    if table is None:
        table = _COST_TABLES[agent] = tuple(
            (compile_pattern(canonical_pattern(t.name)), t.cost)
            for t in agent.agent.tools if t.cost is not None)
    return next((cost for matches, cost in table if matches(tool)), None)


def window_start(now: datetime, window_s: Decimal) -> datetime:
    """The start of the fixed window holding `now` (windows aligned to the Unix epoch)."""
    width_us = max(int(window_s * 1_000_000), 1)
    elapsed_us = (now - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=elapsed_us - elapsed_us % width_us)


def limits_for(budget: Budget, agent_id: str, session_id: str, now: datetime) -> list[Limit]:
    bid = budget.budget_id
    base = f"{agent_id}\x1f{bid}\x1f"
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    midnight = day + timedelta(days=1)
    day_key = f"day:{day.date().isoformat()}"
    if bid == "daily":
        amounts = [a for a in (_usd(budget.max), _usd(budget.daily)) if a is not None]
        return [Limit(budget, base + day_key, "day", min(amounts, default=None),
                      budget.max_calls, midnight, midnight)]
    if bid == "session":
        main = Limit(budget, f"{base}session:{session_id}", "session", _usd(budget.max),
                     budget.max_calls, None, now + SESSION_RETENTION)
    elif budget.window is None:  # `global`
        main = Limit(budget, base + "global", "global", _usd(budget.max), budget.max_calls,
                     None, None)
    else:
        start = window_start(now, budget.window.seconds)
        end = start + timedelta(seconds=float(budget.window.seconds))
        main = Limit(budget, f"{base}window:{start.isoformat()}", budget.window.text,
                     _usd(budget.max), budget.max_calls, end, end)
    if budget.daily is None:
        return [main]
    return [main, Limit(budget, base + day_key, "day", budget.daily.amount, None, midnight,
                        midnight)]


async def run(call: Call, env: Env) -> None:
    decision, agent = call.decision, call.agent
    if decision is None or decision.effect is not Effect.PERMIT or agent is None:
        return
    budgets = agent.agent.budgets
    if not budgets:
        return
    for budget in budgets:
        foreign = next((m for m in (budget.max, budget.daily)
                        if m is not None and m.currency != "USD"), None)
        if foreign is not None:
            _refuse(call, budget, None, f"budget `{budget.budget_id}` is in "
                    f"{foreign.currency}; costs are counted in US dollars")
            return
    car = call.car
    now = car.received_at.astimezone(UTC)
    cost = car.cost_usd
    if cost is None:
        listed = table_cost(agent, car.tool)
        if listed is not None and listed.currency != "USD":
            _refuse(call, budgets[0], None, f"the cost of `{car.tool}` is in "
                    f"{listed.currency}; costs are counted in US dollars")
            return
        cost = listed.amount if listed is not None else Decimal(0)
    call.cost_usd = cost
    ledger = env.state.budgets
    charged: list[tuple[Limit, SpendResult]] = []
    for limit in [lim for b in budgets
                  for lim in limits_for(b, car.agent_id, car.session_id, now)]:
        result = await ledger.spend(limit.key, cost, 1, max_usd=limit.max_usd,
                                    max_calls=limit.max_calls, expires_at=limit.expires_at)
        call.note(result.op)
        if result.allowed:
            charged.append((limit, result))
            continue
        for done, spent in reversed(charged):
            refund = await ledger.spend(done.key, -cost, -1, max_usd=None, max_calls=None,
                                        expires_at=done.expires_at)
            call.note(refund.op)
            call.budget.append(limit_status(done, spent.spent_usd - cost, spent.spent_calls - 1))
        call.budget.append(limit_status(limit, result.spent_usd, result.spent_calls))
        _refuse(call, limit.budget, limit, f"budget `{limit.budget.budget_id}` would be "
                "exceeded by this call")
        return
    for limit, result in charged:
        call.budget.append(limit_status(limit, result.spent_usd, result.spent_calls))
    if any(_crossed_warning(limit, cost, result) for limit, result in charged):
        call.warnings.append(Code.BUDGET_WARNING)
        if decision.code in _PLAIN_PERMITS:
            call.decision = decision._replace(code=Code.BUDGET_WARNING)


def _crossed_warning(limit: Limit, cost: Decimal, result: SpendResult) -> bool:
    """Whether this spend took the budget from below its `warn_at` share to at or above."""
    warn_at = limit.budget.warn_at
    if warn_at is None:
        return False
    if limit.max_usd is not None and \
            result.spent_usd - cost < warn_at * limit.max_usd <= result.spent_usd:
        return True
    return limit.max_calls is not None and \
        result.spent_calls - 1 < warn_at * limit.max_calls <= result.spent_calls


def _refuse(call: Call, budget: Budget, limit: Limit | None, reason: str) -> None:
    effect = Effect.DEFER if budget.on_exceed in _DEFERRING else Effect.DENY
    call.tighten(effect, Code.BUDGET_EXCEEDED, reason, rule_ref=budget.origin.ref)
    resets_at = limit.resets_at if limit is not None else None
    call.resolution.update(budget_reset=True, budget_id=budget.budget_id,
                           resets_at=resets_at.isoformat() if resets_at else None)


def limit_status(limit: Limit, spent_usd: Decimal, spent_calls: int) -> dict[str, Any]:
    """One budget's state after this call, for the record and `faramesh status`."""
    return {"budget_id": limit.budget.budget_id, "window": limit.window,
            "spent_usd": str(spent_usd),
            "max_usd": str(limit.max_usd) if limit.max_usd is not None else None,
            "spent_calls": spent_calls, "max_calls": limit.max_calls,
            "resets_at": limit.resets_at.isoformat() if limit.resets_at else None}
