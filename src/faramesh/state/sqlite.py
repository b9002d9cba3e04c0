"""Snapshots of the embedded state (`MemoryState`) in SQLite.

A restart loads the last snapshot and replays the ops of the WAL records written after
its `wal_sequence`. Saving is split in two so the event loop never waits on the disk:
`snapshot_bytes` encodes the state as JSON rows in the caller's thread (consistent,
because no state method runs meanwhile), then `write_snapshot` writes them in one
transaction, safe in a worker thread. The file is created mode 0600 and kept in WAL
journal mode with synchronous=FULL; a crash mid-write leaves the previous snapshot whole.
Times are ISO 8601 text, money decimal text, bucket levels REAL (exact for a float).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import deque
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from faramesh.state.memory import Bucket, Ledger, MemoryState, utc
from faramesh.state.protocol import HistoryEntry, KillState, SessionState

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS kill_switch (agent_id TEXT, reason TEXT NOT NULL,
    since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (agent_id TEXT NOT NULL, session_id TEXT NOT NULL,
    started_at TEXT NOT NULL, last_seen TEXT NOT NULL, call_count INTEGER NOT NULL,
    purpose TEXT, phase TEXT, phase_started_at TEXT, last_tool TEXT,
    PRIMARY KEY (agent_id, session_id));
CREATE TABLE IF NOT EXISTS history (agent_id TEXT NOT NULL, session_id TEXT NOT NULL,
    position INTEGER NOT NULL, tool TEXT NOT NULL, time TEXT NOT NULL, args TEXT NOT NULL,
    action_id TEXT NOT NULL, PRIMARY KEY (agent_id, session_id, position));
CREATE TABLE IF NOT EXISTS budgets (key TEXT PRIMARY KEY, spent_usd TEXT NOT NULL,
    spent_calls INTEGER NOT NULL, expires_at TEXT);
CREATE TABLE IF NOT EXISTS rate_buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL,
    last TEXT NOT NULL, capacity INTEGER NOT NULL, refill_per_s REAL NOT NULL);
"""
# Table -> its INSERT; the order of the columns is the order of `Snapshot`'s tuples.
_INSERTS = {
    "kill_switch": "INSERT INTO kill_switch VALUES (?, ?, ?)",
    "sessions": "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "history": "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?)",
    "budgets": "INSERT INTO budgets VALUES (?, ?, ?, ?)",
    "rate_buckets": "INSERT INTO rate_buckets VALUES (?, ?, ?, ?, ?)",
}
_SELECTS = {
    "kill_switch": "SELECT * FROM kill_switch",
    "sessions": "SELECT * FROM sessions ORDER BY agent_id, session_id",
    "history": "SELECT * FROM history ORDER BY agent_id, session_id, position",
    "budgets": "SELECT * FROM budgets ORDER BY key",
    "rate_buckets": "SELECT * FROM rate_buckets ORDER BY key",
}
_DELETES = {table: f"DELETE FROM {table}" for table in _INSERTS}  # noqa: S608 (constants)

