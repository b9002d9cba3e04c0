"""The hot-path write-ahead log: framed records appended to segment files, group-committed.

Step 9 appends each decision's record here and answers only once it is as durable as
`durability` promises (DESIGN.md section 2, invariant 4). The audit issue builds the hash
chain, signatures and the indexed store from these files, off the hot path.

Frame, little-endian: a 20-byte header, then the payload (the record as orjson bytes).

    offset  size  field
    0       2     magic b"FW"
    2       1     version, 1
    3       1     flags, 0
    4       4     payload length (at most MAX_RECORD_BYTES)
    8       8     sequence (1, 2, 3, ... across segments and restarts)
    16      4     zlib.crc32 of header bytes 0..15 followed by the payload

Segments are `wal-<first sequence, 20 digits>.log`; a new one starts once a segment
would grow past `segment_bytes`, so retention can drop whole files.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from faramesh.errors import RecordError

MAGIC: Final = b"FW"
VERSION: Final = 1
_HEAD = struct.Struct("<2sBBIQ")  # magic, version, flags, length, sequence: crc-covered
_CRC = struct.Struct("<I")
HEADER_BYTES: Final = _HEAD.size + _CRC.size
MAX_RECORD_BYTES: Final = 4 * 1024 * 1024
SEGMENT_BYTES: Final = 64 * 1024 * 1024
DURABILITIES: Final = ("fsync", "os")
_OPEN_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening the log found: intact records and the torn tail cut off, if any."""

    records_ok: int
    bytes_cut: int
    reason: str | None  # why bytes were cut; None when the log was intact


def encode_frame(sequence: int, payload: bytes) -> bytes:
    head = _HEAD.pack(MAGIC, VERSION, 0, len(payload), sequence)
    return head + _CRC.pack(zlib.crc32(payload, zlib.crc32(head))) + payload


def _frame_at(buf: memoryview, pos: int) -> tuple[int, int, int] | str:
    """The frame at `pos` as (sequence, payload start, end), or why there is none."""
    if len(buf) - pos < HEADER_BYTES:
        return "partial header"
    magic, version, _flags, length, sequence = _HEAD.unpack_from(buf, pos)
    if magic != MAGIC or version != VERSION:
        return "bad magic"
    if length > MAX_RECORD_BYTES:
        return "length out of bounds"
    start = pos + HEADER_BYTES
    if start + length > len(buf):
        return "partial payload"
    (crc,) = _CRC.unpack_from(buf, pos + _HEAD.size)
    if zlib.crc32(buf[start:start + length], zlib.crc32(buf[pos:pos + _HEAD.size])) != crc:
        return "checksum mismatch"
    return sequence, start, start + length


def _has_frame(buf: bytes, pos: int) -> bool:
    """Whether any intact frame starts at or after `pos` (a torn tail has none). A record
    cannot fake one: every header holds a zero byte, which orjson never writes raw."""
    view, at = memoryview(buf), buf.find(MAGIC, pos)
    while at != -1:
        if not isinstance(_frame_at(view, at), str):
            return True
        at = buf.find(MAGIC, at + 1)
    return False


def _segments(directory: Path) -> list[tuple[int, Path]]:
    found = ((p.name[4:-4], p) for p in directory.glob("wal-*.log"))
    return sorted((int(n), p) for n, p in found if len(n) == 20 and n.isdigit())


def _corrupt(path: Path, pos: int, after: int, why: str) -> RecordError:
    return RecordError(f"record log corrupt in `{path.name}` at offset {pos}, after sequence "
                       f"{after}: {why}; hint: run `faramesh audit verify`")


