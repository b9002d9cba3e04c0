"""Stage 10: hand the durable record to the DPR worker (chain, signing, the indexed store)
without waiting for it: that work is off the hot path."""

from __future__ import annotations

import asyncio

from faramesh.pipeline.call import Call, Env


async def run(call: Call, env: Env) -> None:
    if env.dpr is not None and call.record is not None:
        # Runs after the answer is written (the record is already durable in the WAL).
        asyncio.get_running_loop().call_soon(env.dpr.submit, call.sequence, call.record)
