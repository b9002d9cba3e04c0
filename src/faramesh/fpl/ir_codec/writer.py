"""IR -> plain data: `ir_to_data` writes each record as `RECORDS` says, refusing IR that
would not read back equal; conditions become FPL condition text, with `vars` for literals
the text cannot spell exactly."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from faramesh.car import canonical_pattern
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.expressions import format_expr, format_literal
from faramesh.fpl.ir_codec.literals import _is_tag, _one_token, _same, _typed_text
from faramesh.fpl.ir_codec.reader import _Reader
from faramesh.fpl.ir_codec.records import _TAG_KINDS, FORMAT_VERSION, RECORDS, Field
from faramesh.fpl.ir_codec.values import _BAD
from faramesh.fpl.lexer import T
from faramesh.policy import ir
from faramesh.policy.values import DataSize, Duration, Money, parse_duration, parse_money


def ir_to_data(policy: ir.PolicyIR) -> dict[str, Any]:
    """The plain-data form of `policy`, in a stable key order, empty fields left out.

    Raises ValueError for IR that no valid policy holds (a non-canonical tool pattern, a
    non-finite number, a `deny!` flag on another effect): what is written reads back equal
    when the IR passes `check_ir`.
    """
    writer = _Writer(policy.source)
    out: dict[str, Any] = {"version": FORMAT_VERSION, "source": policy.source}
    for key in ("imports", "blocks", "agents"):
        if getattr(policy, key):
            out[key] = [writer.record(r) for r in getattr(policy, key)]
    return out



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
            return [_tool(t) for t in value]
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


def _tool(tool: ir.ToolDecl) -> str | dict[str, Any]:
    """A bare name, or a mapping with `name` and the `tags` and `cost` it has."""
    if not tool.tags and tool.cost is None:
        return _pattern(tool.name)
    out: dict[str, Any] = {"name": _pattern(tool.name)}
    if tool.tags:
        out["tags"] = [_text(x) for x in tool.tags]
    if tool.cost is not None:
        out["cost"] = _WRITE["money"](tool.cost)
    return out


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
    def swap_literal(leaf: ir.Lit | ir.Var) -> ir.Expr:
        if isinstance(leaf, ir.Var) or not swap(leaf.value):
            return leaf
        name = f"v{len(found) + 1}"
        found[name] = leaf.value
        return ir.Var((name,))
    return ir.map_leaves(expr, swap_literal)

