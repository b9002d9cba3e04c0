"""The one tool-pattern matcher: `*` within a segment, `**` across segments, `/` separates.

`*` alone matches every tool. Used for rules, phases, rate limits, redaction, egress and
delegation scopes. Patterns are compiled once to a linear-time RE2 program.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from faramesh.policy.regex import compile_regex

Matcher = Callable[[str], bool]


def is_literal(pattern: str) -> bool:
    return "*" not in pattern


def literal_prefix_segment(pattern: str) -> str | None:
    """The first segment when it holds no wildcard (the index key), else None."""
    first = pattern.split("/", 1)[0]
    return None if "*" in first else first


def _segment_regex(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        if segment.startswith("**", i):  # `**` inside a segment crosses segments too
            out.append(".*")
            i += 2
        elif segment[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(segment[i]))
            i += 1
    return "".join(out)


def _regex_for(pattern: str) -> str:
    """The regex of a glob. A whole-segment `**` stands for zero or more segments, so
    `a/**` matches `a`, `**/b` matches `b` and `a/**/b` matches `a/b`."""
    segments: list[str] = []
    for segment in pattern.split("/"):
        if not (segment == "**" and segments and segments[-1] == "**"):
            segments.append(segment)
    if segments == ["**"]:
        return "(?s:.*)"
    out = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "**":
            out.append("(?:.*/)?" if i == 0 else "(?:/.*)?" if i == last else "/(?:.*/)?")
            continue
        if i > 0 and segments[i - 1] != "**":
            out.append("/")
        out.append(_segment_regex(segment))
    # `.` must match a newline too: a name holding one must not slip past `**`.
    return "(?s:" + "".join(out) + ")"


@lru_cache(maxsize=65536)
def compile_pattern(pattern: str) -> Matcher:
    """A predicate over canonical tool names."""
    if pattern in ("*", "**"):
        return lambda _name: True
    if is_literal(pattern):
        return pattern.__eq__
    if pattern.endswith("/**") and is_literal(pattern[:-3]):
        base = pattern[:-3]
        prefix = base + "/"
        return lambda name: name == base or name.startswith(prefix)
    if pattern.endswith("/*") and is_literal(pattern[:-2]):
        prefix = pattern[:-1]
        n = len(prefix)
        return lambda name: name.startswith(prefix) and "/" not in name[n:] and len(name) > n
    program = compile_regex(_regex_for(pattern))
    return lambda name: program.fullmatch(name) is not None


def matches(pattern: str, name: str) -> bool:
    return compile_pattern(pattern)(name)


def pattern_within(inner: str, outer: str) -> bool:
    """True when every name `inner` matches is also matched by `outer` (decidable here).

    Used by the `deny!` check. Exact for literals and for the wildcard shapes users write;
    conservative (False) where inclusion cannot be shown, so nothing valid is rejected.
    """
    if outer in ("*", "**"):
        return True
    if is_literal(inner):
        return matches(outer, inner)
    return _glob_within(inner.split("/"), outer.split("/"))


def _seg_within(a: str, b: str) -> bool:
    """Segment glob `a` (no `**`) is within segment glob `b`."""
    if b == "*":
        return "**" not in a  # `a**` reaches into later segments
    if "*" not in a:
        return matches(b, a)
    if "*" not in b or "**" in a:
        return False
    # both wildcard: a within b when b's literal pieces are a prefix/suffix of a's.
    bp = b.split("*")
    return len(bp) == 2 and a.startswith(bp[0]) and a.endswith(bp[1])


def _glob_within(a: list[str], b: list[str]) -> bool:
    if not b:
        return not a
    if b[0] == "**":
        return any(_glob_within(a[i:], b[1:]) for i in range(len(a) + 1))
    if not a or a[0] == "**":
        return False
    return _seg_within(a[0], b[0]) and _glob_within(a[1:], b[1:])


def patterns_overlap(a: str, b: str) -> bool:
    """True when some tool name matches both patterns."""
    if a in ("*", "**") or b in ("*", "**"):
        return True
    return _overlap(tuple(a.split("/")), tuple(b.split("/")))


@lru_cache(maxsize=65536)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return all(s == "**" for s in a + b)
    if a[0] == "**":
        return _overlap(a[1:], b) or _overlap(a, b[1:])
    if b[0] == "**":
        return _overlap(a, b[1:]) or _overlap(a[1:], b)
    return _segments_overlap(a[0], b[0], 0, 0) and _overlap(a[1:], b[1:])


@lru_cache(maxsize=65536)
def _segments_overlap(a: str, b: str, i: int, j: int) -> bool:
    """Do the one-segment globs a[i:] and b[j:] (only `*` wildcards) share a string?"""
    if i == len(a) and j == len(b):
        return True
    if i < len(a) and a[i] == "*":
        return _segments_overlap(a, b, i + 1, j) or (
            j < len(b) and _segments_overlap(a, b, i, j + 1))
    if j < len(b) and b[j] == "*":
        return _segments_overlap(a, b, i, j + 1) or (
            i < len(a) and _segments_overlap(a, b, i + 1, j))
    return i < len(a) and j < len(b) and a[i] == b[j] and _segments_overlap(a, b, i + 1,
                                                                            j + 1)
