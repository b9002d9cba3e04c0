"""Linear-time regular expressions (RE2) for `matches`: no pattern or input can stall a decision."""

from __future__ import annotations

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are reported as diagnostics, not on stderr


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax."""


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RegexError(str(detail)) from None
