"""The typed leaves of three-valued logic: lookups and comparisons that say "undecided".

Each comparison returns True, False, or None when its operands cannot be compared (the
caller turns None into an `Unknown` naming the operands). Numbers are int, finite float,
finite Decimal and Money (its amount); two Money values of different currencies never
compare. Nothing here raises on any input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from faramesh.policy.values import Money, is_ascii_number


class Unknown:
    """An undecided result; `fields` says which inputs made it so."""

    __slots__ = ("fields",)

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields

    def __repr__(self) -> str:
        return f"Unknown({', '.join(self.fields)})"


def merge(a: Unknown | None, b: Any) -> Unknown:
    """Two undecided results as one, naming the fields of both (in order, once each)."""
    other = b if isinstance(b, Unknown) else Unknown(("non-boolean operand",))
    if a is None:
        return other
    return Unknown(a.fields + tuple(f for f in other.fields if f not in a.fields))


def lookup(root: Any, keys: Sequence[str], missing: Any) -> Any:
    """Follow a path of keys (and list indexes) from `root`; `missing` when it breaks."""
    value = root
    for key in keys:
        if isinstance(value, Mapping):
            if key not in value:
                return missing
            value = value[key]
        elif isinstance(value, list) and is_ascii_number(key) and int(key) < len(value):
            value = value[int(key)]
        else:
            return missing
    return value


def number(value: Any) -> Any:
    """A comparable number (Money gives its amount), or None when not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):  # the decimal it was written as: JSON 0.1 equals $0.10
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, Money) and not isinstance(value.amount, Money):
        return number(value.amount)
    return None


def kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if number(value) is not None:
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return None


def _currencies_differ(a: Any, b: Any) -> bool:
    return isinstance(a, Money) and isinstance(b, Money) and a.currency != b.currency


def equal(a: Any, b: Any) -> bool | None:
    """Typed equality; None when the types cannot be compared. nil equals only nil."""
    if a is None or b is None:
        return a is b  # `x != nil` is decided for any present value, whatever its type
    if _currencies_differ(a, b):
        return None
    ka, kb = kind(a), kind(b)
    if ka is None or kb is None or ka != kb:
        return None
    if ka == "number":
        return bool(number(a) == number(b))
    return bool(a == b)


def order(op: str, a: Any, b: Any) -> bool | None:
    """`<`, `<=`, `>`, `>=` between two numbers or two strings; None otherwise."""
    if _currencies_differ(a, b):
        return None
    na, nb = number(a), number(b)
    if na is None or nb is None:
        if isinstance(a, str) and isinstance(b, str):
            na, nb = a, b
        else:
            return None
    if op == "<":
        return bool(na < nb)
    if op == "<=":
        return bool(na <= nb)
    if op == ">":
        return bool(na > nb)
    return bool(na >= nb)


def contains(container: Any, item: Any) -> bool | None:
    """Substring of a string, element of a list (typed equality), key of a map."""
    if isinstance(container, str):
        return item in container if isinstance(item, str) else None
    if isinstance(container, list | tuple):
        undecided = False
        for element in container:
            eq = equal(element, item)
            if eq:
                return True
            if eq is None:
                undecided = True
        return None if undecided else False
    if isinstance(container, Mapping):
        return item in container if isinstance(item, str) else None
    return None
