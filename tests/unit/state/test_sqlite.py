"""SQLite snapshots of MemoryState: round trip, atomic replace, file mode, restart path."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import tempfile
from collections.abc import Awaitable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.state.memory import MemoryState
from faramesh.state.protocol import HistoryEntry
from faramesh.state.sqlite import (
    load_snapshot,
    save_snapshot,
    snapshot_bytes,
    write_snapshot,
)
from tests.unit.state.test_memory import Action, _actions, _steps, perform

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def populated() -> MemoryState:
    state = MemoryState()
    run(state.kill_switch.engage(None, "all stop", T0))
    run(state.kill_switch.engage("a", "agent stop", T0))
    run(state.sessions.touch("a", "s", T0, purpose="refund", tool="stripe/refund"))
    run(state.sessions.set_phase("a", "s", "review", T0 + timedelta(seconds=1)))
    for i in range(3):
        run(state.history.push("a", "s", HistoryEntry(
            "stripe/refund", T0 + timedelta(seconds=i), {"amount": i, "note": "é"}, f"id{i}"),
            8))
    run(state.budgets.spend("a\x1fdaily\x1fday:2026-11-25", Decimal("12.50"), 1,
                            max_usd=Decimal(100), max_calls=None, expires_at=T0))
    run(state.budgets.spend("a\x1fglobal\x1fglobal", Decimal("0.10"), 1, max_usd=None,
                            max_calls=None))
    run(state.rate_limits.take("a\x1fstripe/*", 5, 1 / 12, T0))
    return state


def test_a_missing_snapshot_loads_as_empty_state_at_sequence_zero(tmp_path: Path) -> None:
    state, seq = load_snapshot(tmp_path / "state.db")
    assert seq == 0 and snapshot_bytes(state, 0) == snapshot_bytes(MemoryState(), 0)


def test_a_snapshot_round_trip_gives_the_same_state_and_sequence(tmp_path: Path) -> None:
    state = populated()
    save_snapshot(tmp_path / "state.db", state, 42)
    loaded, seq = load_snapshot(tmp_path / "state.db")
    assert seq == 42
    assert snapshot_bytes(loaded, 0) == snapshot_bytes(state, 0)
    assert run(loaded.history.recent("a", "s"))[2].args == {"amount": 2, "note": "é"}


def test_a_bucket_is_not_refilled_by_save_and_load(tmp_path: Path) -> None:
    state = MemoryState()
    for _ in range(2):
        run(state.rate_limits.take("k", 2, 0.1, T0))
    save_snapshot(tmp_path / "state.db", state, 1)
    loaded, _ = load_snapshot(tmp_path / "state.db")
    later = T0 + timedelta(seconds=3)
    refused = run(loaded.rate_limits.take("k", 2, 0.1, later))
    assert not refused.allowed
    assert refused.retry_after_s == run(state.rate_limits.take("k", 2, 0.1, later)).retry_after_s


def test_the_snapshot_file_is_private_and_in_wal_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    save_snapshot(path, populated(), 1)
    for file in tmp_path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_snapshot_replaces_the_old_one_entirely(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    save_snapshot(path, populated(), 5)
    save_snapshot(path, MemoryState(), 9)
    loaded, seq = load_snapshot(path)
    assert seq == 9 and snapshot_bytes(loaded, 0) == snapshot_bytes(MemoryState(), 0)


def test_a_write_that_fails_midway_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    save_snapshot(path, populated(), 5)
    doc = json.loads(snapshot_bytes(MemoryState(), 9))
    doc["tables"]["budgets"] = [["k", "1", 1, None], ["k", "2", 1, None]]  # duplicate key
    with pytest.raises(sqlite3.IntegrityError):
        write_snapshot(path, json.dumps(doc).encode())
    loaded, seq = load_snapshot(path)
    assert seq == 5 and snapshot_bytes(loaded, 0) == snapshot_bytes(populated(), 0)


def test_a_snapshot_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    save_snapshot(path, MemoryState(), 1)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match="schema version"):
        load_snapshot(path)


@settings(max_examples=40)
@given(st.lists(st.tuples(_steps, _actions), max_size=40), st.data())
def test_a_snapshot_plus_the_later_ops_gives_the_live_state(
        script: list[tuple[float, Action]], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(script)))
    live = MemoryState()
    perform(live, script[:cut])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        save_snapshot(path, live, cut)
        # The rest of the run starts where the first part ended.
        elapsed = sum(step for step, _ in script[:cut])
        rest = [(elapsed + step if i == 0 else step, action)
                for i, (step, action) in enumerate(script[cut:])]
        ops = perform(live, rest)
        restarted, seq = load_snapshot(path)
    assert seq == cut
    for op in json.loads(json.dumps(ops)):
        restarted.apply(op)
    assert snapshot_bytes(restarted, 0) == snapshot_bytes(live, 0)
