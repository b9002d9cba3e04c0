"""Egress and model policy: where a call may reach and which model may drive it.

The destination is the action's `http.host`, else the host of a string `args.url`. An
`egress { deny }` glob that matches, or an `allow` list that nothing matches, denies
(EGRESS_DENIED); `model_policy` does the same for the action's `model` (MODEL_DENIED).
`on_violation` may soften either to a defer.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect
from faramesh.policy.ir import Block


def destination(call: Call) -> str | None:
    host = call.car.http.get("host")
    if isinstance(host, str) and host:
        return host.casefold().rstrip(".")
    url = call.car.args.get("url")
    if isinstance(url, str):
        try:
            parsed = urlsplit(url).hostname
        except ValueError:
            return "<unparsable url>"  # matches no allow entry: fail closed
        return parsed.rstrip(".") if parsed else None
    return None


def _strings(block: Block, key: str) -> Sequence[str]:
    value = block.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, tuple) else ()


def violates(block: Block, value: str) -> str | None:
    """Why `value` breaks the block's allow/deny lists, or None."""
    folded = value.casefold()
    for glob in _strings(block, "deny"):
        if fnmatchcase(folded, glob.casefold()):
            return f"`{value}` matches deny entry `{glob}`"
    allow = _strings(block, "allow")
    if allow and not any(fnmatchcase(folded, g.casefold()) for g in allow):
        return f"`{value}` is not in the allow list"
    return None


async def run(call: Call, env: Env) -> None:
    if call.agent is None:
        return
    for block in call.agent.agent.blocks:
        if block.kind == "egress":
            value, code = destination(call), Code.EGRESS_DENIED
        elif block.kind == "model_policy":
            value, code = call.car.model, Code.MODEL_DENIED
        else:
            continue
        if value is None:
            continue
        why = violates(block, value)
        if why is not None:
            effect = Effect.DEFER if block.get("on_violation") == "defer" else Effect.DENY
            call.tighten(effect, code, why, rule_ref=block.origin.ref)
            return
