"""The YAML and JSON encodings of the policy IR (`governance.fms.yaml`, `governance.fms.json`).

`ir_to_data` gives plain data (text, whole numbers, booleans, null, lists, mappings) that
`data_to_ir` reads back to an equal IR, values and types included; `dump_*` and `load_ir_*`
add the text layer. Conditions travel as canonical FPL condition text; money, durations and
sizes as their literals. Reading validates everything, never raises, and records every
problem, located, in the sink. docs/ir-format.md describes the form.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from faramesh.car import canonical_pattern
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.expressions import (
    format_expr,
    format_literal,
    parse_expression,
    resolve_names,
)
from faramesh.fpl.lexer import T, tokenize
from faramesh.fpl.lower import RATE_WINDOW_TEXT
from faramesh.policy import ir
from faramesh.policy.conditions import ROOTS
from faramesh.policy.regex import RegexError, compile_regex
from faramesh.policy.values import DataSize, Duration, Money, parse_duration, parse_money

__all__ = ["FORMAT_VERSION", "data_to_ir", "dump_json", "dump_yaml", "ir_to_data",
           "load_ir_json", "load_ir_yaml"]

FORMAT_VERSION = 1
Path = tuple[object, ...]  # keys and indexes from the root; a trailing None: the key itself
Mark = tuple[int, int]  # 1-based line and column

TOP_KEYS = ("version", "source", "imports", "blocks", "agents")
AGENT_KEYS = ("id", "default", "settings", "tools", "rules", "phases", "rate_limits",
              "budgets", "redactions", "delegations", "blocks", "line")
RULE_KEYS = ("effect", "tool", "when", "vars", "reason", "reason_code", "notify", "reeval",
             "id", "host", "method", "path", "authority", "modify_args", "line")
RULE_TEXTS = (("reason", "reason"), ("reason_code", "reason_code"), ("notify", "notify"),
              ("reeval", "reeval"), ("id", "rule_id"), ("host", "host"),
              ("method", "method"), ("path", "path"), ("authority", "authority"))
PHASE_KEYS = ("name", "tools", "duration", "next", "rules", "line")
RATE_KEYS = ("tool", "limit", "per", "line")
BUDGET_KEYS = ("id", "max", "daily", "max_calls", "warn_at", "on_exceed", "window", "line")
REDACTION_KEYS = ("tool", "fields", "line")
DELEGATION_KEYS = ("agent", "scope", "ttl", "ceiling", "line")
BLOCK_KEYS = ("kind", "name", "fields", "line")
IMPORT_KEYS = ("source", "alias", "line")
TOOL_KEYS = ("name", "tags")
CEILINGS = ("permit", "deny", "defer", "inherited")
# One-key mappings that spell a value the plain form cannot: {"float": "0.1"}.
TAGS = ("string", "float", "decimal", "money", "duration", "size", "tuple", "map")
_RESERVED_WORDS = frozenset({"true", "false", "nil", "null", "and", "or", "not", "in",
                             "contains", "matches"})
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_DEPTH = 48  # nesting of the whole document
MAX_NODES = 200_000  # YAML aliases can make a small file name a huge document


# --- IR -> data ------------------------------------------------------------------------


def ir_to_data(policy: ir.PolicyIR) -> dict[str, Any]:
    """The plain-data form of `policy`, in a stable key order, empty fields left out.

    Raises ValueError for IR that no valid policy holds (a non-canonical tool pattern, a
    non-finite number, a `deny!` flag on another effect): what is written reads back equal.
    """
    return _Writer(policy.source).policy(policy)


def dump_yaml(policy: ir.PolicyIR) -> str:
    return yaml.safe_dump(ir_to_data(policy), sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=1 << 30)


def dump_json(policy: ir.PolicyIR) -> str:
    return json.dumps(ir_to_data(policy), indent=2, ensure_ascii=False) + "\n"


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, [], {}):
        out[key] = value


class _Writer:
    def __init__(self, source: str) -> None:
        self.source = source

    def policy(self, p: ir.PolicyIR) -> dict[str, Any]:
        out: dict[str, Any] = {"version": FORMAT_VERSION, "source": p.source}
        _put(out, "imports", [self.import_(i) for i in p.imports])
        _put(out, "blocks", [self.block(b) for b in p.blocks])
        _put(out, "agents", [self.agent(a) for a in p.agents])
        return out

    def origin(self, out: dict[str, Any], origin: ir.Origin) -> dict[str, Any]:
        # The column is not kept: decisions show file:line, and a line is what people edit.
        if origin.line:
            out["line"] = origin.line if origin.file == self.source else \
                f"{origin.file}:{origin.line}"
        return out

    def import_(self, i: ir.Import) -> dict[str, Any]:
        out: dict[str, Any] = {"source": i.source}
        _put(out, "alias", i.alias)
        return self.origin(out, i.origin)

    def block(self, b: ir.Block) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": b.kind}
        _put(out, "name", b.name)
        _put(out, "fields", _pairs(b.fields, _setting_value))
        return self.origin(out, b.origin)

    def agent(self, a: ir.Agent) -> dict[str, Any]:
        if a.default not in ir.DEFAULT_EFFECTS:
            raise ValueError(f"agent `{a.agent_id}` has default `{a.default.value}`")
        out: dict[str, Any] = {"id": a.agent_id, "default": a.default.value}
        _put(out, "settings", _pairs(a.settings, _setting_value))
        _put(out, "tools", [_pattern(t.name) if not t.tags else
                            {"name": _pattern(t.name), "tags": list(t.tags)} for t in a.tools])
        _put(out, "rules", [self.rule(r) for r in a.rules])
        _put(out, "phases", [self.phase(p) for p in a.phases])
        _put(out, "rate_limits", [self.origin({"tool": _pattern(r.pattern),
                                               "limit": _count(r.count),
                                               "per": _duration(r.window)}, r.origin)
                                  for r in a.rate_limits])
        _put(out, "budgets", [self.budget(b) for b in a.budgets])
        _put(out, "redactions", [self.origin({"tool": _pattern(r.pattern),
                                              "fields": list(r.fields)}, r.origin)
                                 for r in a.redactions])
        _put(out, "delegations", [self.delegation(d) for d in a.delegations])
        _put(out, "blocks", [self.block(b) for b in a.blocks])
        return self.origin(out, a.origin)

    def rule(self, r: ir.Rule) -> dict[str, Any]:
        if r.mandatory and r.effect is not ir.RuleEffect.DENY:
            raise ValueError(f"a mandatory `{r.effect.value}` rule cannot be written")
        out: dict[str, Any] = {"effect": "deny!" if r.mandatory else r.effect.value,
                               "tool": _pattern(r.pattern)}
        if r.condition is not None:
            out["when"], variables = _encode_condition(r.condition)
            _put(out, "vars", variables)
        for key, attr in RULE_TEXTS:
            _put(out, key, getattr(r, attr))
        _put(out, "modify_args", _pairs(r.modify_args, _data_value))
        return self.origin(out, r.origin)

    def phase(self, p: ir.Phase) -> dict[str, Any]:
        out: dict[str, Any] = {"name": p.name}
        _put(out, "tools", [_pattern(t) for t in p.tools])
        _put(out, "duration", _duration(p.duration) if p.duration is not None else None)
        _put(out, "next", p.next)
        _put(out, "rules", [self.rule(r) for r in p.rules])
        return self.origin(out, p.origin)

    def budget(self, b: ir.Budget) -> dict[str, Any]:
        out: dict[str, Any] = {"id": b.budget_id}
        _put(out, "max", _money(b.max) if b.max is not None else None)
        _put(out, "daily", _money(b.daily) if b.daily is not None else None)
        _put(out, "max_calls", _count(b.max_calls) if b.max_calls is not None else None)
        _put(out, "warn_at", _ratio(b.warn_at) if b.warn_at is not None else None)
        if b.on_exceed is not ir.RuleEffect.DENY:
            if b.on_exceed not in ir.DEFAULT_EFFECTS:
                raise ValueError(f"budget `{b.budget_id}` has on_exceed `{b.on_exceed}`")
            out["on_exceed"] = b.on_exceed.value
        _put(out, "window", _duration(b.window) if b.window is not None else None)
        return self.origin(out, b.origin)

    def delegation(self, d: ir.Delegation) -> dict[str, Any]:
        out: dict[str, Any] = {"agent": d.target_agent}
        _put(out, "scope", d.scope)
        _put(out, "ttl", _duration(d.ttl) if d.ttl is not None else None)
        _put(out, "ceiling", d.ceiling)
        return self.origin(out, d.origin)


def _pairs(items: tuple[tuple[str, Any], ...], encode: Callable[[Any], Any]) -> Any:
    """A mapping; a list of one-key mappings when a key repeats (order and all kept)."""
    keys = [k for k, _ in items]
    if any(not isinstance(k, str) for k in keys):
        raise ValueError("field names must be text")
    if len(set(keys)) == len(keys):
        return {k: encode(v) for k, v in items}
    return [{k: encode(v)} for k, v in items]


def _unwritable(what: str, value: object) -> ValueError:
    return ValueError(f"{what} `{value!r}` cannot be written so that it reads back equal")


def _pattern(pattern: str) -> str:
    if not pattern or canonical_pattern(pattern) != pattern:
        raise _unwritable("tool pattern", pattern)
    return pattern


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise _unwritable("count", n)
    return n


def _duration(d: Duration) -> str:
    if not _same(parse_duration(d.text), d):
        raise _unwritable("duration", d)
    return d.text


def _money(m: Money) -> str:
    if not _same(parse_money(str(m)), m):
        raise _unwritable("money", m)
    return str(m)


def _ratio(d: Decimal) -> str:
    text = _literal_text(d)
    if not 0 <= d <= 1:
        raise _unwritable("warn_at", d)
    return text


def _literal_text(value: Decimal | Money | Duration | DataSize) -> str:
    """Canonical FPL literal text of a typed value, checked to read back equal."""
    if isinstance(value, Decimal) and not value.is_finite():
        raise _unwritable("number", value)
    text = format_literal(value) if isinstance(value, Decimal) else str(value)
    if not _same(_typed_text(text), value):
        raise _unwritable("value", value)
    return text


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        raise _unwritable("number", value)
    return repr(value)


def _setting_value(value: Any) -> Any:
    """A block field, agent setting or condition var: FPL's values (lists are tuples)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return {"string": value} if _typed_text(value) is not None else value
    if isinstance(value, tuple):
        return [_setting_value(v) for v in value]
    if isinstance(value, float):
        return {"float": _float_text(value)}
    if isinstance(value, Decimal | Money | Duration | DataSize):
        return _literal_text(value)
    raise _unwritable("value", value)


