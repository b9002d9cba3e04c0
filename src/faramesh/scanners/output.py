"""The output scan: what a tool returned, checked before the agent reads it.

The daemon exposes it as `POST /v1/scan_output`. The same scanners and the same
per-agent `scan` blocks as the pre-scan apply, with the output defaults (secrets and PII
redacted, prompt injection denied). A redacted span becomes `[REDACTED:detector]`; a
denied output is withheld entirely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from faramesh.car import canonical_tool
from faramesh.policy import ir
from faramesh.scanners.config import OUTPUT, config_for
from faramesh.scanners.detector import Action, Finding
from faramesh.scanners.engine import Hit, Path, scan

if TYPE_CHECKING:
    from faramesh.policy.evaluator import CompiledAgent

MAX_FINDINGS = 100  # findings reported per output; every hit is still acted on

Verdict = Literal["pass", "redacted", "denied"]


@dataclass(frozen=True, slots=True)
class OutputScan:
    verdict: Verdict
    findings: tuple[Finding, ...]
    output: object  # redacted when "redacted", None when "denied", else unchanged


def scan_output(agent: CompiledAgent | ir.Agent | None, tool: str,
                output: object) -> OutputScan:
    """Scan a tool's output for the agent (None: defaults only) that called `tool`."""
    policy_agent = agent if agent is None or isinstance(agent, ir.Agent) else agent.agent
    config = config_for(policy_agent)
    if config.errors:
        error = config.errors[0]
        finding = Finding("scan", "scan_config", OUTPUT, error.message, Action.DENY)
        return OutputScan("denied", (finding,), None)
    hits = scan(config.plan(OUTPUT, canonical_tool(tool) or tool), OUTPUT, output)
    findings = tuple(h.finding for h in hits[:MAX_FINDINGS])
    actions = {h.finding.action for h in hits}
    if Action.DENY in actions:
        return OutputScan("denied", findings, None)
    if Action.REDACT in actions:
        return OutputScan("redacted", findings, redact(output, hits))
    return OutputScan("pass", findings, output)


def redact(output: object, hits: list[Hit]) -> object:
    """`output` with every redact hit's span (or whole value) replaced; `output` is unchanged."""
    edits: dict[Path, list[tuple[int, int, str]]] = {}
    whole: dict[Path, str] = {}
    for hit in hits:
        if hit.finding.action is not Action.REDACT:
            continue
        path = hit.segments[1:]  # without the `output` root
        if hit.span is None:
            whole.setdefault(path, f"[REDACTED:{hit.finding.detector}]")
        else:
            edits.setdefault(path, []).append((*hit.span, hit.finding.detector))
    values = {path: _replace_spans(str(_get(output, path)), spans)
              for path, spans in edits.items() if path not in whole}
    values.update(whole)
    return _set_all(output, values)


def _replace_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Overlapping spans merge; the merged span is labelled by the detector that began it."""
    merged: list[tuple[int, int, str]] = []
    for start, end, detector in sorted(spans):
        if merged and start < merged[-1][1]:
            first, last, label = merged[-1]
            merged[-1] = (first, max(last, end), label)
        else:
            merged.append((start, end, detector))
    out: list[str] = []
    pos = 0
    for start, end, detector in merged:
        out.append(text[pos:start])
        out.append(f"[REDACTED:{detector}]")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _get(value: object, path: Path) -> object:
    for segment in path:
        value = value[segment]  # type: ignore[index]
    return value


def _set_all(output: object, values: dict[Path, str]) -> object:
    """A copy of `output` with each path set, copying only the containers on those paths."""
    if () in values:
        return values[()]
    root = _shallow(output)
    copies: dict[Path, object] = {(): root}
    for path, new in values.items():
        node = root
        for i in range(len(path) - 1):
            prefix = path[:i + 1]
            child = copies.get(prefix)
            if child is None:
                child = copies[prefix] = _shallow(node[path[i]])  # type: ignore[index]
                node[path[i]] = child  # type: ignore[index]
            node = child
        node[path[-1]] = new  # type: ignore[index]
    return root


def _shallow(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    return value
