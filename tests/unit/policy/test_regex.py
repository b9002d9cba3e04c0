"""`matches` runs on RE2: linear time, and the fast yes/no search agrees with re2.search."""

from __future__ import annotations

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.policy.regex import RegexError, compile_regex, compile_search

PATTERNS = ["a", "^a", "a$", "^$", "(a|b)+c", "[0-9]{2,}", "(?i)SeCret", r"\bword\b", "é",
            "x.y", "(?s)x.y", "", "(a+)+$"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="abcxy0129 é\nSECRETword", max_size=12))
def test_the_fast_search_agrees_with_re2_search(pattern: str, text: str) -> None:
    assert compile_search(pattern)(text) is (re2.search(pattern, text) is not None)


def test_a_lone_surrogate_does_not_raise() -> None:
    assert compile_search("b")("a\ud800b") is True
    assert compile_search("^a$")("\udfff") is False


@pytest.mark.parametrize("pattern", ["(", "a{2,1}", "(?P<x", r"(a)\1"])
def test_invalid_or_backtracking_only_syntax_is_refused(pattern: str) -> None:
    with pytest.raises(RegexError):
        compile_regex(pattern)
    with pytest.raises(RegexError):
        compile_search(pattern)