def _data_value(value: Any) -> Any:
    """A `modify_args` value: JSON-like data, kept exactly (lists stay lists)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list):
        return [_data_value(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_data_value(v) for v in value]}
    if isinstance(value, Mapping):
        if any(not isinstance(k, str) for k in value):
            raise _unwritable("mapping", value)
        out = {k: _data_value(v) for k, v in value.items()}
        return {"map": out} if _is_tag(out) else out
    if isinstance(value, float):
        return {"float": _float_text(value)}
    for tag, kind in (("decimal", Decimal), ("money", Money), ("duration", Duration),
                      ("size", DataSize)):
        if isinstance(value, kind):
            return {tag: _literal_text(value)}
    raise _unwritable("value", value)


def _is_tag(value: object) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in TAGS


def _typed_text(text: str) -> ir.Scalar | None:
    """The money, duration, size or decimal that `text` spells as one FPL literal."""
    probe = DiagnosticSink("", "")
    tokens = tokenize(text, probe)
    if probe.items or len(tokens) != 2:
        return None
    tok = tokens[0]
    if tok.kind in (T.MONEY, T.DURATION, T.SIZE) or (
            tok.kind is T.NUMBER and isinstance(tok.value, Decimal)):
        return tok.value  # type: ignore[return-value]
    return None


def _key(value: object) -> object:
    """A comparison key that tells types apart: `1`, `1.0`, `Decimal(1)` and `True` differ."""
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_key(v) for v in value))
    if isinstance(value, Mapping):
        return ("map", tuple((k, _key(v)) for k, v in value.items()))
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple(_key(getattr(value, f.name)) for f in fields(value) if f.compare))
    return (type(value).__name__, value)


def _same(a: object, b: object) -> bool:
    return _key(a) == _key(b)


# --- conditions --------------------------------------------------------------------------


def _encode_condition(expr: ir.Expr) -> tuple[str, dict[str, Any]]:
    """Condition text, and `vars` for literals the text cannot spell (a float, a negative
    number after a word operator, a string with control characters)."""
    for swap in (_never, _risky, _always):
        found: dict[str, ir.Scalar] = {}
        text = format_expr(_swap_literals(expr, swap, found))
        variables = {name: _setting_value(v) for name, v in found.items()}
        reader = _Reader("<check>", DiagnosticSink("<check>", text), None)
        back = reader.condition_text(text, reader.variables(variables, ("vars",)), ("when",))
        if back is not None and not reader.sink.items and _same(back, expr):
            return text, variables
    raise _unwritable("condition", format_expr(expr))


def _never(_value: ir.Scalar) -> bool:
    return False


def _always(_value: ir.Scalar) -> bool:
    return True


def _risky(value: ir.Scalar) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, Decimal):
        return value.is_signed()
    if isinstance(value, int) and not isinstance(value, bool):
        return value < 0
    if isinstance(value, str):
        probe = DiagnosticSink("", "")
        tokens = tokenize(format_literal(value), probe)
        return bool(probe.items) or len(tokens) != 2 or tokens[0].text != value
    return False


def _swap_literals(expr: ir.Expr, swap: Callable[[ir.Scalar], bool],
                   found: dict[str, ir.Scalar]) -> ir.Expr:
    def walk(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Lit):
            if not swap(e.value):
                return e
            name = f"v{len(found) + 1}"
            found[name] = e.value
            return ir.Var((name,))
        if isinstance(e, ir.ListLit):
            return ir.ListLit(tuple(walk(i) for i in e.items))
        if isinstance(e, ir.Compare):
            return ir.Compare(e.op, walk(e.left), walk(e.right))
        if isinstance(e, ir.And | ir.Or):
            return type(e)(tuple(walk(i) for i in e.items))
        if isinstance(e, ir.Not):
            return ir.Not(walk(e.item))
        if isinstance(e, ir.Call):
            return ir.Call(e.name, tuple(walk(a) for a in e.args),
                           tuple((k, walk(v)) for k, v in e.kwargs))
        return e
    return walk(expr)


# --- data -> IR --------------------------------------------------------------------------


def data_to_ir(data: object, file: str, sink: DiagnosticSink,
               marks: Mapping[Path, Mark] | None = None) -> ir.PolicyIR | None:
    """The IR that `data` describes, or None when errors were recorded in `sink`.

    `marks` maps paths into `data` to where they were written (the loaders fill it), so
    errors and the origins of constructs without a `line` point into the file.
    """
    before = len(sink.items)
    reader = _Reader(file, sink, marks)
    try:
        policy = reader.policy(data)
    except RecursionError:
        reader.error((), "too-deep", "the policy is nested too deeply")
        return None
    return policy if len(sink.items) == before else None


class _Invalid:
    """A value the loaders could not turn into data (`NaN`, a date, a tagged node)."""

    def __init__(self, what: str, code: str = "bad-value") -> None:
        self.what = what
        self.code = code


class _Map(dict[object, Any]):
    """A mapping as read from text, with the keys that were given twice."""

    def __init__(self) -> None:
        super().__init__()
        self.duplicates: list[tuple[object, Mark | None]] = []


_BAD: Any = object()  # a value whose error is already recorded


def _shown(text: str, limit: int = 40) -> str:
    text = text.replace("`", "'").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(value: object) -> str:
    if isinstance(value, _Invalid):
        return value.what
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, int):
        return f"the number `{value}`" if abs(value) < 10**30 else "a very large number"
    if isinstance(value, float | Decimal):
        return f"the number `{_shown(str(value))}`"
    if isinstance(value, str):
        return f"the text `{_shown(value)}`"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "an unsupported value"


class _Reader:
    def __init__(self, file: str, sink: DiagnosticSink,
                 marks: Mapping[Path, Mark] | None) -> None:
        self.file = file
        self.source = file
        self.sink = sink
        self.marks: Mapping[Path, Mark] = marks or {}

    # --- diagnostics ---------------------------------------------------------------------

    def where(self, path: Path, key: bool = False) -> Mark:
        if key and (*path, None) in self.marks:
            return self.marks[(*path, None)]
        for n in range(len(path), -1, -1):
            mark = self.marks.get(path[:n])
            if mark is not None:
                return mark
        return (1, 1)

    def error(self, path: Path, code: str, message: str, hint: str | None = None, *,
              key: bool = False, at: Mark | None = None) -> None:
        line, column = at or self.where(path, key)
        self.sink.error(self.sink.span(line, column), code, message, hint)

    def reject(self, value: object, path: Path, expected: str, hint: str | None = None) -> Any:
        code = value.code if isinstance(value, _Invalid) else "type"
        self.error(path, code, f"expected {expected}, found {_describe(value)}", hint)
        return _BAD

    # --- shapes --------------------------------------------------------------------------

    def mapping(self, value: object, path: Path, what: str,
                keys: Sequence[str] | None = None,
                required: Sequence[str] = ()) -> Mapping[str, Any] | None:
        """`value` as a mapping with text keys; unknown and missing keys are reported."""
        if not isinstance(value, Mapping):
            self.reject(value, path, what)
            return None
        ok = True
        for dup, mark in getattr(value, "duplicates", ()):
            shown = _shown(dup) if isinstance(dup, str) else "?"
            self.error((*path, dup), "duplicate-key", f"`{shown}` is given twice",
                       "keep one of them", key=True, at=mark)
            ok = False
        for k in value:
            if not isinstance(k, str):
                self.error((*path, k), "type",
                           f"keys must be text, found {_describe(k)}", key=True)
                ok = False
            elif keys is not None and k not in keys:
                close = difflib.get_close_matches(k, keys, 1)
                hint = f"did you mean `{close[0]}`?" if close else \
                    "expected one of: " + ", ".join(keys)
                self.error((*path, k), "unknown-key", f"unknown key `{_shown(k)}` in {what}",
                           hint, key=True)
        for k in required:
            if k not in value:
                self.error(path, "missing-key", f"{what} needs `{k}`")
                ok = False
        return value if ok else None

    def sequence(self, value: object, path: Path, what: str) -> Sequence[Any] | None:
        if isinstance(value, list | tuple):
            return value
        self.reject(value, path, what)
        return None

    def items(self, m: Mapping[str, Any], key: str, path: Path,
              read: Callable[[Any, Path], Any]) -> tuple[Any, ...]:
        if m.get(key) is None:
            return ()
        seq = self.sequence(m[key], (*path, key), f"a list of {key.replace('_', ' ')}")
        out = [read(item, (*path, key, i)) for i, item in enumerate(seq or ())]
        return tuple(x for x in out if x is not None and x is not _BAD)

    def opt(self, m: Mapping[str, Any], key: str, path: Path,
            read: Callable[[Any, Path], Any]) -> Any:
        value = m.get(key)
        return None if value is None else read(value, (*path, key))

    def text(self, value: object, path: Path) -> Any:
        if isinstance(value, str):
            return value
        hint = "quote it" if isinstance(value, bool | int | float | Decimal) else None
        return self.reject(value, path, "text", hint)

    def name(self, value: object, path: Path) -> Any:
        text = self.text(value, path)
        if text == "":
            self.error(path, "bad-value", "a name may not be empty")
            return _BAD
        return text

    def texts(self, value: object, path: Path) -> Any:
        seq = self.sequence(value, path, "a list of text")
        if seq is None:
            return _BAD
        out = tuple(self.text(v, (*path, i)) for i, v in enumerate(seq))
        return _BAD if _BAD in out else out

    def count(self, value: object, path: Path) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        return self.reject(value, path, "a whole number, 0 or more")

    def pattern(self, value: object, path: Path) -> Any:
        text = self.text(value, path)
        if text is _BAD:
            return _BAD
        pattern = canonical_pattern(text)
        if not pattern:
            what = "holds a NUL byte" if "\x00" in text else "is empty"
            self.error(path, "bad-pattern", f"the tool pattern {what}",
                       "write a tool name or glob such as `stripe/*`; `*` matches every tool")
            return _BAD
        return pattern

    def patterns(self, value: object, path: Path) -> Any:
        seq = self.sequence(value, path, "a list of tool patterns")
        if seq is None:
            return _BAD
        out = tuple(self.pattern(v, (*path, i)) for i, v in enumerate(seq))
        return _BAD if _BAD in out else out

    def duration(self, value: object, path: Path) -> Any:
        if isinstance(value, str):
            d = parse_duration(RATE_WINDOW_TEXT.get(value.strip(), value))
            if d is not None:
                return d
            self.error(path, "bad-duration", f"`{_shown(value)}` is not a duration",
                       "write a number and a unit: `30s`, `15m`, `24h`, `7d`")
            return _BAD
        return self.reject(value, path, "a duration such as `15m`")

    def money(self, value: object, path: Path) -> Any:
        if isinstance(value, str):
            m = parse_money(value)
            if m is not None and m.amount.is_finite():
                return m
            self.error(path, "bad-money", f"`{_shown(value)}` is not an amount of money",
                       "write the amount with its currency: `$500`, `€20`, `100GBP`")
            return _BAD
        return self.reject(value, path, "money such as `$500`", "quote it with its currency")

    def effect(self, value: object, path: Path,
               allowed: Sequence[ir.RuleEffect] = tuple(ir.RuleEffect)) -> Any:
        text = self.text(value, path)
        if text is _BAD:
            return _BAD
        effect = ir.EFFECT_ALIASES.get(text.strip().lower())
        if effect not in allowed:
            names = ", ".join(e.value for e in allowed)
            self.error(path, "bad-effect", f"`{_shown(text)}` is not an effect here",
                       f"use one of: {names}")
            return _BAD
        return effect

    def ratio(self, value: object, path: Path) -> Any:
        number: Decimal | None = None
        if isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            return self.reject(value, path, "a fraction between 0 and 1")
        if number is None or not number.is_finite() or not 0 <= number <= 1:
            self.error(path, "bad-number", f"{_describe(value)} is not a fraction "
                       "between 0 and 1", "write a number such as `0.8`")
            return _BAD
        return number

    # --- values --------------------------------------------------------------------------

    def number(self, value: float | Decimal, path: Path) -> Any:
        """A native non-integer number; non-finite ones are refused."""
        if isinstance(value, float):
            if not math.isfinite(value):
                self.error(path, "bad-number", f"{_describe(value)} is not a finite number")
                return _BAD
            return Decimal(repr(value))
        if not value.is_finite():
            self.error(path, "bad-number", f"{_describe(value)} is not a finite number")
            return _BAD
        return value

    def tagged(self, tag: str, payload: object, path: Path, data: bool, depth: int) -> Any:
        sub = (*path, tag)
        if tag == "tuple":
            seq = self.sequence(payload, sub, "a list")
            if seq is None:
                return _BAD
            read = self.data_value if data else self.setting_value
            out = tuple(read(v, (*sub, i), depth + 1) for i, v in enumerate(seq))
            return _BAD if any(v is _BAD for v in out) else out
        if tag == "map":
            if not data:
                return self.reject(payload, path, "a value or a list",
                                   "a block field holds text, numbers, money, durations, "
                                   "sizes, `true`/`false`, null or lists of them")
            m = self.mapping(payload, sub, "a mapping")
            if m is None:
                return _BAD
            out_map = {k: self.data_value(v, (*sub, k), depth + 1) for k, v in m.items()}
            return _BAD if any(v is _BAD for v in out_map.values()) else out_map
        text = self.text(payload, sub)
        if text is _BAD or tag == "string":
            return text
        if tag == "float":
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if not math.isfinite(number):
                self.error(sub, "bad-number", f"`{_shown(text)}` is not a finite number")
                return _BAD
            return number
        value = _typed_text(text)
        kinds = {"decimal": Decimal, "money": Money, "duration": Duration, "size": DataSize}
        if not isinstance(value, kinds[tag]):
            self.error(sub, "bad-value", f"`{_shown(text)}` is not a {tag}",
                       "write e.g. `0.5`, `$500`, `15m` or `10mb`")
            return _BAD
        return value

    def setting_value(self, value: object, path: Path, depth: int = 0) -> Any:
        """Block fields, settings, vars: text that spells money, a duration, a size or a
        decimal is that value; native fractions are decimals; lists are tuples."""
        if depth > MAX_DEPTH:
            self.error(path, "too-deep", "the value is nested too deeply")
            return _BAD
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, str):
            typed = _typed_text(value)
            return value if typed is None else typed
        if isinstance(value, float | Decimal):
            return self.number(value, path)
        if isinstance(value, list | tuple):
            out = tuple(self.setting_value(v, (*path, i), depth + 1)
                        for i, v in enumerate(value))
            return _BAD if any(v is _BAD for v in out) else out
        if _is_tag(value) and isinstance(value, Mapping):
            tag = next(iter(value))
            return self.tagged(tag, value[tag], path, False, depth)
        return self.reject(value, path, "a value or a list",
                           "a block field holds text, numbers, money, durations, sizes, "
                           "`true`/`false`, null or lists of them")

    def data_value(self, value: object, path: Path, depth: int = 0) -> Any:
        """`modify_args` values: JSON-like data as written (fractions are floats)."""
        if depth > MAX_DEPTH:
            self.error(path, "too-deep", "the value is nested too deeply")
            return _BAD
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float | Decimal):
            number = self.number(value, path)
            return number if number is _BAD else float(number)
        if isinstance(value, list | tuple):
            out = [self.data_value(v, (*path, i), depth + 1) for i, v in enumerate(value)]
            return _BAD if any(v is _BAD for v in out) else out
        if _is_tag(value) and isinstance(value, Mapping):
            tag = next(iter(value))
            return self.tagged(tag, value[tag], path, True, depth)
        if isinstance(value, Mapping):
            m = self.mapping(value, path, "a mapping")
            if m is None:
                return _BAD
            out_map = {k: self.data_value(v, (*path, k), depth + 1) for k, v in m.items()}
            return _BAD if any(v is _BAD for v in out_map.values()) else out_map
        return self.reject(value, path, "data (text, numbers, lists, mappings)")

    def pairs(self, value: object, path: Path,
              read: Callable[[object, Path], Any]) -> Any:
        """Fields written as a mapping, or as a list of one-key mappings."""
        entries: list[tuple[str, object, Path]] = []
        if isinstance(value, Mapping):
            m = self.mapping(value, path, "a mapping")
            if m is None:
                return _BAD
            entries = [(k, v, (*path, k)) for k, v in m.items()]
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                m = self.mapping(item, (*path, i), "a one-key mapping")
                if m is None:
                    continue
                if len(m) != 1:
                    self.error((*path, i), "bad-value", "each entry maps one key to its value")
                    continue
                k, v = next(iter(m.items()))
                entries.append((k, v, (*path, i, k)))
        else:
            return self.reject(value, path, "a mapping")
        out = tuple((k, read(v, p)) for k, v, p in entries)
        return _BAD if any(v is _BAD for _, v in out) else out

    def origin(self, m: Mapping[str, Any], path: Path) -> ir.Origin:
        raw = m.get("line")
        if raw is None:
            line, column = self.marks.get(path, (0, 0))
            return ir.Origin(self.file, line, column)
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return ir.Origin(self.source, raw)
        if isinstance(raw, str):
            file, sep, line_text = raw.rpartition(":")
            if sep and file and line_text.isascii() and line_text.isdigit() and \
                    len(line_text) < 16:
                return ir.Origin(file, int(line_text))
        self.error((*path, "line"), "bad-line", "`line` must be a line number or `file:line`",
                   "remove `line` to point at this file")
        return ir.Origin()

    # --- conditions ----------------------------------------------------------------------

    def variables(self, value: object, path: Path) -> dict[str, ir.Scalar] | None:
        m = self.mapping(value, path, "`vars`")
        if m is None:
            return None
        out: dict[str, ir.Scalar] = {}
        for name, raw in m.items():
            if not _VAR_NAME.fullmatch(name) or name in ROOTS or name in _RESERVED_WORDS:
                self.error((*path, name), "bad-var", f"`{_shown(name)}` cannot name a var",
                           "use a plain name that is not a variable root such as `args`",
                           key=True)
                continue
            v = self.setting_value(raw, (*path, name))
            if isinstance(v, tuple):
                self.error((*path, name), "type", "a var holds one value, not a list")
            elif v is not _BAD:
                out[name] = v
        return out

    def condition_text(self, text: str, variables: dict[str, ir.Scalar] | None,
                       path: Path) -> ir.Expr | None:
        line, column = self.where(path)
        before = len(self.sink.items)
        try:
            expr = parse_expression(text, self.sink, line, column)
        except RecursionError:
            self.error(path, "too-deep", "the condition is nested too deeply")
            return None
        if expr is None or len(self.sink.items) > before:
            return None
        expr = resolve_names(expr, variables or {})
        self.check_operands(expr, path)
        return expr if len(self.sink.items) == before else None

    def check_operands(self, expr: ir.Expr, path: Path) -> None:
        """What the parser checks on literals, for values that came in through `vars`."""
        if isinstance(expr, ir.Compare):
            right = expr.right
            if expr.op == "in" and isinstance(right, ir.Lit):
                self.error(path, "type", "`in` needs a list or a variable on its right",
                           'write `x in ["a", "b"]`')
            elif expr.op == "matches" and isinstance(right, ir.Lit):
                if not isinstance(right.value, str):
                    self.error(path, "type", "`matches` needs a string pattern")
                else:
                    try:
                        compile_regex(right.value)
                    except RegexError as exc:
                        self.error(path, "bad-regex", f"invalid regular expression: {exc}")
            children: tuple[ir.Expr, ...] = (expr.left, expr.right)
        elif isinstance(expr, ir.And | ir.Or | ir.ListLit):
            children = expr.items
        elif isinstance(expr, ir.Not):
            children = (expr.item,)
        elif isinstance(expr, ir.Call):
            children = (*expr.args, *(v for _, v in expr.kwargs))
        else:
            children = ()
        for child in children:
            self.check_operands(child, path)

    # --- the policy ----------------------------------------------------------------------

    def policy(self, data: object) -> ir.PolicyIR | None:
        m = self.mapping(data, (), "the policy", TOP_KEYS)
        if m is None:
            return None
        version = m.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION or isinstance(version, bool):
            self.error(("version",), "bad-version", f"unsupported format version "
                       f"{_describe(version)}", f"this version reads `version: {FORMAT_VERSION}`")
        source = self.opt(m, "source", (), self.name)
        self.source = source if isinstance(source, str) else self.file
        imports = self.items(m, "imports", (), self.import_)
        blocks = self.items(m, "blocks", (), self.block)
        agents = self.items(m, "agents", (), self.agent)
        seen: set[str] = set()
        for i, agent in enumerate(agents):
            if agent.agent_id in seen:
                self.error(("agents", i, "id"), "duplicate-agent",
                           f"agent `{_shown(agent.agent_id)}` is declared twice",
                           "merge the two agents")
            seen.add(agent.agent_id)
        return ir.PolicyIR(agents, blocks, imports, self.source)

    def import_(self, value: object, path: Path) -> ir.Import | None:
        m = self.mapping(value, path, "an import", IMPORT_KEYS, ("source",))
        if m is None:
            return None
        source = self.name(m["source"], (*path, "source"))
        alias = self.opt(m, "alias", path, self.name)
        origin = self.origin(m, path)
        if _BAD in (source, alias):
            return None
        return ir.Import(source, alias, origin)

    def block(self, value: object, path: Path) -> ir.Block | None:
        m = self.mapping(value, path, "a block", BLOCK_KEYS, ("kind",))
        if m is None:
            return None
        kind = self.name(m["kind"], (*path, "kind"))
        name = self.opt(m, "name", path, self.name)
        values = self.opt(m, "fields", path,
                          lambda v, p: self.pairs(v, p, self.setting_value)) or ()
        origin = self.origin(m, path)
        if _BAD in (kind, name, values):
            return None
        return ir.Block(kind, name, values, origin)

    def agent(self, value: object, path: Path) -> ir.Agent | None:
        m = self.mapping(value, path, "an agent", AGENT_KEYS, ("id",))
        if m is None:
            return None
        agent_id = self.name(m["id"], (*path, "id"))
        default = self.opt(m, "default", path,
                           lambda v, p: self.effect(v, p, ir.DEFAULT_EFFECTS))
        settings = self.opt(m, "settings", path,
                            lambda v, p: self.pairs(v, p, self.setting_value)) or ()
        tools = self.items(m, "tools", path, self.tool)
        rules = self.items(m, "rules", path, self.rule)
        phases = self.items(m, "phases", path, self.phase)
        rate_limits = self.items(m, "rate_limits", path, self.rate_limit)
        budgets = self.items(m, "budgets", path, self.budget)
        redactions = self.items(m, "redactions", path, self.redaction)
        delegations = self.items(m, "delegations", path, self.delegation)
        blocks = self.items(m, "blocks", path, self.block)
        origin = self.origin(m, path)
        if _BAD in (agent_id, default, settings):
            return None
        return ir.Agent(agent_id, default or ir.RuleEffect.DENY, rules, phases, rate_limits,
                        budgets, redactions, delegations, blocks, settings, tools, origin)

    def tool(self, value: object, path: Path) -> ir.ToolDecl | None:
        if isinstance(value, str):
            name = self.pattern(value, path)
            return None if name is _BAD else ir.ToolDecl(name)
        m = self.mapping(value, path, "a tool (a name, or a mapping with `name` and `tags`)",
                         TOOL_KEYS, ("name",))
        if m is None:
            return None
        name = self.pattern(m["name"], (*path, "name"))
        tags = self.opt(m, "tags", path, self.texts) or ()
        if _BAD in (name, tags):
            return None
        return ir.ToolDecl(name, tags)

    def rule(self, value: object, path: Path) -> ir.Rule | None:
        m = self.mapping(value, path, "a rule", RULE_KEYS, ("effect", "tool"))
        if m is None:
            return None
        raw_effect = m["effect"]
        mandatory = isinstance(raw_effect, str) and raw_effect.strip().lower() == "deny!"
        effect = ir.RuleEffect.DENY if mandatory else self.effect(raw_effect,
                                                                  (*path, "effect"))
        pattern = self.pattern(m["tool"], (*path, "tool"))
        variables = self.opt(m, "vars", path, self.variables)
        condition = None
        if m.get("when") is not None:
            text = self.text(m["when"], (*path, "when"))
            condition = _BAD if text is _BAD else \
                self.condition_text(text, variables, (*path, "when")) or _BAD
        texts = {attr: self.opt(m, key, path, self.text) for key, attr in RULE_TEXTS}
        modify = self.opt(m, "modify_args", path, self.modify_args) or ()
        origin = self.origin(m, path)
        if _BAD in (effect, pattern, condition, modify, *texts.values()):
            return None
        return ir.Rule(effect, pattern, condition, mandatory, modify_args=modify,
                       origin=origin, **texts)

    def modify_args(self, value: object, path: Path) -> Any:
        out = self.pairs(value, path, self.data_value)
        if out is _BAD:
            return _BAD
        for key, _ in out:
            if not key or any(not part for part in key.removeprefix("args.").split(".")):
                self.error((*path, key), "bad-value", f"`{_shown(key)}` is not an argument "
                           "path", "write an argument name or a dotted path such as "
                           "`options.limit`", key=True)
                return _BAD
        return out

    def phase(self, value: object, path: Path) -> ir.Phase | None:
        m = self.mapping(value, path, "a phase", PHASE_KEYS, ("name",))
        if m is None:
            return None
        name = self.name(m["name"], (*path, "name"))
        tools = self.opt(m, "tools", path, self.patterns) or ()
        duration = self.opt(m, "duration", path, self.duration)
        nxt = self.opt(m, "next", path, self.name)
        rules = self.items(m, "rules", path, self.rule)
        origin = self.origin(m, path)
        if _BAD in (name, tools, duration, nxt):
            return None
        return ir.Phase(name, tools, rules, duration, nxt, origin)

    def rate_limit(self, value: object, path: Path) -> ir.RateLimit | None:
        m = self.mapping(value, path, "a rate limit", RATE_KEYS, ("tool", "limit", "per"))
        if m is None:
            return None
        pattern = self.pattern(m["tool"], (*path, "tool"))
        count = self.count(m["limit"], (*path, "limit"))
        window = self.duration(m["per"], (*path, "per"))
        origin = self.origin(m, path)
        if _BAD in (pattern, count, window):
            return None
        return ir.RateLimit(pattern, count, window, origin)

    def budget(self, value: object, path: Path) -> ir.Budget | None:
        m = self.mapping(value, path, "a budget", BUDGET_KEYS, ("id",))
        if m is None:
            return None
        budget_id = self.name(m["id"], (*path, "id"))
        mx = self.opt(m, "max", path, self.money)
        daily = self.opt(m, "daily", path, self.money)
        calls = self.opt(m, "max_calls", path, self.count)
        warn_at = self.opt(m, "warn_at", path, self.ratio)
        on_exceed = self.opt(m, "on_exceed", path,
                             lambda v, p: self.effect(v, p, ir.DEFAULT_EFFECTS))
        window = self.opt(m, "window", path, self.duration)
        origin = self.origin(m, path)
        if _BAD in (budget_id, mx, daily, calls, warn_at, on_exceed, window):
            return None
        return ir.Budget(budget_id, mx, daily, calls, warn_at,
                         on_exceed or ir.RuleEffect.DENY, window, origin)

    def redaction(self, value: object, path: Path) -> ir.Redaction | None:
        m = self.mapping(value, path, "a redaction", REDACTION_KEYS, ("tool", "fields"))
        if m is None:
            return None
        pattern = self.pattern(m["tool"], (*path, "tool"))
        names = self.texts(m["fields"], (*path, "fields"))
        origin = self.origin(m, path)
        if _BAD in (pattern, names):
            return None
        return ir.Redaction(pattern, names, origin)

    def delegation(self, value: object, path: Path) -> ir.Delegation | None:
        m = self.mapping(value, path, "a delegation", DELEGATION_KEYS, ("agent",))
        if m is None:
            return None
        target = self.name(m["agent"], (*path, "agent"))
        scope = self.opt(m, "scope", path, self.text)
        ttl = self.opt(m, "ttl", path, self.duration)
        ceiling = self.opt(m, "ceiling", path, self.text)
        if isinstance(ceiling, str) and ceiling not in CEILINGS:
            self.error((*path, "ceiling"), "bad-value",
                       f"`{_shown(ceiling)}` is not a ceiling", "use one of: " +
                       ", ".join(CEILINGS))
            ceiling = _BAD
        origin = self.origin(m, path)
        if _BAD in (target, scope, ttl, ceiling):
            return None
        return ir.Delegation(target, scope, ttl, ceiling, origin)


# --- text --------------------------------------------------------------------------------


def load_ir_yaml(text: str, file: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    """The IR in a `governance.fms.yaml` text, or None when errors were recorded."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot read this"
        at = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        _text_error(sink, at, "yaml-syntax", f"invalid yaml: {problem}",
                    "check the indentation and quoting here and on the line before")
        return None
    except yaml.YAMLError as exc:  # the reader: a character YAML does not allow
        pos = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
        line = text.count("\n", 0, pos) + 1
        _text_error(sink, (line, pos - text.rfind("\n", 0, pos)), "yaml-syntax",
                    "invalid yaml: a character yaml does not allow",
                    "remove control characters from the file")
        return None
    except RecursionError:
        _text_error(sink, (1, 1), "too-deep", "the policy is nested too deeply")
        return None
    if root is None:
        _text_error(sink, (1, 1), "empty", "the policy is empty",
                    "start with `agents:` and a list of agents")
        return None
    nodes = _Nodes(text)
    try:
        data = nodes.value(root, (), 0)
    except _TooBig as exc:
        _text_error(sink, exc.at, exc.code, exc.message,
                    "anchors that refer to themselves or multiply the document are refused")
        return None
    return data_to_ir(data, file, sink, nodes.marks)


