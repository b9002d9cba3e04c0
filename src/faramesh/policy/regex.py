"""Linear-time regular expressions (RE2) for `matches`: no pattern or input can stall a decision."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are reported as diagnostics, not on stderr

# `matches` only asks whether there is a match, so its programs capture nothing.
_SEARCH_OPTIONS = re2.Options()
_SEARCH_OPTIONS.log_errors = False
_SEARCH_OPTIONS.never_capture = True

_NO_SPAN = (-1, -1)


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax."""


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> re2._Regexp[str]:
    return _compile(pattern, _OPTIONS)


def _compile(pattern: str, options: re2.Options) -> re2._Regexp[str]:
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RegexError(str(detail)) from None


@lru_cache(maxsize=4096)
def compile_search(pattern: str) -> Callable[[str], bool]:
    """A predicate: does `pattern` match anywhere in the text (unanchored)?

    The wrapper's `search` builds a match object and maps byte offsets back to
    characters, several microseconds a call; a yes/no answer needs only the engine's
    span, so we ask it directly when this version of the binding exposes it.
    """
    program = _compile(pattern, _SEARCH_OPTIONS)
    engine = getattr(program, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if engine is None or anchor is None or not hasattr(engine, "Match"):
        return lambda text: program.search(text) is not None  # pragma: no cover
    match = engine.Match

    def search(text: str) -> bool:
        # surrogatepass: a lone surrogate (legal in JSON) is bytes RE2 never matches
        # as a character, instead of an encoding error.
        data = text.encode("utf-8", "surrogatepass")
        return bool(match(anchor, data, 0, len(data))[0] != _NO_SPAN)
    return search