Row = tuple[Any, ...] | list[Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole state as rows (sorted, so equal states give equal rows)."""

    wal_sequence: int
    next_sweep: str | None
    tables: dict[str, list[Row]]


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else utc(datetime.fromisoformat(text))


def snapshot_bytes(state: MemoryState, wal_sequence: int) -> bytes:
    """The state as JSON rows, for `write_snapshot` (run in the event loop's thread)."""
    sessions: list[Row] = [(s.agent_id, s.session_id, _iso(s.started_at), _iso(s.last_seen),
                           s.call_count, s.purpose, s.phase, _iso(s.phase_started_at),
                           s.last_tool)
                          for table in state.session_table.values() for s in table.values()]
    history: list[Row] = [(agent, session, i, e.tool, _iso(e.time),
                           json.dumps(e.args, sort_keys=True, default=str), e.action_id)
                          for (agent, session), ring in state.rings.items()
                          for i, e in enumerate(ring)]
    tables: dict[str, list[Row]] = {
        "kill_switch": [(k.agent_id, k.reason, _iso(k.since)) for k in state.kills.values()],
        "sessions": sessions,
        "history": history,
        "budgets": [(key, str(led.spent_usd), led.spent_calls, _iso(led.expires_at))
                    for key, led in state.ledger.items()],
        "rate_buckets": [(key, b.tokens, _iso(b.last), b.capacity, b.refill_per_s)
                         for key, b in state.buckets.items()],
    }
    for rows in tables.values():
        rows.sort(key=lambda r: tuple("" if v is None else str(v) for v in r))
    return json.dumps({"wal_sequence": wal_sequence, "next_sweep": _iso(state.next_sweep),
                       "tables": tables}, separators=(",", ":")).encode()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)  # autocommit: transactions explicit
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(_SCHEMA)
    return db


def write_snapshot(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the snapshot at `path` by `data` in one transaction (safe in a thread)."""
    path = Path(path)
    doc = json.loads(data)
    snapshot = Snapshot(doc["wal_sequence"], doc["next_sweep"], doc["tables"])
    # Create the file 0600 before SQLite does, and tighten a file that exists; SQLite
    # gives its -wal and -shm files the mode of the database file.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    with closing(_connect(path)) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, rows in snapshot.tables.items():
                db.execute(_DELETES[table])
                db.executemany(_INSERTS[table], rows)
            db.execute("DELETE FROM meta")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("schema_version", str(SCHEMA_VERSION)),
                ("wal_sequence", str(snapshot.wal_sequence)),
                ("next_sweep", snapshot.next_sweep)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def save_snapshot(path: str | os.PathLike[str], state: MemoryState, wal_sequence: int) -> None:
    """Both steps in the caller's thread (for the CLI and tests)."""
    write_snapshot(path, snapshot_bytes(state, wal_sequence))


def read_snapshot(path: str | os.PathLike[str]) -> Snapshot | None:
    """The rows of the snapshot at `path`, or None when there is no file."""
    path = Path(path)
    if not path.exists():
        return None
    with closing(_connect(path)) as db:
        db.execute("BEGIN")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        tables = {table: db.execute(sql).fetchall() for table, sql in _SELECTS.items()}
        db.execute("COMMIT")
    version = meta.get("schema_version")
    if version is not None and version != str(SCHEMA_VERSION):
        raise ValueError(f"state snapshot `{path}` has schema version {version}; "
                         f"this faramesh reads version {SCHEMA_VERSION}")
    return Snapshot(int(meta.get("wal_sequence") or 0), meta.get("next_sweep"), tables)


def load_snapshot(path: str | os.PathLike[str]) -> tuple[MemoryState, int]:
    """The state saved at `path` and the WAL sequence it includes (empty and 0 if none)."""
    snapshot = read_snapshot(path)
    state = MemoryState()
    if snapshot is None:
        return state, 0
    t = snapshot.tables
    for agent_id, reason, since in t["kill_switch"]:
        state.kills[agent_id] = KillState(agent_id, reason, utc(datetime.fromisoformat(since)))
    for row in t["sessions"]:
        agent, session, started, seen, count, purpose, phase, phase_at, tool = row
        state.session_table.setdefault(agent, {})[session] = SessionState(
            agent, session, utc(datetime.fromisoformat(started)),
            utc(datetime.fromisoformat(seen)), count, purpose, phase, _time(phase_at), tool)
    for agent, session, _, tool, time, args, action_id in t["history"]:
        ring = state.rings.setdefault((agent, session), deque())
        ring.append(HistoryEntry(tool, utc(datetime.fromisoformat(time)), json.loads(args),
                                 action_id))
    for key, usd, calls, expires in t["budgets"]:
        state.ledger[key] = Ledger(Decimal(usd), calls, _time(expires))
    for key, tokens, last, capacity, refill in t["rate_buckets"]:
        state.buckets[key] = Bucket(tokens, utc(datetime.fromisoformat(last)), capacity,
                                    refill)
    state.next_sweep = _time(snapshot.next_sweep)
    return state, snapshot.wal_sequence
