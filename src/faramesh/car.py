"""The canonical action record's first duty: one canonical spelling of every tool name.

Every matcher (rules, phases, rate limits, redaction, egress, delegation scopes) sees only
canonical names, so `SHELL/exec`, ` admin//delete` or a Cyrillic look-alike of `shell`
cannot slip past a deny written for the plain spelling.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib import resources

# Characters that render as nothing and are removed: format controls (zero-width
# spaces and joiners, bidi overrides, soft hyphen) and variation selectors.
_REMOVED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


@lru_cache(maxsize=1)
def _lookalike_table() -> dict[int, str]:
    """Non-ASCII character -> the ASCII character it is confusable with (Unicode data)."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    table: dict[int, str] = {}
    # Letters and digits first, so a glyph that looks like both `l` and `|` folds to `l`.
    ascii_keys = sorted((k for k in data if len(k) == 1 and k.isascii()),
                        key=lambda k: (not k.isalnum(), k))
    for key in ascii_keys:
        for glyph in data[key]:
            c = glyph["c"]
            if len(c) == 1 and not c.isascii():
                table.setdefault(ord(c), key)
    return table


def _fold_non_ascii(name: str) -> str:
    # Case folding can decompose (`İ` -> `i` + combining dot), so fold case before the
    # second NFKC and before invisible marks are removed: the result is then a fixed point.
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    kept = [c for c in name if c.isascii() or unicodedata.category(c) not in _REMOVED_CATEGORIES]
    return "".join(kept).translate(_lookalike_table())


def canonical_tool(raw: str) -> str | None:
    """The canonical spelling of a tool name, or None when it must be refused (NUL byte).

    NFKC, invisible characters removed, look-alikes folded, case folded, surrounding space
    trimmed, repeated `/` collapsed, leading `./` and `../` removed.
    """
    if "\x00" in raw:
        return None
    name = raw if raw.isascii() else _fold_non_ascii(raw)
    name = name.casefold()
    # Each segment is trimmed before empty ones are dropped, so `a/ /b` is `a/b` and
    # `./ ../x` is `x`: spaces cannot rebuild a `//` or a leading `..`.
    segments = [s for s in (part.strip() for part in name.split("/")) if s]
    start = 0
    while start < len(segments) and segments[start] in (".", ".."):
        start += 1
    return "/".join(segments[start:])


def canonical_pattern(raw: str) -> str:
    """Patterns get the same folding as names (a NUL in a pattern is a compile error)."""
    return canonical_tool(raw) or ""
