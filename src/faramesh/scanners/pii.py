"""Personal data: email addresses, payment card numbers, US social security numbers, phones.

Card numbers must pass the Luhn check and start with a known issuer prefix; SSNs must be
written `123-45-6789` outside the ranges never issued; phone numbers must be written as
phone numbers (NANP with separators, or E.164 with a leading `+`), so ids, amounts and
dates do not fire.
"""

from __future__ import annotations

from faramesh.scanners.detector import Detector

SCANNER = "pii"

_CARD_PREFIXES = ("4", "51", "52", "53", "54", "55", "2", "34", "37", "6011", "65", "644",
                  "645", "646", "647", "648", "649", "300", "301", "302", "303", "304", "305",
                  "36", "38", "35")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = "".join(c for c in text if c.isdigit())
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    if digits[0] == "2" and not "2221" <= digits[:4] <= "2720":
        return False  # only 2221-2720 are Mastercard's 2-series
    return digits.startswith(_CARD_PREFIXES) and luhn_valid(digits)


def _ssn(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _phone(text: str) -> bool:
    """NANP area codes and exchanges start with 2-9; E.164 numbers are checked by shape."""
    if text.startswith("+") and not text.startswith("+1"):
        return True
    digits = "".join(c for c in text if c.isdigit()).removeprefix("1")
    return len(digits) == 10 and digits[0] >= "2" and digits[3] >= "2"


DETECTORS: tuple[Detector, ...] = (
    Detector("email", r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b"),
    Detector("credit_card", r"\b(?:\d[ -]?){12,18}\d\b", check=_card),
    Detector("us_ssn", r"\b\d{3}-\d{2}-\d{4}\b", check=_ssn),
    Detector("phone",
             r"(?:\+1[ .-]?)?(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b"
             r"|\+[1-9]\d{7,14}\b", check=_phone),
)