def load_ir_json(text: str, file: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    """The IR in a `governance.fms.json` text, or None when errors were recorded."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_json_int,
                          parse_constant=_json_constant, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        _text_error(sink, (exc.lineno, exc.colno), "json-syntax",
                    f"invalid json: {exc.msg[:1].lower()}{exc.msg[1:]}",
                    "check the commas, quotes and brackets here")
        return None
    except RecursionError:
        _text_error(sink, (1, 1), "too-deep", "the policy is nested too deeply")
        return None
    return data_to_ir(data, file, sink, _json_marks(text))


def _text_error(sink: DiagnosticSink, at: Mark, code: str, message: str,
                hint: str | None = None) -> None:
    sink.error(sink.span(at[0], max(at[1], 1)), code, message, hint)


def _json_int(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        return _Invalid("a number with too many digits", "bad-number")


def _json_constant(text: str) -> object:
    return _Invalid(f"`{text}`", "bad-number")


def _json_object(pairs: list[tuple[str, Any]]) -> _Map:
    out = _Map()
    for key, value in pairs:
        if key in out:
            out.duplicates.append((key, None))
        else:
            out[key] = value
    return out


def _json_marks(text: str) -> dict[Path, Mark]:
    """Where each value of a JSON text starts, read with the YAML composer (JSON's syntax
    is YAML flow syntax); best effort: an empty map when it cannot tell."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    nodes = _Nodes(text)
    try:
        root = yaml.compose(text, Loader=loader)
        if root is not None:
            nodes.value(root, (), 0)
    except (yaml.YAMLError, RecursionError, _TooBig):
        pass
    return nodes.marks


class _TooBig(Exception):
    def __init__(self, at: Mark, code: str, message: str) -> None:
        super().__init__(message)
        self.at, self.code, self.message = at, code, message


_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


class _Nodes:
    """YAML nodes -> plain data, recording where each value and key was written."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.marks: dict[Path, Mark] = {}
        self.budget = MAX_NODES
        self.constructor = SafeConstructor()

    def start(self, node: Node) -> Mark:
        """Where a node's text begins; for a string, its first character."""
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        style = node.style if isinstance(node, ScalarNode) else None
        if style in ('"', "'"):
            column += 1
        elif style in ("|", ">"):
            line += 1
            src = self.lines[line - 1] if line - 1 < len(self.lines) else ""
            column = len(src) - len(src.lstrip(" ")) + 1
        return line, column

    def value(self, node: Node, path: Path, depth: int) -> object:
        self.budget -= 1
        mark = self.start(node)
        if self.budget < 0:
            raise _TooBig(mark, "too-large", "the policy document is too large")
        if depth > MAX_DEPTH:
            raise _TooBig(mark, "too-deep", "the policy is nested too deeply")
        self.marks[path] = mark
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                return _Invalid(f"a value tagged `{_shown(node.tag)}`")
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                return _Invalid(f"a value tagged `{_shown(node.tag)}`")
            out = _Map()
            for key_node, value_node in node.value:
                key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else \
                    _Invalid("a list or mapping")
                try:
                    known = key in out
                except TypeError:  # an unhashable key such as a date-time with no zone
                    key, known = _Invalid(_describe(key)), False
                if known:
                    out.duplicates.append((key, self.start(key_node)))
                    continue
                self.marks[(*path, key, None)] = self.start(key_node)
                out[key] = self.value(value_node, (*path, key), depth + 1)
            return out
        return _Invalid("an unsupported value")  # pragma: no cover - compose gives the three

    def scalar(self, node: ScalarNode) -> object:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            return _Invalid(f"`{_shown(str(node.value))}`, which cannot be read")
        if isinstance(value, str | bool | int | float | type(None)):
            return value
        kind = {"tag:yaml.org,2002:timestamp": "a date", "tag:yaml.org,2002:binary":
                "binary data"}.get(node.tag, "an unsupported value")
        return _Invalid(kind)
