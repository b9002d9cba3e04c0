"""Stage 6: selectors, declared external lookups (`selector NAME { source cache timeout
on_unavailable on_timeout }`), exposed to conditions as `selectors.NAME`.

A value is fetched at most once per `cache` period per agent and reused within it, so
decisions stay deterministic on the cached value; concurrent calls share one fetch. A
fetch that fails or exceeds `timeout` (default 200 ms) applies `on_unavailable` /
`on_timeout` (default deny): deny and defer decide SELECTOR_UNAVAILABLE, permit goes on
without the value (conditions that read it are then undecided and fail closed).
Sources are URLs fetched with GET and answered with JSON; `file://` is accepted for
tests and static data. The agent's id is sent as the `agent` query parameter.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect
from faramesh.policy.ir import Block

DEFAULT_TIMEOUT_S = 0.2
MAX_BODY = 1 << 20

Fetch = Callable[[str, float], Any]  # (url, timeout_s) -> parsed JSON; raises on failure


def fetch_json(url: str, timeout_s: float) -> Any:
    if not url.startswith(("http://", "https://", "file://")):
        raise ValueError(f"unsupported selector source `{url}`")
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (scheme checked)
        return json.loads(response.read(MAX_BODY + 1)[:MAX_BODY])


@dataclass
class SelectorCache:
    fetch: Fetch = fetch_json
    _values: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)
    _inflight: dict[tuple[str, str], asyncio.Future[Any]] = field(default_factory=dict)

    async def get(self, agent_id: str, block: Block, now_s: float) -> Any:
        """The selector's value for this agent; raises TimeoutError or another error."""
        key = (agent_id, block.name or "")
        cached = self._values.get(key)
        ttl = _seconds(block.get("cache"), 0.0)
        if cached is not None and now_s - cached[0] < ttl:
            return cached[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            timeout_s = _seconds(block.get("timeout"), DEFAULT_TIMEOUT_S)
            source = str(block.get("source"))
            url = source if source.startswith("file://") else \
                f"{source}{'&' if '?' in source else '?'}{urlencode({'agent': agent_id})}"
            value = await asyncio.wait_for(
                asyncio.to_thread(self.fetch, url, timeout_s), timeout_s)
            self._values[key] = (now_s, value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            del self._inflight[key]


def _seconds(value: object, default: float) -> float:
    seconds = getattr(value, "seconds", None)
    return float(seconds) if seconds is not None else default


_EFFECTS = {"deny": Effect.DENY, "defer": Effect.DEFER, "permit": Effect.PERMIT}


async def run(call: Call, env: Env) -> None:
    if call.agent is None or env.selectors is None:
        return
    now_s = call.car.received_at.timestamp()
    for block in call.agent.agent.blocks:
        if block.kind != "selector":
            continue
        try:
            call.selectors[block.name or ""] = await env.selectors.get(
                call.car.agent_id, block, now_s)
            continue
        except TimeoutError:
            setting, what = block.get("on_timeout") or block.get("on_unavailable"), "timed out"
        except Exception as exc:  # any failure of the source is "unavailable"
            setting, what = block.get("on_unavailable"), f"is unavailable ({exc})"
        effect = _EFFECTS.get(str(setting), Effect.DENY)
        if effect is not Effect.PERMIT:
            call.decide(effect, Code.SELECTOR_UNAVAILABLE,
                        f"selector `{block.name}` {what}", rule_ref=block.origin.ref)
            return
