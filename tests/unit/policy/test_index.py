"""The rule index returns exactly the rules whose pattern matches, in first-match order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.policy.index import CACHE_LIMIT, RuleIndex
from faramesh.policy.patterns import matches

SEGMENTS = st.sampled_from(["a", "b", "ab", "*", "a*", "**"])
PATTERNS = st.lists(SEGMENTS, min_size=1, max_size=3).map("/".join)
NAMES = st.lists(st.sampled_from(["a", "b", "ab", "ba"]), min_size=1, max_size=3).map("/".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(PATTERNS, max_size=12), NAMES)
def test_lookup_equals_a_linear_scan(patterns: list[str], name: str) -> None:
    index = RuleIndex([(p, i) for i, p in enumerate(patterns)])
    expected = tuple(i for i, p in enumerate(patterns) if matches(p, name))
    assert index.find(name) == expected
    assert index.lookup(name) == expected
    assert index.lookup(name) == expected  # memoized answer is the same


def test_the_memo_is_bounded() -> None:
    index = RuleIndex([("t/*", "rule")])
    for i in range(CACHE_LIMIT + 10):
        assert index.lookup(f"t/{i}") == ("rule",)
    assert len(index._cache) <= CACHE_LIMIT
