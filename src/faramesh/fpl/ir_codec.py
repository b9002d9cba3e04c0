"""The YAML and JSON encodings of the policy IR (`governance.fms.yaml`, `governance.fms.json`).

`ir_to_data` gives plain data (text, whole numbers, booleans, null, lists, mappings) that
`data_to_ir` reads back to an equal IR, value types included; `dump_*` and `load_ir_*` add
the text layer. One table (`RECORDS`) says how each IR record is written and read.
Conditions travel as canonical FPL condition text; money, durations and sizes as their
literals. Reading validates everything, never raises, and records every problem, located,
in the sink. docs/ir-format.md describes the form.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
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
from faramesh.fpl.lexer import T, Token, tokenize
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


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One key of a record: its name in the data, the IR attribute, and its value kind."""

    key: str
    attr: str
    kind: str
    required: bool = False


def _fields(*specs: tuple[str, str, str] | tuple[str, str, str, bool]) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


# Key order here is the order written. Kind `list` holds records of the type in NESTED.
RECORDS: dict[type[Any], tuple[Field, ...]] = {
    ir.Import: _fields(("source", "source", "name", True), ("alias", "alias", "name")),
    ir.Block: _fields(("kind", "kind", "name", True), ("name", "name", "name"),
                      ("fields", "fields", "settings")),
    ir.Agent: _fields(("id", "agent_id", "name", True), ("default", "default", "default"),
                      ("settings", "settings", "settings"), ("tools", "tools", "tools"),
                      ("rules", "rules", "list"), ("phases", "phases", "list"),
                      ("rate_limits", "rate_limits", "list"), ("budgets", "budgets", "list"),
                      ("redactions", "redactions", "list"),
                      ("delegations", "delegations", "list"), ("blocks", "blocks", "list")),
    ir.Rule: _fields(("effect", "effect", "effect", True), ("tool", "pattern", "pattern", True),
                     ("when", "condition", "condition"), ("reason", "reason", "text"),
                     ("reason_code", "reason_code", "text"), ("notify", "notify", "text"),
                     ("reeval", "reeval", "text"), ("id", "rule_id", "text"),
                     ("host", "host", "text"), ("method", "method", "text"),
                     ("path", "path", "text"), ("authority", "authority", "text"),
                     ("modify_args", "modify_args", "modify")),
    ir.Phase: _fields(("name", "name", "name", True), ("tools", "tools", "patterns"),
                      ("duration", "duration", "duration"), ("next", "next", "name"),
                      ("rules", "rules", "list")),
    ir.RateLimit: _fields(("tool", "pattern", "pattern", True), ("limit", "count", "count", True),
                          ("per", "window", "duration", True)),
    ir.Budget: _fields(("id", "budget_id", "name", True), ("max", "max", "money"),
                       ("daily", "daily", "money"), ("max_calls", "max_calls", "count"),
                       ("warn_at", "warn_at", "ratio"), ("on_exceed", "on_exceed", "exceed"),
                       ("window", "window", "duration")),
    ir.Redaction: _fields(("tool", "pattern", "pattern", True),
                          ("fields", "fields", "texts", True)),
    ir.Delegation: _fields(("agent", "target_agent", "name", True), ("scope", "scope", "text"),
                           ("ttl", "ttl", "duration"), ("ceiling", "ceiling", "ceiling")),
}
NESTED: dict[str, type[Any]] = {"imports": ir.Import, "blocks": ir.Block, "agents": ir.Agent,
                                "rules": ir.Rule, "phases": ir.Phase,
                                "rate_limits": ir.RateLimit, "budgets": ir.Budget,
                                "redactions": ir.Redaction, "delegations": ir.Delegation}
WHAT = {ir.Import: "an import", ir.Block: "a block", ir.Agent: "an agent", ir.Rule: "a rule",
        ir.Phase: "a phase", ir.RateLimit: "a rate limit", ir.Budget: "a budget",
        ir.Redaction: "a redaction", ir.Delegation: "a delegation"}
