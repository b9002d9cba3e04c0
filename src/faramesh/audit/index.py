"""The indexed record store: WAL records copied into SQLite off the hot path (stage 10),
so `GET /v1/decisions/{id}`, `status` and `plan` can query them.

One worker thread owns the writing connection and takes records in batches; the daemon
hands records over with `submit` and never waits. After a restart `catch_up` copies the
WAL records the index has not seen, so the index is always rebuildable from the WAL.
The audit issue adds the hash chain and signatures on this same path.

The worker shares the interpreter with the event loop, so it is built to hold the GIL
briefly and rarely: `submit` turns a record into its row (one JSON array) on the loop,
and a batch is inserted by one SQL statement over one JSON array of rows, which SQLite
runs with the GIL released. Row by row (`executemany`), every row released and took back
the GIL, and each hand-over woke a thread: measured, that cost the daemon more CPU per
decision than the decision itself.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
create table if not exists records (
  sequence integer primary key,
  action_id text unique,
  kind text not null,
  time text not null,
  agent_id text,
  tool text,
  effect text,
  code text,
  body blob not null
);
create index if not exists records_time on records(time);
create index if not exists records_agent on records(agent_id, time);
"""


BATCH = 512
INTERVAL_S = 0.05
_CHUNK = 4096  # rows per statement when catching up
# One statement per batch: the rows arrive as one JSON array of arrays (`row_json`); the
# body is the record's JSON text, stored as a blob as before.
_INSERT_JSON = """
insert or ignore into records
select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]'),
       cast(json_extract(value, '$[8]') as blob)
from json_each(?)
"""
_INSERT_ROWS = "insert or ignore into records values (?,?,?,?,?,?,?,?,?)"


def row_json(sequence: int, record: dict[str, Any]) -> bytes:
    """The index row of one record, as a JSON array in column order."""
    get = record.get
    return orjson.dumps([sequence, get("action_id"), get("kind", "decision"), get("time", ""),
                         get("agent_id"), get("tool"), get("effect"), get("code"),
                         orjson.dumps(record).decode()])


class RecordIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._json = _has_json(self._writer)  # else one row per step, as a fallback
        self._pending: deque[bytes] = deque()  # rows (`row_json`) not yet written
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="faramesh-index", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("pragma journal_mode=wal")
        conn.execute("pragma synchronous=normal")
        return conn

    @property
    def last_sequence(self) -> int:
        with contextlib.closing(self._connect()) as conn:
            row = conn.execute("select max(sequence) from records").fetchone()
        return int(row[0] or 0)

    def submit(self, sequence: int | None, record: dict[str, Any]) -> None:
        """Queue one durable record for indexing; returns at once. The worker wakes every
        `INTERVAL_S` or when `BATCH` records wait: waking it per record would make it
        compete with the event loop for the interpreter on every decision."""
        if sequence is None:
            return
        self._pending.append(row_json(sequence, record))  # deque.append is atomic
        if len(self._pending) >= BATCH:
            with self._wake:
                self._wake.notify()

    def catch_up(self, records: Iterable[tuple[int, dict[str, Any]]]) -> int:
        """Index WAL records newer than the index (at start, before serving)."""
        last = self.last_sequence
        rows = [row_json(s, r) for s, r in records if s > last]
        for at in range(0, len(rows), _CHUNK):
            self._write(rows[at:at + _CHUNK])
        return len(rows)

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until everything submitted so far is indexed (tests, shutdown)."""
        with self._wake:
            self._urgent = True
            self._wake.notify_all()
            self._wake.wait_for(lambda: not self._pending and not self._busy, timeout_s)

    _busy = False
    _urgent = False

    def _work(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: len(self._pending) >= BATCH or self._closed
                                    or self._urgent, INTERVAL_S)
                if self._closed and not self._pending:
                    return
                self._urgent = False
                pending = self._pending
                batch = [pending.popleft() for _ in range(len(pending))]  # submit may append
                self._busy = True
            try:
                self._write(batch)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _write(self, rows: list[bytes]) -> None:
        if not rows:
            return
        if self._json:  # one statement: atomic, and the GIL is released once for all rows
            self._writer.execute(_INSERT_JSON, ((b"[" + b",".join(rows) + b"]").decode(),))
            return
        values = [orjson.loads(row) for row in rows]
        for value in values:
            value[-1] = value[-1].encode()  # the body, a blob
        self._writer.execute("begin")
        try:
            self._writer.executemany(_INSERT_ROWS, values)
        except BaseException:
            self._writer.execute("rollback")
            raise
        self._writer.execute("commit")

    def get(self, action_id: str) -> dict[str, Any] | None:
        with contextlib.closing(self._connect()) as conn:
            row = conn.execute("select body from records where action_id = ?",
                               (action_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def since(self, time_iso: str, kind: str = "decision",
              limit: int = 100_000) -> list[dict[str, Any]]:
        with contextlib.closing(self._connect()) as conn:
            rows = conn.execute(
                "select body from records where kind = ? and time >= ? "
                "order by sequence limit ?", (kind, time_iso, limit)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=10)
        self._writer.close()


def _has_json(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has the JSON functions (built in since 3.38, an option before)."""
    try:
        conn.execute("select json_extract('[1]', '$[0]')").fetchone()
    except sqlite3.OperationalError:
        return False
    return True
