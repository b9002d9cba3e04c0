"""Rate limits: one token bucket per agent and `rate_limit` pattern; an empty bucket
denies (RATE_EXCEEDED) with the exact wait in `retry_after_seconds`.

`rate_limit "stripe/*": 5 per minute` is a bucket of 5 tokens refilled at 5/60 per
second, full when first used. Runs for PERMIT and DEFER decisions: a deferred call still
counts against the rate, so a flood of calls cannot queue up approvals.

A call under several matching limits takes a token from each or from none: every bucket
is peeked first, and tokens are taken only when all hold one. In the embedded backend no
other call runs between the peeks and the takes (its methods never yield to the event
loop), so nothing is lost. In a shared backend a concurrent call may empty a bucket in
between; the tokens already taken then stay taken, which errs on the strict side.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from faramesh.car import canonical_pattern
from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect
from faramesh.policy.ir import RateLimit
from faramesh.policy.patterns import Matcher, compile_pattern

KEY_SEPARATOR = "\x1f"
_SHORTEST_WINDOW_S = 0.001  # a zero window would refill infinitely fast


@dataclass(frozen=True, slots=True)
class Bucket:
    """A rate limit compiled once: its matcher and its bucket's shape."""

    pattern: str  # canonical
    matches: Matcher
    capacity: int
    refill_per_s: float


@lru_cache(maxsize=4096)  # rate limits are frozen: equal limits share one entry
def compile_limit(limit: RateLimit) -> Bucket:
    pattern = canonical_pattern(limit.pattern)
    window_s = max(float(limit.window.seconds), _SHORTEST_WINDOW_S)
    return Bucket(pattern, compile_pattern(pattern), limit.count, limit.count / window_s)


def bucket_key(agent_id: str, pattern: str) -> str:
    return f"{agent_id}{KEY_SEPARATOR}{pattern}"


async def run(call: Call, env: Env) -> None:
    agent = call.agent
    if agent is None or not agent.agent.rate_limits:
        return
    car = call.car
    now = car.received_at
    limiter = env.state.rate_limits
    applying = [(limit, bucket, bucket_key(car.agent_id, bucket.pattern))
                for limit in agent.agent.rate_limits
                if (bucket := compile_limit(limit)).matches(car.tool)]
    empty = [entry for entry in applying
             if await limiter.peek(entry[2], entry[1].capacity, entry[1].refill_per_s, now)
             < 1.0]
    for limit, bucket, key in applying if not empty else ():
        result = await limiter.take(key, bucket.capacity, bucket.refill_per_s, now)
        call.note(result.op)
        if not result.allowed:  # emptied by a concurrent call since the peek
            empty.append((limit, bucket, key))
            break
    if not empty:
        return
    # The call needs a token from every empty bucket: it may retry when the slowest one
    # has refilled. A refused `take` changes nothing and gives the exact wait.
    waits: list[tuple[float, RateLimit]] = []
    for limit, bucket, key in empty:
        result = await limiter.take(key, bucket.capacity, bucket.refill_per_s, now)
        call.note(result.op)
        waits.append((result.retry_after_s, limit))
    wait, limit = max(waits, key=lambda pair: pair[0])
    call.tighten(Effect.DENY, Code.RATE_EXCEEDED,
                 f"rate limit `{limit.pattern}` ({limit.count} per {limit.window}) reached",
                 rule_ref=limit.origin.ref)
    call.resolution["retry_after_seconds"] = round(wait, 3)