TOP_KEYS = ("version", "source", "imports", "blocks", "agents")
CEILINGS = ("permit", "deny", "defer", "inherited")
# One-key mappings that spell a value the plain form cannot: {"float": "0.1"}.
TAGS = ("string", "float", "decimal", "money", "duration", "size", "tuple", "map")
_TAG_KINDS = {"decimal": Decimal, "money": Money, "duration": Duration, "size": DataSize}
_RESERVED_WORDS = frozenset({"true", "false", "nil", "null", "and", "or", "not", "in",
                             "contains", "matches"})
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLOCK_VALUE_HINT = ("a block field holds text, numbers, money, durations, sizes, "
                     "`true`/`false`, null or lists of them")
MAX_DEPTH = 48  # nesting of the whole document
MAX_NODES = 200_000  # YAML aliases can make a small file name a huge document


# --- IR -> data ------------------------------------------------------------------------


def ir_to_data(policy: ir.PolicyIR) -> dict[str, Any]:
    """The plain-data form of `policy`, in a stable key order, empty fields left out.

    Raises ValueError for IR that no valid policy holds (a non-canonical tool pattern, a
    non-finite number, a `deny!` flag on another effect): what is written reads back equal.
    """
    writer = _Writer(policy.source)
    out: dict[str, Any] = {"version": FORMAT_VERSION, "source": policy.source}
    for key in ("imports", "blocks", "agents"):
        if getattr(policy, key):
            out[key] = [writer.record(r) for r in getattr(policy, key)]
    return out


