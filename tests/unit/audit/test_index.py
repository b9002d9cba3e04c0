"""The indexed record store: filled off the hot path, queryable, rebuildable from the WAL."""

from __future__ import annotations

from pathlib import Path

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
