"""Which scanners run, with which action, for one agent and tool: `scan` blocks over defaults.

An agent's `scan NAME { ... }` block replaces the defaults of scanner NAME for that agent;
scanners it does not name keep their defaults. Defaults (docs/scanners.md says why):

    place    secrets  pii     injection  prompt_injection
    args     deny     warn    warn       -
    output   redact   redact  -          deny

A block's `tools` / `except_tools` globs (the one tool-pattern matcher) choose the tools
it applies to: on other tools the scanner does not run. `fields` narrows the paths
scanned under each root it names (`args.body`), `allow` exempts values.

The FPL schema cannot restrict a block's name, so scanner names (and field roots) are
checked here: `check_scan_blocks` gives located diagnostics for the loader and
`faramesh check`, and a config that fails them makes every scan deny (fail closed).
Compiled once per policy agent and cached; plans are cached per tool.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

from faramesh.car import canonical_pattern
from faramesh.fpl.diagnostics import Diagnostic, Span
from faramesh.policy import ir
from faramesh.policy.patterns import Matcher, compile_pattern
from faramesh.policy.regex import compile_regex
from faramesh.scanners.detector import Action
from faramesh.scanners.engine import SCANNERS, Active, Plan, make_plan

ARGS = "args"
OUTPUT = "output"
PLACES = (ARGS, OUTPUT)
DEFAULTS: dict[str, dict[str, Action]] = {
    ARGS: {"secrets": Action.DENY, "pii": Action.WARN, "injection": Action.WARN},
    OUTPUT: {"secrets": Action.REDACT, "pii": Action.REDACT, "prompt_injection": Action.DENY},
}
_FIELD_OF_PLACE = {ARGS: "on", OUTPUT: "on_output"}
PLAN_CACHE_LIMIT = 4096  # tools per agent; bounded so hostile tool names cannot grow memory
CONFIG_CACHE_LIMIT = 256  # policy agents (old policies drop out after a reload or two)


@dataclass(frozen=True, slots=True)
class ScanBlock:
    """One compiled `scan` block."""

    scanner: str
    on: dict[str, Action | None]  # place -> the block's action there, None: the default
    tools: tuple[Matcher, ...]
    except_tools: tuple[Matcher, ...]
    fields: tuple[tuple[str, ...], ...]
    allow: Callable[[str], bool] | None
    rule_ref: str

    def applies(self, tool: str) -> bool:
        return any(m(tool) for m in self.tools) and not any(m(tool) for m in self.except_tools)


class ScanConfig:
    """The scanner configuration of one agent (None: the defaults only)."""

    def __init__(self, agent: ir.Agent | None) -> None:
        blocks = [b for b in agent.blocks if b.kind == "scan"] if agent is not None else []
        self.errors: tuple[Diagnostic, ...] = tuple(d for b in blocks for d in _check(b))
        self._blocks = {} if self.errors else {b.name or "": _compile(b) for b in blocks}
        self._plans: dict[tuple[str, str], Plan] = {}

    def plan(self, place: str, tool: str) -> Plan:
        key = (place, tool)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= PLAN_CACHE_LIMIT:
                self._plans.clear()
            plan = self._plans[key] = self._build(place, tool)
        return plan

    def _build(self, place: str, tool: str) -> Plan:
        active: list[Active] = []
        for scanner in SCANNERS:
            default = DEFAULTS[place].get(scanner)
            block = self._blocks.get(scanner)
            if block is None:
                if default is not None:
                    active.append(Active(scanner, default))
                continue
            action = block.on[place] or default
            if action is None or not block.applies(tool):
                continue
            fields = tuple(f for f in block.fields if f[0] == place)
            active.append(Active(scanner, action, fields, block.allow, block.rule_ref))
        return make_plan(tuple(active))


_CONFIGS: dict[int, tuple[ir.Agent | None, ScanConfig]] = {}


def config_for(agent: ir.Agent | None) -> ScanConfig:
    """The compiled configuration of a policy agent, built on first use and cached."""
    entry = _CONFIGS.get(id(agent))
    if entry is not None and entry[0] is agent:
        return entry[1]
    config = ScanConfig(agent)
    if len(_CONFIGS) >= CONFIG_CACHE_LIMIT:
        _CONFIGS.clear()
    _CONFIGS[id(agent)] = (agent, config)  # holding the agent keeps its id from reuse
    return config


def check_scan_blocks(policy: ir.PolicyIR) -> list[Diagnostic]:
    """Located errors in the policy's `scan` blocks that the block schema cannot see."""
    return [d for a in policy.agents for b in a.blocks if b.kind == "scan" for d in _check(b)]


def _check(block: ir.Block) -> list[Diagnostic]:
    at = Span(block.origin.file, block.origin.line, max(block.origin.column, 1), 4)
    out: list[Diagnostic] = []
    if block.name not in SCANNERS:
        out.append(Diagnostic(at, "unknown-scanner", f"unknown scanner `{block.name}`",
                              "known scanners: " + ", ".join(SCANNERS)))
    for key in ("tools", "except_tools", "fields", "allow"):
        value = block.get(key, ())
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            out.append(Diagnostic(at, "type", f"`{key}` expects a list of strings"))
    for key in _FIELD_OF_PLACE.values():
        value = block.get(key)
        if value is not None and value not in tuple(Action):
            out.append(Diagnostic(at, "bad-value", f"`{value}` is not a valid `{key}`",
                                  "use one of: " + ", ".join(Action)))
    fields = block.get("fields", ())
    for field in fields if isinstance(fields, tuple) else ():
        parts = str(field).split(".")
        if parts[0] not in PLACES or not all(parts):
            out.append(Diagnostic(at, "bad-value", f"`{field}` is not a field path",
                                  "write a dotted path under `args` or `output`, "
                                  "such as `args.body`"))
    return out


def _compile(block: ir.Block) -> ScanBlock:
    def strings(key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = block.get(key, default)
        return tuple(str(v) for v in value) if isinstance(value, tuple) else default

    on = {place: _action(block.get(key)) for place, key in _FIELD_OF_PLACE.items()}
    tools = tuple(compile_pattern(canonical_pattern(p)) for p in strings("tools", ("*",)))
    excepted = tuple(compile_pattern(canonical_pattern(p)) for p in strings("except_tools"))
    fields = tuple(tuple(f.split(".")) for f in strings("fields"))
    allow = strings("allow")
    return ScanBlock(block.name or "", on, tools, excepted, fields,
                     _glob_matcher(allow) if allow else None, block.origin.ref)


def _action(value: ir.BlockValue) -> Action | None:
    return Action(value) if isinstance(value, str) else None


_LITERAL = frozenset(string.ascii_letters + string.digits + "_")


def _glob_matcher(globs: tuple[str, ...]) -> Callable[[str], bool]:
    """A whole-value match against any glob: `*` any run of characters, `?` any one."""
    def regex(glob: str) -> str:
        out = []
        for c in glob:
            if c == "*":
                out.append(".*")
            elif c == "?":
                out.append(".")
            elif c in _LITERAL or not c.isascii():
                out.append(c)
            else:
                out.append(f"\\x{{{ord(c):x}}}")
        return "".join(out)

    program = compile_regex("(?s:" + "|".join(f"(?:{regex(g)})" for g in globs) + ")")
    return lambda text: program.fullmatch(text) is not None