class _Dumper(yaml.SafeDumper):
    """`safe_dump`, except that text holding a YAML line break character (NEL, U+2028,
    U+2029) is double-quoted: PyYAML writes them raw elsewhere and reads back a space."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style)


_Dumper.add_representer(str, _represent_text)


def dump_yaml(policy: ir.PolicyIR) -> str:
    return yaml.dump(ir_to_data(policy), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=1 << 30)


def dump_json(policy: ir.PolicyIR) -> str:
    return json.dumps(ir_to_data(policy), indent=2, ensure_ascii=False) + "\n"


class _Writer:
    def __init__(self, source: str) -> None:
        self.source = source

    def record(self, record: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in RECORDS[type(record)]:
            value = getattr(record, f.attr)
            if f.kind == "effect":
                if record.mandatory and value is not ir.RuleEffect.DENY:
                    raise _unwritable("mandatory rule effect", value)
                out[f.key] = "deny!" if record.mandatory else value.value
            elif f.kind == "default":
                out[f.key] = _effect_name(value)
            elif f.kind == "condition" and value is not None:
                out[f.key], variables = _encode_condition(value)
                if variables:
                    out["vars"] = variables
            elif value not in (None, ()) and not (f.kind == "exceed" and
                                                  value is ir.RuleEffect.DENY):
                out[f.key] = self.value(f, value)
        # The column is not kept: decisions show file:line, and a line is what people edit.
        origin = getattr(record, "origin", ir.Origin())
        if origin.line:
            out["line"] = origin.line if origin.file == self.source else \
                f"{origin.file}:{origin.line}"
        return out

    def value(self, f: Field, value: Any) -> Any:
        if f.kind == "list":
            return [self.record(r) for r in value]
        if f.kind == "tools":
            return [_pattern(t.name) if not t.tags else
                    {"name": _pattern(t.name), "tags": [_text(x) for x in t.tags]}
                    for t in value]
        return _WRITE[f.kind](value)


def _unwritable(what: str, value: object) -> ValueError:
    return ValueError(f"{what} `{value!r}` cannot be written so that it reads back equal")


def _text(value: str) -> str:
    if not isinstance(value, str):
        raise _unwritable("text", value)
    return value


def _pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern or canonical_pattern(pattern) != pattern:
        raise _unwritable("tool pattern", pattern)
    return pattern


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise _unwritable("count", n)
    return n


def _effect_name(effect: ir.RuleEffect) -> str:
    if effect not in ir.DEFAULT_EFFECTS:
        raise _unwritable("effect (permit, deny or defer)", effect)
    return effect.value


def _checked(text: str, read: Callable[[str], object], value: object) -> str:
    if not _same(read(text), value):
        raise _unwritable("value", value)
    return text


def _ratio(d: Decimal) -> str:
    if not isinstance(d, Decimal) or not d.is_finite() or not 0 <= d <= 1:
        raise _unwritable("warn_at", d)
    return _literal_text(d)


def _literal_text(value: Decimal | Money | Duration | DataSize) -> str:
    """Canonical FPL literal text of a typed value, checked to read back equal."""
    if isinstance(value, Decimal) and not value.is_finite():
        raise _unwritable("number", value)
    text = format_literal(value) if isinstance(value, Decimal) else str(value)
    return _checked(text, _typed_text, value)


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        raise _unwritable("number", value)
    return repr(value)


def _pairs(items: tuple[tuple[str, Any], ...], encode: Callable[[Any], Any]) -> Any:
    """A mapping; a list of one-key mappings when a key repeats (order and all kept)."""
    keys = [_text(k) for k, _ in items]
    if len(set(keys)) == len(keys):
        return {k: encode(v) for k, v in items}
    return [{k: encode(v)} for k, v in items]


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
        out = {_text(k): _data_value(v) for k, v in value.items()}
        return {"map": out} if _is_tag(out) else out
    if isinstance(value, float):
        return {"float": _float_text(value)}
    if isinstance(value, Decimal | Money | Duration | DataSize):
        tag = next(t for t, kind in _TAG_KINDS.items() if isinstance(value, kind))
        return {tag: _literal_text(value)}
    raise _unwritable("value", value)


_WRITE: dict[str, Callable[[Any], Any]] = {
    "name": _text, "text": _text, "ceiling": _text, "pattern": _pattern,
    "patterns": lambda v: [_pattern(p) for p in v], "count": _count,
    "duration": lambda d: _checked(d.text, parse_duration, d),
    "money": lambda m: _checked(str(m), parse_money, m), "ratio": _ratio,
    "exceed": _effect_name, "texts": lambda v: [_text(x) for x in v],
    "settings": lambda v: _pairs(v, _setting_value), "modify": lambda v: _pairs(v, _data_value),
}


def _is_tag(value: object) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in TAGS


def _one_token(text: str) -> Token | None:
    """The single FPL token `text` holds, if it reads cleanly as exactly one."""
    probe = DiagnosticSink("", "")
    try:
        tokens = tokenize(text, probe)
    except (ValueError, ArithmeticError):  # the lexer on digits such as `¹`; see the report
        return None
    return tokens[0] if len(tokens) == 2 and not probe.items else None


def _typed_text(text: str) -> ir.Scalar | None:
    """The money, duration, size or decimal that `text` spells as one FPL literal."""
    tok = _one_token(text)
    if tok is None:
        return None
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
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple(_key(getattr(value, f.name))
                                            for f in dataclasses.fields(value) if f.compare))
    return (type(value).__name__, value)


def _same(a: object, b: object) -> bool:
    return _key(a) == _key(b)


# --- conditions --------------------------------------------------------------------------


def _encode_condition(expr: ir.Expr) -> tuple[str, dict[str, Any]]:
    """Condition text, and `vars` for literals the text cannot spell exactly (a binary
    float; and, should the lexer ever misread them, negative numbers or odd strings).
    Each candidate is read back with the real reader: what is returned reads back equal."""
    for swap in (_never, _risky, _always):
        found: dict[str, ir.Scalar] = {}
        text = format_expr(_swap_literals(expr, swap, found))
        variables = {name: _setting_value(v) for name, v in found.items()}
        reader = _Reader("<check>", DiagnosticSink("<check>", text), None)
        back = reader.condition(text, reader.variables(variables, ("vars",)), ("when",))
        if back is not _BAD and not reader.sink.items and _same(back, expr):
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
        tok = _one_token(format_literal(value))
        return tok is None or tok.kind is not T.STRING or tok.text != value
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
    errors, and the origins of records without a `line`, point into the file.
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


def _bad(*values: object) -> bool:
    return any(v is _BAD for v in values)


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
    return "a mapping" if isinstance(value, Mapping) else "an unsupported value"


class _Reader:
    def __init__(self, file: str, sink: DiagnosticSink,
                 marks: Mapping[Path, Mark] | None) -> None:
        self.file = file
        self.source = file
        self.sink = sink
        self.marks: Mapping[Path, Mark] = marks or {}

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
                required: Sequence[str] = ()) -> dict[str, Any] | None:
        """The text-keyed entries of a mapping; other keys, unknown keys, repeated keys and
        missing keys are reported. None when it is not a mapping or lacks a key."""
        if not isinstance(value, Mapping):
            self.reject(value, path, what)
            return None
        for dup, mark in getattr(value, "duplicates", ()):
            shown = _shown(dup) if isinstance(dup, str) else "?"
            self.error((*path, dup), "duplicate-key", f"`{shown}` is given twice",
                       "keep one of them", key=True, at=mark)
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                self.error((*path, k), "type", f"keys must be text, found {_describe(k)}",
                           key=True)
            elif keys is not None and k not in keys:
                close = difflib.get_close_matches(k, keys, 1)
                hint = f"did you mean `{close[0]}`?" if close else \
                    "expected one of: " + ", ".join(keys)
                self.error((*path, k), "unknown-key", f"unknown key `{_shown(k)}` in {what}",
                           hint, key=True)
            else:
                out[k] = v
        missing = [k for k in required if k not in out]
        for k in missing:
            self.error(path, "missing-key", f"{what} needs `{k}`")
        return None if missing else out

    def sequence(self, value: object, path: Path, what: str) -> Sequence[Any] | None:
        if isinstance(value, list | tuple):
            return value
        self.reject(value, path, what)
        return None

    def items(self, m: Mapping[str, Any], key: str, path: Path,
              read: Callable[[Any, Path], Any]) -> tuple[Any, ...]:
        seq = self.sequence(m[key], (*path, key), f"a list of {key.replace('_', ' ')}")
        out = [read(item, (*path, key, i)) for i, item in enumerate(seq or ())]
        return tuple(x for x in out if x is not None and x is not _BAD)

    # --- scalars -------------------------------------------------------------------------

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
        out = tuple(self.text(v, (*path, i)) for i, v in enumerate(seq or ()))
        return _BAD if seq is None or _bad(*out) else out

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
        out = tuple(self.pattern(v, (*path, i)) for i, v in enumerate(seq or ()))
        return _BAD if seq is None or _bad(*out) else out

    def duration(self, value: object, path: Path) -> Any:
        if not isinstance(value, str):
            return self.reject(value, path, "a duration such as `15m`")
        d = parse_duration(RATE_WINDOW_TEXT.get(value.strip(), value))
        if d is None:
            self.error(path, "bad-duration", f"`{_shown(value)}` is not a duration",
                       "write a number and a unit: `30s`, `15m`, `24h`, `7d`")
            return _BAD
        return d

    def money(self, value: object, path: Path) -> Any:
        if not isinstance(value, str):
            return self.reject(value, path, "money such as `$500`", "quote it with its currency")
        try:
            m = parse_money(value)
        except ArithmeticError:  # digits such as `¹`
            m = None
        if m is None or not m.amount.is_finite():
            self.error(path, "bad-money", f"`{_shown(value)}` is not an amount of money",
                       "write the amount with its currency: `$500`, `€20`, `100GBP`")
            return _BAD
        return m

    def effect(self, value: object, path: Path,
               allowed: Sequence[ir.RuleEffect] = tuple(ir.RuleEffect)) -> Any:
        text = self.text(value, path)
        if text is _BAD:
            return _BAD
        effect = ir.EFFECT_ALIASES.get(text.strip().lower())
        if effect not in allowed:
            self.error(path, "bad-effect", f"`{_shown(text)}` is not an effect here",
                       "use one of: " + ", ".join(e.value for e in allowed))
            return _BAD
        return effect

    def ratio(self, value: object, path: Path) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            return self.reject(value, path, "a fraction between 0 and 1")
        try:
            number = Decimal(repr(value) if isinstance(value, float) else value)
        except (InvalidOperation, ValueError):
            number = Decimal("NaN")
        if not number.is_finite() or not 0 <= number <= 1:
            self.error(path, "bad-number", f"{_describe(value)} is not a fraction "
                       "between 0 and 1", "write a number such as `0.8`")
            return _BAD
        return number

    def ceiling(self, value: object, path: Path) -> Any:
        text = self.text(value, path)
        if text is not _BAD and text not in CEILINGS:
            self.error(path, "bad-value", f"`{_shown(text)}` is not a ceiling",
                       "use one of: " + ", ".join(CEILINGS))
            return _BAD
        return text

    # --- values --------------------------------------------------------------------------

    def number(self, value: float | Decimal, path: Path) -> Any:
        """A native non-integer number as a Decimal; non-finite ones are refused."""
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            self.error(path, "bad-number", f"{_describe(value)} is not a finite number")
            return _BAD
        return number

    def tagged(self, value: Mapping[Any, Any], path: Path, data: bool, depth: int) -> Any:
        tag = next(iter(value))
        payload, sub = value[tag], (*path, tag)
        if tag == "tuple":
            seq = self.sequence(payload, sub, "a list")
            read = self.data_value if data else self.setting_value
            out = tuple(read(v, (*sub, i), depth + 1) for i, v in enumerate(seq or ()))
            return _BAD if seq is None or _bad(*out) else out
        if tag == "map":
            if not data:
                return self.reject(value, path, "a value or a list", _BLOCK_VALUE_HINT)
            return self.data_map(payload, sub, depth)
        text = self.text(payload, sub)
        if text is _BAD or tag == "string":
            return text
        if tag == "float":
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
            self.error(sub, "bad-number", f"`{_shown(text)}` is not a finite number")
            return _BAD
        typed = _typed_text(text)
        if not isinstance(typed, _TAG_KINDS[tag]):
            self.error(sub, "bad-value", f"`{_shown(text)}` is not a {tag}",
                       "write e.g. `0.5`, `$500`, `15m` or `10mb`")
            return _BAD
        return typed

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
            return _BAD if _bad(*out) else out
        if isinstance(value, Mapping) and _is_tag(value):
            return self.tagged(value, path, False, depth)
        return self.reject(value, path, "a value or a list", _BLOCK_VALUE_HINT)

    def data_value(self, value: object, path: Path, depth: int = 0) -> Any:
        """`modify_args` values: JSON-like data as written (fractions are floats)."""
        if depth > MAX_DEPTH:
            self.error(path, "too-deep", "the value is nested too deeply")
            return _BAD
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float | Decimal):
            number = self.number(value, path)
            if number is not _BAD and not math.isfinite(float(number)):
                self.error(path, "bad-number", f"{_describe(value)} is out of range")
                return _BAD
            return number if number is _BAD else float(number)
        if isinstance(value, list | tuple):
            out = [self.data_value(v, (*path, i), depth + 1) for i, v in enumerate(value)]
            return _BAD if _bad(*out) else out
        if isinstance(value, Mapping) and _is_tag(value):
            return self.tagged(value, path, True, depth)
        if isinstance(value, Mapping):
            return self.data_map(value, path, depth)
        return self.reject(value, path, "data (text, numbers, lists, mappings)")

    def data_map(self, value: object, path: Path, depth: int) -> Any:
        m = self.mapping(value, path, "a mapping")
        if m is None:
            return _BAD
        out = {k: self.data_value(v, (*path, k), depth + 1) for k, v in m.items()}
        return _BAD if _bad(*out.values()) else out

    def pairs(self, value: object, path: Path, read: Callable[[object, Path], Any]) -> Any:
        """Fields written as a mapping, or as a list of one-key mappings."""
        entries: list[tuple[str, object, Path]] = []
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                m = self.mapping(item, (*path, i), "a one-key mapping")
                if m is not None and len(m) != 1:
                    self.error((*path, i), "bad-value", "each entry maps one key to its value")
                elif m is not None:
                    entries.extend((k, v, (*path, i, k)) for k, v in m.items())
        else:
            m = self.mapping(value, path, "a mapping")
            if m is None:
                return _BAD
            entries = [(k, v, (*path, k)) for k, v in m.items()]
        out = tuple((k, read(v, p)) for k, v, p in entries)
        return _BAD if _bad(*(v for _, v in out)) else out

    def modify_args(self, value: object, path: Path) -> Any:
        out = self.pairs(value, path, self.data_value)
        for key, _ in () if out is _BAD else out:
            if not key or any(not part for part in key.removeprefix("args.").split(".")):
                self.error((*path, key), "bad-value", f"`{_shown(key)}` is not an argument "
                           "path", "write an argument name or a dotted path such as "
                           "`options.limit`", key=True)
                return _BAD
        return out

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
        out: dict[str, ir.Scalar] = {}
        for name, raw in (m or {}).items():
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

    def condition(self, text: str, variables: dict[str, ir.Scalar] | None,
                  path: Path) -> Any:
        line, column = self.where(path)
        before = len(self.sink.items)
        try:
            expr = parse_expression(text, self.sink, line, column)
        except RecursionError:
            self.error(path, "too-deep", "the condition is nested too deeply")
            return _BAD
        except (ValueError, ArithmeticError):  # the lexer on digits such as `¹`
            self.error(path, "bad-literal", "the condition holds a number that cannot be "
                       "read", "write digits 0-9")
            return _BAD
        if expr is None or len(self.sink.items) > before:
            return _BAD
        expr = resolve_names(expr, variables or {})
        self.check_operands(expr, path)
        return expr if len(self.sink.items) == before else _BAD

    def check_operands(self, expr: ir.Expr, path: Path) -> None:
        """What the parser checks on literals, for values that came in through `vars`."""
        children: tuple[ir.Expr, ...] = ()
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
            children = (expr.left, expr.right)
        elif isinstance(expr, ir.And | ir.Or | ir.ListLit):
            children = expr.items
        elif isinstance(expr, ir.Not):
            children = (expr.item,)
        elif isinstance(expr, ir.Call):
            children = (*expr.args, *(v for _, v in expr.kwargs))
        for child in children:
            self.check_operands(child, path)

    # --- records -------------------------------------------------------------------------

    def policy(self, data: object) -> ir.PolicyIR | None:
        m = self.mapping(data, (), "the policy", TOP_KEYS)
        if m is None:
            return None
        version = m.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION or isinstance(version, bool):
            self.error(("version",), "bad-version", f"unsupported format version: "
                       f"{_describe(version)}", f"this version reads `version: {FORMAT_VERSION}`")
        source = self.name(m["source"], ("source",)) if m.get("source") is not None else None
        self.source = source if isinstance(source, str) else self.file
        parts = {key: self.items(m, key, (), self.reader(NESTED[key])) if m.get(key)
                 is not None else () for key in ("imports", "blocks", "agents")}
        seen: set[str] = set()
        for i, agent in enumerate(parts["agents"]):
            if agent.agent_id in seen:
                self.error(("agents", i, "id"), "duplicate-agent",
                           f"agent `{_shown(agent.agent_id)}` is declared twice",
                           "merge the two agents")
            seen.add(agent.agent_id)
        return ir.PolicyIR(parts["agents"], parts["blocks"], parts["imports"], self.source)

    def reader(self, cls: type[Any]) -> Callable[[Any, Path], Any]:
        return lambda value, path: self.record(cls, value, path)

    def record(self, cls: type[Any], value: object, path: Path) -> Any:
        spec = RECORDS[cls]
        keys = [f.key for f in spec] + (["vars"] if cls is ir.Rule else []) + ["line"]
        m = self.mapping(value, path, WHAT[cls], keys, [f.key for f in spec if f.required])
        if m is None:
            return None
        kwargs: dict[str, Any] = {}
        for f in spec:
            raw, sub = m.get(f.key), (*path, f.key)
            if raw is None and f.required:
                kwargs[f.attr] = self.reject(raw, sub, f"a value for `{f.key}`")
            elif raw is None:
                kwargs[f.attr] = _ABSENT.get(f.kind)
            elif f.kind == "effect":
                kwargs["mandatory"] = isinstance(raw, str) and raw.strip().lower() == "deny!"
                kwargs[f.attr] = ir.RuleEffect.DENY if kwargs["mandatory"] else \
                    self.effect(raw, sub)
            elif f.kind == "condition":
                variables = self.variables(m["vars"], (*path, "vars")) \
                    if m.get("vars") is not None else None
                text = self.text(raw, sub)
                kwargs[f.attr] = text if text is _BAD else self.condition(text, variables, sub)
            elif f.kind in ("list", "tools"):
                read = self.tool if f.kind == "tools" else self.reader(NESTED[f.key])
                kwargs[f.attr] = self.items(m, f.key, path, read)
            else:
                kwargs[f.attr] = _READ[f.kind](self, raw, sub)
        kwargs["origin"] = self.origin(m, path)
        if _bad(*kwargs.values()):
            return None
        return cls(**kwargs)

    def tool(self, value: object, path: Path) -> ir.ToolDecl | None:
        if isinstance(value, str):
            name = self.pattern(value, path)
            return None if name is _BAD else ir.ToolDecl(name)
        m = self.mapping(value, path, "a tool (a name, or a mapping with `name` and `tags`)",
                         ("name", "tags"), ("name",))
        if m is None:
            return None
        name = self.pattern(m["name"], (*path, "name"))
        tags = self.texts(m["tags"], (*path, "tags")) if m.get("tags") is not None else ()
        return None if _bad(name, tags) else ir.ToolDecl(name, tags)


# What an absent key means, by kind (None for the rest).
_ABSENT: dict[str, object] = {"default": ir.RuleEffect.DENY, "exceed": ir.RuleEffect.DENY,
                              **dict.fromkeys(("list", "tools", "patterns", "texts",
                                               "settings", "modify"), ())}
_READ: dict[str, Callable[[_Reader, object, Path], Any]] = {
    "name": _Reader.name, "text": _Reader.text, "ceiling": _Reader.ceiling,
    "pattern": _Reader.pattern, "patterns": _Reader.patterns, "count": _Reader.count,
    "duration": _Reader.duration, "money": _Reader.money, "ratio": _Reader.ratio,
    "default": lambda r, v, p: r.effect(v, p, ir.DEFAULT_EFFECTS),
    "exceed": lambda r, v, p: r.effect(v, p, ir.DEFAULT_EFFECTS),
    "texts": _Reader.texts, "settings": lambda r, v, p: r.pairs(v, p, r.setting_value),
    "modify": _Reader.modify_args,
}


# --- text --------------------------------------------------------------------------------


def load_ir_yaml(text: str, file: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    """The IR in a `governance.fms.yaml` text, or None when errors were recorded."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        _text_error(sink, at, "yaml-syntax",
                    f"invalid yaml: {exc.problem or exc.context or 'cannot read this'}",
                    "check the indentation and quoting here and on the line before")
        return None
    except yaml.YAMLError as exc:  # the reader: a character YAML does not allow
        pos = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
        _text_error(sink, (text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)),
                    "yaml-syntax", "invalid yaml: a character yaml does not allow",
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
        _text_error(sink, exc.at, exc.code, str(exc),
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
    except ValueError:  # more digits than Python converts
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
    is YAML's flow syntax); best effort: whatever was found before it could not go on."""
    nodes = _Nodes(text)
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if root is not None:
            nodes.value(root, (), 0)
    except (yaml.YAMLError, RecursionError, _TooBig):
        pass
    return nodes.marks


class _TooBig(Exception):
    def __init__(self, at: Mark, code: str, message: str) -> None:
        super().__init__(message)
        self.at, self.code = at, code


_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_SCALAR_KINDS = {"tag:yaml.org,2002:timestamp": "a date", "tag:yaml.org,2002:binary":
                 "binary data"}


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
        if node.tag not in (_SEQ, _MAP):
            return _Invalid(f"a value tagged `{_shown(node.tag)}`")
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        out = _Map()
        for key_node, value_node in node.value if isinstance(node, MappingNode) else ():
            key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else \
                _Invalid("a list or mapping")
            try:
                known = key in out
            except TypeError:  # an unhashable key
                key, known = _Invalid(_describe(key)), False
            if known:
                out.duplicates.append((key, self.start(key_node)))
                continue
            self.marks[(*path, key, None)] = self.start(key_node)
            out[key] = self.value(value_node, (*path, key), depth + 1)
        return out

    def scalar(self, node: ScalarNode) -> object:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            return _Invalid(f"`{_shown(str(node.value))}`, which cannot be read")
        if value is None or isinstance(value, str | bool | int | float):
            return value
        return _Invalid(_SCALAR_KINDS.get(node.tag, "an unsupported value"))
