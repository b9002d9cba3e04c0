"""Stage 7: the FPL engine. Builds the action the evaluator reads from the CAR and what
the earlier stages found (session, history, phase, selectors) and takes its decision."""

from __future__ import annotations

from typing import Any

from faramesh.pipeline.call import Call, Env


def session_view(call: Call) -> dict[str, Any]:
    """`session.*` as conditions see it (docs/fpl.md: history, purpose, phase, counters)."""
    car, state = call.car, call.session
    view: dict[str, Any] = {
        "id": car.session_id,
        "history": [h.to_condition() for h in call.history],
        "call_count": state.call_count if state else 0,
    }
    purpose = car.purpose or (state.purpose if state else None)
    if purpose is not None:
        view["purpose"] = purpose
    if call.phase is not None:
        view["phase"] = call.phase
    if state is not None:
        view["started_at"] = state.started_at
        if state.last_tool is not None:
            view["last_tool"] = state.last_tool
    return view


async def run(call: Call, env: Env) -> None:
    call.decision = call.policy.evaluate(
        call.car.action(session=session_view(call), selectors=call.selectors))
