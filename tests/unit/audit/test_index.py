"""The indexed record store: filled off the hot path, queryable, rebuildable from the WAL."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import orjson
import pytest

from faramesh.audit import index as index_module
from faramesh.audit.index import RecordIndex


def record(n: int, time: str = "2026-11-25T10:00:00+00:00") -> dict[str, object]:
    return {"kind": "decision", "action_id": f"A{n:03d}", "time": time, "agent_id": "bot",
            "tool": "t", "effect": "PERMIT", "code": "RULE_PERMIT", "args": {"n": n}}


def test_submitted_records_are_found_by_action_id(tmp_path: Path) -> None:
    index = RecordIndex(tmp_path / "records.db")
    try:
        for n in range(1, 51):
            index.submit(n, record(n))
        index.flush()
        assert index.get("A007") == record(7)
        assert index.get("nope") is None
        assert index.last_sequence == 50
    finally:
        index.close()


def test_catch_up_indexes_only_what_the_index_has_not_seen(tmp_path: Path) -> None:
    index = RecordIndex(tmp_path / "records.db")
    try:
        index.submit(1, record(1))
        index.flush()
        added = index.catch_up([(1, record(1)), (2, record(2)), (3, record(3))])
        assert added == 2
        assert index.last_sequence == 3
    finally:
        index.close()


def test_since_returns_decisions_from_a_time_on_in_order(tmp_path: Path) -> None:
    index = RecordIndex(tmp_path / "records.db")
    try:
        index.catch_up([(1, record(1, "2026-11-24T09:00:00+00:00")),
                        (2, record(2, "2026-11-25T09:00:00+00:00")),
                        (3, {"kind": "policy", "time": "2026-11-25T09:30:00+00:00"}),
                        (4, record(4, "2026-11-25T10:00:00.5+00:00"))])
        found = index.since("2026-11-25T00:00:00+00:00")
        assert [r["action_id"] for r in found] == ["A002", "A004"]
    finally:
        index.close()


def test_the_index_file_is_private(tmp_path: Path) -> None:
    index = RecordIndex(tmp_path / "records.db")
    index.close()
    assert (tmp_path / "records.db").stat().st_mode & 0o777 == 0o600


def stored_rows(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("select *, typeof(body) from records order by sequence").fetchall()


def test_a_batch_is_stored_as_rows_with_the_record_bytes_as_body(tmp_path: Path) -> None:
    odd = {"kind": "policy", "time": "2026-11-25T10:00:00+00:00", "source": 'a "b"\\\n\x01é',
           "big": 2**62, "ratio": 0.1}
    index = RecordIndex(tmp_path / "records.db")
    try:
        index.submit(1, record(1))
        index.submit(2, odd)
        index.submit(None, record(3))  # not written: nothing to index
        index.flush()
    finally:
        index.close()
    assert stored_rows(tmp_path / "records.db") == [
        (1, "A001", "decision", "2026-11-25T10:00:00+00:00", "bot", "t", "PERMIT",
         "RULE_PERMIT", orjson.dumps(record(1)), "blob"),
        (2, None, "policy", "2026-11-25T10:00:00+00:00", None, None, None, None,
         orjson.dumps(odd), "blob")]


def test_without_sqlite_json_functions_rows_are_written_one_by_one_alike(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_has_json", lambda conn: False)
    stores = []
    for name in ("rows", "json"):
        if name == "json":
            monkeypatch.undo()
        index = RecordIndex(tmp_path / f"{name}.db")
        try:
            index.catch_up([(n, record(n)) for n in range(1, 21)])
            index.submit(21, record(21))
            index.flush()
            assert index.get("A021") == record(21)
        finally:
            index.close()
        stores.append(stored_rows(tmp_path / f"{name}.db"))
    assert stores[0] == stores[1] and len(stores[0]) == 21
