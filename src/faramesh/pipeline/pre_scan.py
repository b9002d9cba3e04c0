"""Stage 3, pre-scanners: look for secrets, personal data and injection in the arguments.

Runs before the policy engine. Every finding is recorded in `call.findings` (never the
matched text). `deny` ends the call with SCAN_DENY; `redact` masks the field in what is
stored; `warn` only records. A denied field is masked too: the record of a call denied
for carrying a secret must not carry the secret.

Mask paths use the redaction stage's grammar: dotted keys under `args`, where a list
applies the rest of the path to every element. A finding inside a list therefore masks
that field in every element (more than needed, never less), and a finding in a key that
holds a `.` masks the nearest enclosing object that can be named (a top-level key
holding a `.` cannot be named: the redaction stage's grammar has no escape for it).

This stage reads only the call: it never touches `env` (tests may pass an Env whose
state and log are placeholders).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faramesh.pipeline.call import Call, Env
from faramesh.policy.decision import Code, Effect
from faramesh.scanners.config import ARGS, config_for
from faramesh.scanners.detector import Action
from faramesh.scanners.engine import Hit, Path, scan

MAX_FINDINGS = 100  # findings recorded per call; every hit is still acted on


async def run(call: Call, env: Env) -> None:
    if call.agent is None:
        return  # the identity stage has already decided
    config = config_for(call.agent.agent)
    if config.errors:
        error = config.errors[0]
        call.findings.append({"scanner": "scan", "detector": "scan_config", "path": ARGS,
                              "action": Action.DENY.value})
        call.decide(Effect.DENY, Code.SCAN_DENY, error.message, rule_ref=error.span.ref)
        return
    hits = scan(config.plan(ARGS, call.car.tool), ARGS, call.car.args)
    if hits:
        _apply(call, hits)


def _apply(call: Call, hits: list[Hit]) -> None:
    masked = set(call.mask_paths)
    denied: Hit | None = None
    for hit in hits:
        finding = hit.finding
        if len(call.findings) < MAX_FINDINGS:
            call.findings.append({"scanner": finding.scanner, "detector": finding.detector,
                                  "path": finding.path, "action": finding.action.value})
        if finding.action is Action.WARN:
            if Code.SCAN_WARNING not in call.warnings:
                call.warnings.append(Code.SCAN_WARNING)
            continue
        for path in _mask_paths(call.car.args, hit.segments[1:]):
            if path not in masked:
                masked.add(path)
                call.mask_paths.append(path)
        if finding.action is Action.DENY and denied is None:
            denied = hit
    if denied is not None:
        f = denied.finding
        call.decide(Effect.DENY, Code.SCAN_DENY,
                    f"{f.scanner} scanner found `{f.detector}` in `{f.path}`",
                    rule_ref=denied.rule_ref)


def _mask_paths(args: Mapping[str, Any], segments: Path) -> list[str]:
    """A hit on the whole arguments (`scan_truncated`) masks every top-level field."""
    if not segments:
        return [key for key in map(str, args) if key and "." not in key]
    return [mask_path(args, segments)]


def mask_path(args: object, segments: Path) -> str:
    """The dotted path the redaction stage masks for a hit at `segments` (list indexes
    dropped; cut at the first key the dotted grammar cannot spell)."""
    keys: list[str] = []
    node: Any = args
    for segment in segments:
        if not isinstance(node, list | tuple):
            key = str(segment)
            if "." in key or not key:
                break
            keys.append(key)
        node = node[segment]
    return ".".join(keys)
