"""The evaluation context: the parts of an action a condition may read, normalized once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

EMPTY: Mapping[str, Any] = {}


class Context:
    """What conditions see. Built once per `evaluate`; never mutated by a condition."""

    __slots__ = ("agent", "args", "http", "model", "now", "principal", "selectors",
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
        self.now = now or datetime.now(UTC)


def parse_time(value: object) -> datetime | None:
    """A datetime, an ISO-8601 string, or epoch seconds -> an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            dt = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
