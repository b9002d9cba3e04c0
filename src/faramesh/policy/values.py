"""Typed literal values of FPL: money, durations and data sizes.

Money is exact (Decimal). Each type prints back to the literal it was parsed from in
canonical form, so the formatter and the YAML/JSON forms round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
SYMBOL_OF = {code: sym for sym, code in CURRENCY_SYMBOLS.items()}

DURATION_UNITS_S = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60),
                    "h": Decimal(3600), "d": Decimal(86400), "w": Decimal(604800)}
SIZE_UNITS_B = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
                "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


DIGITS = frozenset("0123456789")


def is_ascii_number(text: str) -> bool:
    """`12` or `1.5` in ASCII digits (`str.isdigit` also admits `¹`, which int() refuses)."""
    whole, _, fraction = text.partition(".")
    return bool(whole) and set(whole) <= DIGITS and set(fraction) <= DIGITS and \
        (not _ or bool(fraction))


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = "USD"

    def __str__(self) -> str:
        sym = SYMBOL_OF.get(self.currency)
        return f"{sym}{_plain(self.amount)}" if sym else f"{_plain(self.amount)}{self.currency}"


@dataclass(frozen=True, slots=True)
class Duration:
    seconds: Decimal
    text: str  # as written, canonical lowercase (`15m`)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class DataSize:
    n_bytes: int
    text: str

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> Duration | None:
    """`15m`, `24h`, `1.5h`, `250ms` -> Duration; anything else -> None."""
    t = text.strip().lower()
    for unit in sorted(DURATION_UNITS_S, key=len, reverse=True):
        if t.endswith(unit):
            num = t[: -len(unit)]
            try:
                value = Decimal(num)
            except ArithmeticError:
                return None
            if not value.is_finite() or value < 0 or not num or num[0] in "+-":
                return None
            return Duration(value * DURATION_UNITS_S[unit], t)
    return None


def parse_size(text: str) -> DataSize | None:
    t = text.strip().lower()
    for unit in sorted(SIZE_UNITS_B, key=len, reverse=True):
        if t.endswith(unit):
            num = t[: -len(unit)]
            if not num or not is_ascii_number(num) or "." in num:
                return None
            return DataSize(int(num) * SIZE_UNITS_B[unit], t)
    return None


def parse_money(text: str) -> Money | None:
    """`$50`, `$1.25`, `€10`, `50USD` -> Money; anything else -> None."""
    t = text.strip()
    currency = None
    if t[:1] in CURRENCY_SYMBOLS:
        currency, t = CURRENCY_SYMBOLS[t[0]], t[1:]
    elif len(t) > 3 and t[-3:].isalpha():
        currency, t = t[-3:].upper(), t[:-3]
    if currency is None or not t or not is_ascii_number(t):
        return None
    return Money(Decimal(t), currency)