def _recover(directory: Path, dir_fd: int) -> tuple[list[tuple[int, Path]], int, Recovery]:
    """Validate every frame; cut a torn tail, refuse corruption that good frames follow."""
    segments = _segments(directory)
    expected, records = (segments[0][0] if segments else 1), 0
    for i, (first, path) in enumerate(segments):
        buf = path.read_bytes()
        if first != expected:
            raise _corrupt(path, 0, expected - 1, f"segment should start at {expected}")
        view, pos = memoryview(buf), 0
        while pos < len(buf):
            found = _frame_at(view, pos)
            if isinstance(found, str):
                later = segments[i + 1:]
                if _has_frame(buf, pos + 1) or any(_has_frame(p.read_bytes(), 0)
                                                   for _, p in later):
                    raise _corrupt(path, pos, expected - 1, found)
                cut = len(buf) - pos + sum(p.stat().st_size for _, p in later)
                with open(path, "r+b") as f:
                    f.truncate(pos)
                    os.fsync(f.fileno())
                for _, p in later:
                    p.unlink()
                os.fsync(dir_fd)
                reason = f"{found} at offset {pos} of `{path.name}`"
                return segments[:i + 1], expected, Recovery(records, cut, reason)
            sequence, _, end = found
            if sequence != expected:
                raise _corrupt(path, pos, expected - 1, f"sequence {sequence} out of order")
            expected, records, pos = expected + 1, records + 1, end
    return segments, expected, Recovery(records, 0, None)


