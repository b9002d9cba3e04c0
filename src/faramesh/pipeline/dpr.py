"""Stage 10: hand the durable record to the DPR worker (chain, signing, the indexed store)
without waiting for it: that work is off the hot path."""

from __future__ import annotations

from faramesh.pipeline.call import Call, Env


async def run(call: Call, env: Env) -> None:
    if env.dpr is not None and call.record is not None:
        env.dpr.submit(call.sequence, call.record)
