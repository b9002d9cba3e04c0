"""Build a real pipeline over a real policy and the embedded state, for stage tests.

The record log here is `ListLog`, an in-memory RecordLog: it stands in for the WAL so
stage tests can read what was recorded and inject a write failure; the WAL itself is
tested against a real file in tests/unit/audit and tests/integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from faramesh.car import Caller, build_car
from faramesh.errors import RecordError
from faramesh.fpl.loader import load_policy
from faramesh.pipeline.call import Env, Settings
from faramesh.pipeline.outcome import Outcome
from faramesh.pipeline.pipeline import Pipeline
from faramesh.pipeline.selectors import SelectorCache
from faramesh.state.memory import MemoryState

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class ListLog:
    durability = "fsync"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail: str | None = None  # set to make every append fail with this reason

    async def append(self, record: Mapping[str, Any]) -> int:
        if self.fail is not None:
            raise RecordError(self.fail)
        self.records.append(dict(record))
        return len(self.records)

    def replay(self) -> Iterator[dict[str, Any]]:
        return iter(list(self.records))

    async def close(self) -> None:
        return None


class Harness:
    def __init__(self, policy_text: str, *, mode: str = "enforce") -> None:
        self.state = MemoryState()
        self.log = ListLog()
        self.now = T0
        self.pipeline = Pipeline(
            Env(state=self.state, log=self.log, settings=Settings(mode=mode),
                clock=lambda: self.now, selectors=SelectorCache()),
            load_policy(policy_text))

    def decide(self, agent: str, tool: str, *, at: timedelta | None = None,
               **fields: Any) -> Outcome:
        if at is not None:
            self.now = T0 + at
        request = {"agent": agent, "tool": tool, **fields}
        car = build_car(request, Caller("inprocess", pid=1, uid=0, gid=0), self.now)
        return asyncio.run(self.pipeline.decide(car))

    def code(self, agent: str, tool: str, **fields: Any) -> str:
        return self.decide(agent, tool, **fields).decision.code.value

    @property
    def last(self) -> dict[str, Any]:
        return self.log.records[-1]