class WAL:
    """An append-only record log; see the module docstring for the file format.

    Appends run on the event loop thread, one `os.write` each, so file order is call order.
    A flush is `sync` (fdatasync: on ext4 it also flushes the size change an append makes).

    "fsync" mode: an append returns once a flush that started after its write is done.
    The appends of one loop iteration are committed together at its end (`_commit`): a
    lone record is flushed right there on the loop thread, which costs no thread wake-up
    in either direction; several are handed to the flusher thread, so the loop goes on
    deciding while the disk works, and every waiter that flush covers is released by one
    wake-up of the loop. Records appended while a flush is in flight wait for the next.
    "os" mode: appends return after the write; the flusher thread starts a flush at most
    `flush_interval_s` after the previous one.
    Any write or flush error makes the log `degraded`: that append and every later one
    raise `RecordError`. A record whose flush failed may still be in the file.
    """

    def __init__(self, directory: Path, *, durability: str = "fsync",
                 flush_interval_s: float = 0.005, segment_bytes: int = SEGMENT_BYTES,
                 write: Callable[[int, memoryview], int] = os.write,
                 sync: Callable[[int], None] = os.fdatasync) -> None:
        """Open (creating, mode 0700) the log in `directory`, cutting a torn tail.
        `write` and `sync` are replaceable so tests can inject failures and count flushes."""
        if durability not in DURABILITIES:
            raise ValueError(f"durability must be one of {DURABILITIES}, not {durability!r}")
        self.durability = durability
        self._dir_fd, self._fd, self._path, self._next, self.recovery = _open_files(directory)
        self.unflushed_window_s = flush_interval_s if durability == "os" else 0.0
        self.last_flush_at: float | None = None  # time.time() of the last completed flush
        self.flush_count = 0
        self.degraded_reason: str | None = None
        self._dir, self._offset = directory, os.fstat(self._fd).st_size
        self._written = self._synced = self._next - 1
        self._segment_bytes, self._write, self._sync = segment_bytes, write, sync
        self._pending: deque[tuple[int, asyncio.Future[int]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commit_due = False  # fsync mode: a `_commit` is scheduled on the loop
        self._flushing = False  # fsync mode: the flusher thread has a flush in flight
        self._lock = threading.Lock()  # guards _fd and _retired against the flusher
        self._retired: list[int] = []  # finished segments, flushed and closed by the flusher
        self._dirty, self._stop = threading.Event(), threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._flush_loop, name="faramesh-wal",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, directory: Path, **options: Any) -> WAL:
        """`WAL(directory, **options)`, the name the daemon opens it by."""
        return cls(directory, **options)

    @property
    def degraded(self) -> bool:
        return self.degraded_reason is not None

    @property
    def last_sequence(self) -> int:
        """The sequence of the last record written (0 for an empty log)."""
        return self._written

    async def append(self, record: Mapping[str, Any]) -> int:
        sequence = self._write_frame(record)
        if self.durability == "fsync" and sequence > self._synced:
            loop = self._loop = asyncio.get_running_loop()
            waiter: asyncio.Future[int] = loop.create_future()
            self._pending.append((sequence, waiter))
            if not self._commit_due:
                self._commit_due = True
                loop.call_soon(self._commit)
            return await waiter
        return sequence

    def _commit(self) -> None:
        """fsync mode, on the loop, after the appends of one loop iteration: flush them."""
        self._commit_due = False
        if self._flushing or not self._pending or self._closed \
                or self.degraded_reason is not None:
            return  # a flush in flight commits the rest when it ends (`_flushed`)
        if len(self._pending) == 1 and not self._retired:
            try:
                self._flush()
            except OSError as exc:
                self._degrade(exc)
                self._fail_pending()
                return
            self._release()
        else:
            self._flushing = True
            self._dirty.set()

    def _flushed(self) -> None:
        """fsync mode, on the loop: the flusher thread's flush ended."""
        self._flushing = False
        self._release()
        if self._pending:
            self._commit()

    def _write_frame(self, record: Mapping[str, Any]) -> int:
        if self._closed:
            raise RecordError("record log is closed")
        if self.degraded_reason is not None:
            raise RecordError(self.degraded_reason)
        try:
            payload = orjson.dumps(record)
        except TypeError as exc:
            raise RecordError(f"record is not JSON-ready: {exc}") from None
        if len(payload) > MAX_RECORD_BYTES:
            raise RecordError(f"record of {len(payload)} bytes is over the limit of "
                              f"{MAX_RECORD_BYTES}; hint: store large arguments by digest")
        sequence, done = self._next, 0
        frame = memoryview(encode_frame(sequence, payload))
        try:
            if self._offset and self._offset + len(frame) > self._segment_bytes:
                self._rotate(sequence)
            while done < len(frame):  # one write, unless the kernel takes part of it
                written = self._write(self._fd, frame[done:])
                if written <= 0:
                    raise OSError(errno.EIO, "write made no progress")
                done += written
        except OSError as exc:
            self.degraded_reason = _failure(exc, "writing", self._path.name)
            log.error("record log degraded: %s", self.degraded_reason)
            if done:
                try:  # no half frame for later appends to follow
                    os.ftruncate(self._fd, self._offset)
                except OSError:
                    log.exception("record log: partial frame left for the next open to cut")
            raise RecordError(self.degraded_reason) from exc
        self._offset, self._next, self._written = self._offset + done, sequence + 1, sequence
        if self.durability == "os" and not self._dirty.is_set():
            self._dirty.set()
        return sequence

    def _rotate(self, first_sequence: int) -> None:
        path = self._dir / _segment_name(first_sequence)
        fd = os.open(path, _OPEN_FLAGS, 0o600)
        with self._lock:
            self._retired.append(self._fd)
            self._fd = fd
        self._path, self._offset = path, 0

    def _flush_loop(self) -> None:
        last_start = 0.0
        while True:
            self._dirty.wait()
            self._dirty.clear()
            if self.durability == "os" and not self._stop.is_set():
                self._stop.wait(last_start + self.unflushed_window_s - time.monotonic())
            last_start = time.monotonic()
            asked = self._flushing  # set by `_commit` before it woke us
            if self.degraded_reason is None:
                try:
                    self._flush()
                except OSError as exc:
                    self._degrade(exc)
                    self._wake(self._fail_pending)
                    return
            if asked:
                self._wake(self._flushed)
            if self._stop.is_set() and (self._written == self._synced
                                        or self.degraded_reason is not None):
                return

    def _flush(self) -> None:
        """Flush every record written so far (and finish retired segments), on whichever
        thread holds the flush: the flusher, or the loop in fsync mode when the flusher
        is idle. Raises OSError."""
        with self._lock:  # an fsync that starts after a write covers it
            target, fd = self._written, self._fd
            retired, self._retired = self._retired, []
        if target <= self._synced and not retired:  # nothing unflushed: no flush
            return
        for old in retired:
            self._sync(old)
        if retired:
            os.fsync(self._dir_fd)  # the new segment's directory entry
        self._sync(fd)
        for old in retired:
            os.close(old)
        self._synced, self.last_flush_at = target, time.time()
        self.flush_count += 1

    def _degrade(self, exc: OSError) -> None:
        self.degraded_reason = _failure(exc, "flushing", self._path.name)
        log.error("record log degraded: %s", self.degraded_reason)

    def _wake(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and self.durability == "fsync":
            with contextlib.suppress(RuntimeError):  # a closed loop: no one waits any more
                loop.call_soon_threadsafe(callback)

    def _release(self) -> None:
        pending, synced = self._pending, self._synced
        while pending and pending[0][0] <= synced:
            sequence, waiter = pending.popleft()
            if not waiter.done():
                waiter.set_result(sequence)

    def _fail_pending(self) -> None:
        self._release()  # flushed before the failure: durable
        while self._pending:
            _, waiter = self._pending.popleft()
            if not waiter.done():
                waiter.set_exception(RecordError(self.degraded_reason or "record log is closed"))

    def entries(self, after_sequence: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """(sequence, record) for every record after `after_sequence`, oldest first, as
        written when iteration starts; usable while the log is open."""
        upto, segments = self._written, _segments(self._dir)
        for i, (_, path) in enumerate(segments):
            if i + 1 < len(segments) and segments[i + 1][0] <= after_sequence + 1:
                continue
            buf = path.read_bytes()
            view, pos, sequence = memoryview(buf), 0, 0
            while pos < len(buf) and sequence < upto:
                found = _frame_at(view, pos)
                if isinstance(found, str):
                    raise _corrupt(path, pos, sequence, found)
                sequence, start, pos = found
                if sequence > upto:
                    return
                if sequence > after_sequence:
                    yield sequence, orjson.loads(view[start:pos])

    def replay(self, after_sequence: int = 0) -> Iterator[dict[str, Any]]:
        for _, record in self.entries(after_sequence):
            yield record

    async def close(self) -> None:
        """Flush what was written, stop the flusher and close the files. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._dirty.set()
        await asyncio.to_thread(self._thread.join)
        self._fail_pending()  # releases what the last flush covered, fails the rest
        for fd in (*self._retired, self._fd, self._dir_fd):
            os.close(fd)


def _open_files(directory: Path) -> tuple[int, int, Path, int, Recovery]:
    """Lock the directory, recover its segments, open the last for appending."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise RecordError(_failure(exc, "opening", directory.name)) from exc
    try:
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecordError(f"record log `{directory}` is open in another process; "
                              "hint: stop the other daemon") from None
        segments, next_sequence, recovery = _recover(directory, dir_fd)
        path = segments[-1][1] if segments else directory / _segment_name(next_sequence)
        fd = os.open(path, _OPEN_FLAGS, 0o600)
        if not segments:
            os.fsync(dir_fd)
    except BaseException as exc:
        os.close(dir_fd)
        if isinstance(exc, OSError):
            raise RecordError(_failure(exc, "opening", directory.name)) from exc
        raise
    if recovery.reason is not None:
        log.warning("record log: cut %d bytes after %d intact records (%s)",
                    recovery.bytes_cut, recovery.records_ok, recovery.reason)
    return dir_fd, fd, path, next_sequence, recovery


def _segment_name(first_sequence: int) -> str:
    return f"wal-{first_sequence:020d}.log"


def _failure(exc: OSError, doing: str, name: str) -> str:
    code = errno.errorcode.get(exc.errno or 0, "EIO")
    return (f"record log unwritable: `{code}` ({exc.strerror}) {doing} `{name}`; "
            "hint: free space or repair the disk, then restart the daemon")
