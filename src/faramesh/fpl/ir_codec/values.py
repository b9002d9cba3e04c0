"""Reading located values from plain data: shapes (mappings, lists), scalars (text,
patterns, money, durations, effects) and FPL values; every problem is recorded in the sink
at the path it was found, and the value becomes `_BAD`."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from faramesh.car import canonical_pattern
from faramesh.fpl.diagnostics import DiagnosticSink, Span
from faramesh.fpl.ir_codec.literals import _is_tag, _typed_text
from faramesh.fpl.ir_codec.records import (
    _BLOCK_VALUE_HINT,
    _TAG_KINDS,
    CEILINGS,
    MAX_DEPTH,
    Mark,
    Path,
)
from faramesh.fpl.lower import RATE_WINDOW_TEXT
from faramesh.policy import ir
from faramesh.policy.values import parse_duration, parse_money


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


class _ValueReader:
    def __init__(self, file: str, sink: DiagnosticSink,
                 marks: Mapping[Path, Mark] | None) -> None:
        self.file = file
        self.source = file
        self.sink = sink
        self.marks: Mapping[Path, Mark] = marks or {}
        # What was read where, by identity: records, tools and field entries, for check_ir.
        self.placed: dict[int, tuple[object, Path, bool]] = {}

    def place(self, value: Any, path: Path, key: bool = False) -> Any:
        """Remember where `value` was read (at its key, with `key`); return it."""
        self.placed[id(value)] = (value, path, key)
        return value

    def locate(self, value: object) -> Span:
        """Where a value read by this reader was written (see `place`)."""
        path, key = self.placed.get(id(value), (None, (), False))[1:]
        return self.sink.span(*self.where(path, key))

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
        out = tuple(self.place((k, read(v, p)), p, key=True) for k, v, p in entries)
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
