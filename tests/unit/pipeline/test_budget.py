"""The budget stage: windows, all-or-nothing spends, warnings, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import faramesh
from faramesh.car import Caller, build_car
from faramesh.pipeline import budget
from faramesh.pipeline.call import Call, Env, Settings
from faramesh.policy import ir
from faramesh.policy.decision import Code, Effect
from faramesh.policy.evaluator import Policy
from faramesh.policy.values import Money
from faramesh.state.memory import MemoryState
from tests.unit.pipeline.harness import ListLog

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 26, tzinfo=UTC)
POLICY = faramesh.load_policy("""
agent "a" {
  default permit
  rules {
    defer stripe/payout
    permit stripe/*
  }
  budget daily { max $100  warn_at 0.8  on_exceed deny }
  budget session { max_calls 3  on_exceed defer }
}
agent "hourly" {
  default permit
  budget hour { max $10  window 1h }
}
agent "counted" {
  default permit
  budget daily { max_calls 2 }
}
agent "capped" {
  default permit
  budget session { max $50  daily $60 }
}
agent "euro" {
  default permit
  budget daily { max €10 }
}
agent "priced" {
  default permit
  tool "openai/chat" { tags = ["llm"] }
  tool "openai/embed" { cost = $0.0001 }
  tool "openai/**" { cost = $0.002 }
  tool "stripe/*" { cost = $0.05 }
  budget daily { max $1 }
}
""")
PRICED_KEY = "priced\x1fdaily\x1fday:2026-11-25"



def make_env() -> Env:
    return Env(state=MemoryState(), log=ListLog(), settings=Settings(), clock=lambda: T0)


def make_call(agent: str = "a", cost: str | None = "1", at: datetime = T0,
              tool: str = "stripe/charge", session_id: str = "s1") -> Call:
    request: dict[str, Any] = {"agent": agent, "tool": tool, "session_id": session_id}
    if cost is not None:
        request["cost"] = cost
    car = build_car(request, Caller("inprocess"), at)
    call = Call(car, POLICY, POLICY.agents[agent])
    call.decision = POLICY.evaluate(car.action())
    return call


def decide(env: Env, **fields: Any) -> Call:
    call = make_call(**fields)
    asyncio.run(budget.run(call, env))
    return call


def spent(env: Env, key: str) -> tuple[Decimal, int]:
    return asyncio.run(env.state.budgets.spent(key))


def code(call: Call) -> Code | None:
    return call.decision.code if call.decision else None


DAY_KEY = "a\x1fdaily\x1fday:2026-11-25"


def test_a_permitted_call_is_charged_and_its_budgets_are_reported() -> None:
    env = make_env()
    call = decide(env, cost="20")
    assert code(call) is Code.RULE_PERMIT
    assert spent(env, DAY_KEY) == (Decimal(20), 1)
    assert call.budget[0] == {"budget_id": "daily", "window": "day", "spent_usd": "20",
                              "max_usd": "100", "spent_calls": 1, "max_calls": None,
                              "resets_at": MIDNIGHT.isoformat()}
    assert [op[0] for op in call.state_ops] == ["budget.spend", "budget.spend"]


def test_a_call_that_would_overshoot_is_refused_and_not_charged() -> None:
    env = make_env()
    decide(env, cost="90")
    call = decide(env, cost="10.01", session_id="s2")
    assert call.decision is not None
    assert (call.decision.effect, call.decision.code) == (Effect.DENY, Code.BUDGET_EXCEEDED)
    assert call.decision.rule_ref == "<policy>:8"
    assert call.resolution == {"budget_reset": True, "budget_id": "daily",
                               "resets_at": MIDNIGHT.isoformat()}
    assert spent(env, DAY_KEY) == (Decimal(90), 1)


def test_refusal_by_one_budget_leaves_the_others_uncharged() -> None:
    env = make_env()
    for _ in range(3):
        decide(env, cost="5")
    call = decide(env, cost="5")  # the session budget allows 3 calls
    assert call.decision is not None
    assert (call.decision.effect, call.decision.code) == (Effect.DEFER, Code.BUDGET_EXCEEDED)
    assert call.resolution["budget_id"] == "session"
    assert call.resolution["resets_at"] is None
    assert spent(env, DAY_KEY) == (Decimal(15), 3)


def test_a_daily_budget_resets_exactly_at_midnight_utc() -> None:
    env = make_env()
    last_instant = MIDNIGHT - timedelta(microseconds=1)
    assert code(decide(env, cost="100", at=last_instant)) is not Code.BUDGET_EXCEEDED
    assert code(decide(env, cost="1", at=last_instant, session_id="s2")) is \
        Code.BUDGET_EXCEEDED
    assert code(decide(env, cost="1", at=MIDNIGHT, session_id="s3")) is Code.RULE_PERMIT
    assert spent(env, "a\x1fdaily\x1fday:2026-11-26") == (Decimal(1), 1)


def test_a_session_budget_counts_per_session_id() -> None:
    env = make_env()
    for _ in range(3):
        assert code(decide(env, session_id="s1")) is not Code.BUDGET_EXCEEDED
    assert code(decide(env, session_id="s1")) is Code.BUDGET_EXCEEDED
    assert code(decide(env, session_id="s2")) is Code.RULE_PERMIT


def test_custom_windows_are_aligned_to_the_epoch() -> None:
    env = make_env()
    late = T0 + timedelta(minutes=59, seconds=59)
    assert code(decide(env, agent="hourly", cost="10", at=late)) is Code.DEFAULT_PERMIT
    refused = decide(env, agent="hourly", cost="0.01", at=late)
    assert code(refused) is Code.BUDGET_EXCEEDED
    next_hour = T0 + timedelta(hours=1)
    assert refused.resolution["resets_at"] == next_hour.isoformat()
    assert code(decide(env, agent="hourly", cost="10", at=next_hour)) is Code.DEFAULT_PERMIT


def test_a_call_without_a_cost_still_counts_against_max_calls() -> None:
    env = make_env()
    codes = [code(decide(env, agent="counted", cost=None)) for _ in range(3)]
    assert codes == [Code.DEFAULT_PERMIT, Code.DEFAULT_PERMIT, Code.BUDGET_EXCEEDED]
    assert spent(env, "counted\x1fdaily\x1fday:2026-11-25") == (Decimal(0), 2)


def test_a_call_without_a_cost_is_charged_its_tools_cost_from_the_table() -> None:
    env = make_env()
    call = decide(env, agent="priced", tool="Stripe/Charge", cost=None)
    assert code(call) is Code.DEFAULT_PERMIT
    assert spent(env, PRICED_KEY) == (Decimal("0.05"), 1)
    assert call.budget[0]["spent_usd"] == "0.05"


def test_the_first_declaration_with_a_cost_that_matches_gives_the_cost() -> None:
    env = make_env()
    decide(env, agent="priced", tool="openai/embed", cost=None)  # before `openai/**`
    assert spent(env, PRICED_KEY) == (Decimal("0.0001"), 1)
    decide(env, agent="priced", tool="openai/chat", cost=None)  # its tags give no cost
    assert spent(env, PRICED_KEY) == (Decimal("0.0021"), 2)


def test_an_explicit_cost_wins_over_the_table() -> None:
    env = make_env()
    decide(env, agent="priced", tool="stripe/charge", cost="0.5")
    assert spent(env, PRICED_KEY) == (Decimal("0.5"), 1)
    decide(env, agent="priced", tool="stripe/charge", cost="0")
    assert spent(env, PRICED_KEY) == (Decimal("0.5"), 2)


def test_a_tool_the_table_does_not_price_costs_nothing() -> None:
    env = make_env()
    assert code(decide(env, agent="priced", tool="fs/read", cost=None)) is Code.DEFAULT_PERMIT
    assert spent(env, PRICED_KEY) == (Decimal(0), 1)


def test_the_table_cost_counts_against_the_budget() -> None:
    env = make_env()
    codes = [code(decide(env, agent="priced", tool="stripe/charge", cost=None))
             for _ in range(21)]
    assert codes == [Code.DEFAULT_PERMIT] * 20 + [Code.BUDGET_EXCEEDED]  # $1 / $0.05


def test_a_tool_cost_in_another_currency_refuses_the_call() -> None:
    tools = (ir.ToolDecl("t", cost=Money(Decimal(1), "EUR")),)  # IR the compilers refuse
    policy = Policy(ir.PolicyIR((ir.Agent("x", ir.RuleEffect.PERMIT, tools=tools,
                                          budgets=(ir.Budget("daily", max_calls=5),)),)))
    car = build_car({"agent": "x", "tool": "t"}, Caller("inprocess"), T0)
    call = Call(car, policy, policy.agents["x"])
    call.decision = policy.evaluate(car.action())
    asyncio.run(budget.run(call, make_env()))
    assert code(call) is Code.BUDGET_EXCEEDED and call.state_ops == []


def test_a_daily_amount_beside_a_session_budget_limits_the_day() -> None:
    env = make_env()
    assert code(decide(env, agent="capped", cost="50", session_id="s1")) is \
        Code.DEFAULT_PERMIT
    refused = decide(env, agent="capped", cost="20", session_id="s2")
    assert code(refused) is Code.BUDGET_EXCEEDED
    assert refused.resolution["resets_at"] == MIDNIGHT.isoformat()
    assert spent(env, "capped\x1fsession\x1fsession:s2") == (Decimal(0), 0)


def test_crossing_warn_at_warns_once_and_marks_a_plain_permit() -> None:
    env = make_env()
    decide(env, cost="79")
    crossing = decide(env, cost="1", session_id="s2")
    assert crossing.decision is not None
    assert (crossing.decision.effect, crossing.decision.code) == \
        (Effect.PERMIT, Code.BUDGET_WARNING)
    assert crossing.warnings == [Code.BUDGET_WARNING]
    after = decide(env, cost="1", session_id="s3")
    assert code(after) is Code.RULE_PERMIT and after.warnings == []


def test_deferred_calls_are_not_charged() -> None:
    env = make_env()
    call = decide(env, tool="stripe/payout", cost="50")
    assert code(call) is Code.POLICY_DEFER
    assert call.state_ops == [] and spent(env, DAY_KEY) == (Decimal(0), 0)


def test_a_budget_in_another_currency_refuses_every_call() -> None:
    env = make_env()
    call = decide(env, agent="euro", cost="1")
    assert code(call) is Code.BUDGET_EXCEEDED and call.state_ops == []


def test_concurrent_calls_never_spend_more_than_the_budget() -> None:
    env = make_env()

    async def hammer(worker: int) -> list[Code | None]:
        codes = []
        for i in range(20):
            call = make_call(cost="1.5", session_id=f"w{worker}-{i}")
            await budget.run(call, env)
            codes.append(code(call))
        return codes

    async def main() -> list[list[Code | None]]:
        return await asyncio.gather(*(hammer(w) for w in range(8)))

    codes = [c for worker in asyncio.run(main()) for c in worker]
    permitted = sum(c is not Code.BUDGET_EXCEEDED for c in codes)
    assert permitted == 66  # floor(100 / 1.5)
    assert spent(env, DAY_KEY) == (Decimal("99.0"), 66)
