"""Redaction before anything is stored: the policy's `redact` fields and the paths the
pre-scanners marked are masked in the arguments the record, the history and every sink
see. Only the caller's own answer (MODIFIED `args`) carries unmasked values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from faramesh.car import canonical_pattern
from faramesh.pipeline.call import Call, Env
from faramesh.policy.patterns import compile_pattern

MASK = "[REDACTED]"


def masked(value: Any, paths: Iterable[str]) -> Any:
    """A copy of `value` with every dotted path masked; a list applies the rest of the
    path to each element. Only the containers on a masked path are copied."""
    for path in paths:
        keys = path.removeprefix("args.").split(".")
        value = _mask(value, keys)
    return value


def _mask(node: Any, keys: list[str]) -> Any:
    if not keys:
        return MASK
    if isinstance(node, Mapping):
        head = keys[0]
        if head not in node:
            return node
        out = dict(node)
        out[head] = _mask(node[head], keys[1:])
        return out
    if isinstance(node, list):
        return [_mask(item, keys) for item in node]
    return node


async def run(call: Call, env: Env) -> None:
    paths = list(call.mask_paths)
    if call.agent is not None:
        for redaction in call.agent.agent.redactions:
            if compile_pattern(canonical_pattern(redaction.pattern))(call.car.tool):
                paths.extend(redaction.fields)
    call.stored_args = masked(call.car.args, paths) if paths else call.car.args
    call.mask_paths = paths
