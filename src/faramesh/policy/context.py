"""The evaluation context: the parts of an action a condition may read, normalized once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

EMPTY: Mapping[str, Any] = {}


class Context:
    """What conditions see. Built once per `evaluate`; never mutated by a condition.

    The evaluator fills the slots directly on its hot path (`_now` included), skipping
    this keyword constructor; both give the same object.
    """

    __slots__ = ("_now", "agent", "args", "http", "model", "principal", "selectors",
                 "session", "tool")

    def __init__(self, *, tool: str, agent: str, args: Mapping[str, Any],
                 principal: Mapping[str, Any] = EMPTY, session: Mapping[str, Any] = EMPTY,
                 selectors: Mapping[str, Any] = EMPTY, http: Mapping[str, Any] = EMPTY,
                 model: str | None = None, now: datetime | None = None) -> None:
        self.tool = tool
        self.agent = agent
        self.args = args
        self.principal = principal
        self.session = session
        self.selectors = selectors
        self.http = http
        self.model = model
        self._now = now

    @property
    def now(self) -> datetime:
        """The action's time; the clock is read only when a condition asks, and only once."""
        now = self._now
        if now is None:
            now = self._now = datetime.now(UTC)
        return now


def parse_time(value: object) -> datetime | None:
    """A datetime, an ISO-8601 string, or epoch seconds -> an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)  # ISO 8601, `Z` included (Python 3.11)
        except ValueError:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            dt = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    tz = dt.tzinfo
    if tz is UTC:
        return dt
    return dt.replace(tzinfo=UTC) if tz is None else dt.astimezone(UTC)
