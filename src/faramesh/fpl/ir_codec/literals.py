"""What one piece of text spells as an FPL literal, and comparison keys that tell value
types apart: both the writer and the reader decide with these."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal

from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.ir_codec.records import TAGS
from faramesh.fpl.lexer import T, Token, tokenize
from faramesh.policy import ir


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
