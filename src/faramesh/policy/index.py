"""The rule index: which rules of an agent can match a tool name, in first-match order.

Rules are bucketed by their pattern's literal shape (exact name, literal first segment,
or wildcard first segment). A lookup merges the few buckets that can apply, filters by
the real matcher and keeps the original order, so first-match semantics are exact while
the cost of a decision does not grow with the number of rules. Results are memoized per
canonical tool name in a bounded table.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from faramesh.policy.patterns import compile_pattern, is_literal, literal_prefix_segment

T = TypeVar("T")

CACHE_LIMIT = 8192


class RuleIndex(Generic[T]):
    """Ordered items keyed by tool pattern; `lookup(name)` gives those whose pattern matches."""

    def __init__(self, items: Sequence[tuple[str, T]]) -> None:
        self._items = list(items)
        self._matchers: list[Callable[[str], bool]] = [compile_pattern(p) for p, _ in items]
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._by_segment: dict[str, list[int]] = defaultdict(list)
        self._wild: list[int] = []
        for i, (pattern, _) in enumerate(items):
            if is_literal(pattern):
                self._exact[pattern].append(i)
            elif (segment := literal_prefix_segment(pattern)) is not None:
                self._by_segment[segment].append(i)
            else:
                self._wild.append(i)
        self._cache: dict[str, tuple[T, ...]] = {}

    def find(self, name: str) -> tuple[T, ...]:
        """The items whose pattern matches `name`, in their original order (no memo)."""
        segment = name.split("/", 1)[0]
        buckets = [self._exact.get(name, ()), self._by_segment.get(segment, ()), self._wild]
        return tuple(self._items[i][1] for i in heapq.merge(*buckets)
                     if self._matchers[i](name))

    def lookup(self, name: str) -> tuple[T, ...]:
        """`find`, memoized per name in a bounded table."""
        hit = self._cache.get(name)
        if hit is not None:
            return hit
        found = self.find(name)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()  # bounded: hostile tool names cannot grow memory
        self._cache[name] = found
        return found
