"""The one tool-pattern matcher: `*` in a segment, `**` across segments, `*` alone for all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.policy.patterns import (
    _regex_for,
    compile_pattern,
    literal_prefix_segment,
    matches,
    pattern_within,
)
from faramesh.policy.regex import compile_regex


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("stripe/refund", "stripe/refund", True),
    ("stripe/refund", "stripe/refunds", False),
    ("stripe/refund", "stripe", False),
    ("stripe/*", "stripe/refund", True),
    ("stripe/*", "stripe/refund/partial", False),
    ("stripe/*", "stripe", False),
    ("stripe/*", "stripes/refund", False),
    ("stripe/re*", "stripe/refund", True),
    ("stripe/re*", "stripe/charge", False),
    ("stripe/*und", "stripe/refund", True),
    ("*/exec", "shell/exec", True),
    ("*/exec", "a/shell/exec", False),
    ("s*l/*", "shell/exec", True),
])
def test_a_star_matches_within_one_segment(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("stripe/**", "stripe/refund", True),
    ("stripe/**", "stripe/refund/partial", True),
    ("stripe/**", "stripe", True),  # `**` is zero or more segments
    ("stripe/**", "stripes/refund", False),
    ("**/delete", "delete", True),
    ("**/delete", "admin/users/delete", True),
    ("**/delete", "admin/undelete", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/x/y/c", False),
    ("*/**", "x", True),
    ("*/**", "x/y/z", True),
    ("**/**", "x/y", True),
    ("**/x/**", "x", True),
    ("**/x/**", "p/x/q/r", True),
    ("**/delete", "a\nb/delete", True),  # a newline in a name cannot dodge `**`
    ("a/**", "a/b\nc", True),
])
def test_a_double_star_matches_across_segments(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize("name", ["a", "a/b", "a/b/c/d", "x.y", "stripe/refund/partial"])
def test_a_star_alone_matches_every_tool(name: str) -> None:
    assert matches("*", name)
    assert matches("**", name)


def test_regex_metacharacters_in_patterns_are_literal() -> None:
    assert matches("a.b/c+d", "a.b/c+d")
    assert not matches("a.b/*", "axb/c")
    assert matches("a(b)/[x]/*", "a(b)/[x]/y")
    assert not matches("a(b)/[x]/*", "ab/x/y")


SEGMENT_GLOBS = st.sampled_from(["a", "b", "ab", "*", "a*", "*b", "**"])
NAMES = st.lists(st.sampled_from(["a", "b", "ab", "ba", "aab"]), min_size=1, max_size=4)


def _glob_reference(pattern: list[str], name: list[str]) -> bool:
    """Segment-by-segment definition: `**` eats zero or more segments, `*` any characters."""
    if not pattern:
        return not name
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_reference(rest, name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    pieces = head.split("*")
    seg = name[0]
    ok = seg.startswith(pieces[0]) and seg.endswith(pieces[-1]) and \
        len(seg) >= len(pieces[0]) + len(pieces[-1]) if len(pieces) == 2 else seg == head
    return ok and _glob_reference(rest, name[1:])


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT_GLOBS, min_size=1, max_size=4), NAMES)
def test_fast_paths_and_regex_agree_with_the_segment_definition(
        pattern: list[str], name: list[str]) -> None:
    text, tool = "/".join(pattern), "/".join(name)
    expected = True if text in ("*", "**") else _glob_reference(pattern, name)
    assert compile_pattern(text)(tool) is expected
    if text not in ("*", "**"):  # the general regex path agrees with the shortcuts
        assert (compile_regex(_regex_for(text)).fullmatch(tool) is not None) is expected


@pytest.mark.parametrize(("inner", "outer", "expected"), [
    ("shell/ls", "shell/*", True),
    ("shell/ls", "shell/**", True),
    ("shell/a/b", "shell/*", False),
    ("shell/a/b", "shell/**", True),
    ("shell/*", "shell/*", True),
    ("shell/*", "shell/**", True),
    ("shell/**", "shell/*", False),
    ("shell/l*", "shell/*", True),
    ("shell/l*", "shell/l*", True),
    ("shell/ls*", "shell/l*", True),
    ("shell/l*", "shell/ls*", False),
    ("*", "shell/*", False),
    ("anything/at/all", "*", True),
    ("x/**", "**", True),
    ("shell", "shell/**", True),
    ("a**", "a*", False),  # `a**` reaches past one segment
    ("a/**/**", "a/**", True),
    ("db/*", "**/delete", False),
])
def test_pattern_within(inner: str, outer: str, expected: bool) -> None:
    assert pattern_within(inner, outer) is expected


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT_GLOBS, min_size=1, max_size=3),
       st.lists(SEGMENT_GLOBS, min_size=1, max_size=3), NAMES)
def test_pattern_within_is_never_wrong_when_it_says_yes(
        inner: list[str], outer: list[str], name: list[str]) -> None:
    inner_text, outer_text, tool = "/".join(inner), "/".join(outer), "/".join(name)
    if pattern_within(inner_text, outer_text) and matches(inner_text, tool):
        assert matches(outer_text, tool)


def test_the_index_key_is_a_literal_first_segment() -> None:
    assert literal_prefix_segment("stripe/*") == "stripe"
    assert literal_prefix_segment("stripe") == "stripe"
    assert literal_prefix_segment("str*/x") is None
    assert literal_prefix_segment("**/x") is None
