"""The hot-path WAL: framing, sequences, both durability modes, group commit, recovery of a
torn tail, refusal of mid-file corruption, degradation on I/O errors, segments.

Write and flush failures are injected through `WAL.open(write=..., sync=...)`: the tests run
as root, so a read-only chmod or a full-disk quota would not stop the writes.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from faramesh.audit.wal import HEADER_BYTES, MAX_RECORD_BYTES, WAL, encode_frame
from faramesh.errors import RecordError

T = TypeVar("T")
WAIT_S = 10.0


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(make(), WAIT_S)
    return asyncio.run(bounded())


def record(i: int, pad: int = 50) -> dict[str, Any]:
    return {"kind": "decision", "n": i, "pad": "x" * pad}


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("wal-*.log"))


def reopen(directory: Path) -> tuple[WAL, list[dict[str, Any]]]:
    """Open, read everything back and close again: (the closed log, its records)."""
    wal = WAL.open(directory)
    records = list(wal.replay())
    run(wal.close)
    return wal, records


def write_log(directory: Path, count: int) -> list[int]:
    """`count` records through the WAL; the end offset of each frame."""
    async def go() -> None:
        wal = WAL.open(directory)
        for i in range(count):
            await wal.append(record(i))
        await wal.close()
    run(go)
    ends, pos = [], 0
    for i in range(count):
        pos += HEADER_BYTES + len(orjson.dumps(record(i)))
        ends.append(pos)
    return ends


def test_records_come_back_in_order_with_increasing_sequences(tmp_path: Path) -> None:
    async def go() -> tuple[list[int], list[dict[str, Any]], list[int]]:
        wal = WAL.open(tmp_path)
        seqs = [await wal.append(record(i)) for i in range(5)]
        replayed = list(wal.replay())  # while the log is open
        after = [seq for seq, _ in wal.entries(after_sequence=3)]
        await wal.close()
        return seqs, replayed, after

    seqs, replayed, after = run(go)
    assert seqs == [1, 2, 3, 4, 5]
    assert replayed == [record(i) for i in range(5)]
    assert after == [4, 5]


def test_sequences_continue_after_reopen(tmp_path: Path) -> None:
    write_log(tmp_path, 3)

    async def go() -> tuple[int, int]:
        wal = WAL.open(tmp_path)
        before = wal.last_sequence
        seq = await wal.append(record(3))
        await wal.close()
        return before, seq

    assert run(go) == (3, 4)
    assert reopen(tmp_path)[0].recovery.records_ok == 4


def test_directory_and_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "wal"
    write_log(directory, 1)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert [p.stat().st_mode & 0o777 for p in segment_files(directory)] == [0o600]


def test_fsync_mode_answers_only_after_a_flush_that_covers_the_record(tmp_path: Path) -> None:
    flushed_sizes: list[int] = []

    def sync(fd: int) -> None:
        flushed_sizes.append(os.fstat(fd).st_size)
        os.fdatasync(fd)

    async def go() -> None:
        wal = WAL.open(tmp_path, sync=sync)
        for i in range(3):
            await wal.append(record(i))
            assert flushed_sizes[-1] == segment_files(tmp_path)[0].stat().st_size
        assert wal.last_flush_at is not None and wal.unflushed_window_s == 0.0
        await wal.close()

    run(go)


def test_an_idle_log_never_flushes(tmp_path: Path) -> None:
    calls: list[int] = []
    wal = WAL.open(tmp_path, sync=calls.append)
    run(wal.close)
    assert calls == [] and wal.flush_count == 0


def test_concurrent_appends_share_one_flush(tmp_path: Path) -> None:
    gate, calls = threading.Event(), []

    def sync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:  # hold the first flush until every append has written
            assert gate.wait(WAIT_S)
        os.fdatasync(fd)

    wakeups: list[object] = []

    async def go() -> list[int]:
        loop = asyncio.get_running_loop()
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counted(callback: Callable[..., object], *args: object) -> asyncio.Handle:
            if getattr(callback, "__self__", None) is wal:  # not to_thread's own wake-ups
                wakeups.append(callback)
            return call_soon_threadsafe(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        wal = WAL.open(tmp_path, sync=sync)
        tasks = [asyncio.create_task(wal.append(record(i))) for i in range(100)]
        await asyncio.sleep(0)  # each task runs up to its wait: all 100 are written
        assert wal.last_sequence == 100
        gate.set()
        seqs = await asyncio.gather(*tasks)
        await wal.close()
        return seqs

    assert run(go) == list(range(1, 101))
    assert len(calls) <= 3
    assert len(wakeups) <= len(calls)  # one wake-up of the loop per flush, not per record


def test_a_lone_append_is_flushed_on_the_loop_without_waking_the_flusher(
        tmp_path: Path) -> None:
    flushed_on: list[threading.Thread] = []

    def sync(fd: int) -> None:
        flushed_on.append(threading.current_thread())
        os.fdatasync(fd)

    async def go() -> None:
        wal = WAL.open(tmp_path, sync=sync)
        for i in range(3):
            assert await wal.append(record(i)) == i + 1
            assert wal.flush_count == i + 1  # answered after its own flush
        await wal.close()

    run(go)
    assert flushed_on == [threading.main_thread()] * 3


def test_a_record_written_while_a_flush_is_in_flight_waits_for_the_next(
        tmp_path: Path) -> None:
    started, gate = threading.Event(), threading.Event()
    calls: list[tuple[bool, int]] = []  # (on the loop thread, file size flushed)

    def sync(fd: int) -> None:
        calls.append((threading.current_thread() is threading.main_thread(),
                      os.fstat(fd).st_size))
        if len(calls) == 1:
            started.set()
            assert gate.wait(WAIT_S)
        os.fdatasync(fd)

    async def go() -> None:
        wal = WAL.open(tmp_path, sync=sync)
        batch = [asyncio.create_task(wal.append(record(i))) for i in range(2)]
        assert await asyncio.to_thread(started.wait, WAIT_S)  # the flusher holds them
        late = asyncio.create_task(wal.append(record(2)))
        for _ in range(5):  # the late append writes and commits: nothing to start yet
            await asyncio.sleep(0)
        assert wal.last_sequence == 3 and not late.done() and len(calls) == 1
        gate.set()
        assert await late == 3
        assert await asyncio.gather(*batch) == [1, 2]
        await wal.close()

    run(go)
    (batch_on_loop, _), (late_on_loop, late_size) = calls
    assert not batch_on_loop and late_on_loop  # two records: the flusher; one: the loop
    assert late_size == segment_files(tmp_path)[0].stat().st_size


def test_a_failed_flush_on_the_loop_fails_the_append_and_close_returns(
        tmp_path: Path) -> None:
    def sync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    async def go() -> WAL:
        wal = WAL.open(tmp_path, sync=sync)
        with pytest.raises(RecordError) as caught:
            await wal.append(record(0))
        assert caught.value.code == "RECORD_UNWRITABLE"
        with pytest.raises(RecordError):
            await wal.append(record(1))
        await wal.close()
        return wal

    assert run(go).degraded


def test_os_mode_answers_before_the_flush_and_flushes_within_the_window(
        tmp_path: Path) -> None:
    gate, flushed = threading.Event(), threading.Event()

    def sync(fd: int) -> None:
        assert gate.wait(WAIT_S)
        os.fdatasync(fd)
        flushed.set()

    async def go() -> WAL:
        wal = WAL.open(tmp_path, durability="os", flush_interval_s=0.001, sync=sync)
        assert await wal.append(record(0)) == 1  # the flush is still held at the gate
        assert wal.flush_count == 0 and wal.unflushed_window_s == 0.001
        gate.set()
        assert await asyncio.to_thread(flushed.wait, WAIT_S)  # no further append needed
        await wal.close()
        return wal

    wal = run(go)
    assert wal.flush_count >= 1 and wal.last_flush_at is not None


def test_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        WAL.open(tmp_path, durability="never")


@pytest.mark.parametrize("tail", [
    pytest.param(lambda f: f[:HEADER_BYTES - 5], id="half-header"),
    pytest.param(lambda f: f[:HEADER_BYTES + 10], id="half-payload"),
    pytest.param(lambda f: f[:-1] + bytes([f[-1] ^ 0xFF]), id="bad-checksum"),
    pytest.param(lambda f: bytes(len(f)), id="zeros"),
    pytest.param(lambda f: b"\x07garbage\x00" * 7, id="garbage"),
])
def test_a_torn_tail_is_cut_at_the_last_good_frame_and_reported(
        tmp_path: Path, tail: Callable[[bytes], bytes]) -> None:
    ends = write_log(tmp_path, 3)
    junk = tail(encode_frame(4, orjson.dumps(record(3))))
    with segment_files(tmp_path)[0].open("ab") as f:
        f.write(junk)

    wal = WAL.open(tmp_path)
    assert (wal.recovery.records_ok, wal.recovery.bytes_cut) == (3, len(junk))
    assert wal.recovery.reason is not None and f"offset {ends[-1]}" in wal.recovery.reason
    assert segment_files(tmp_path)[0].stat().st_size == ends[-1]

    async def go() -> int:
        seq = await wal.append(record(3))
        await wal.close()
        return seq

    assert run(go) == 4
    reopened, records = reopen(tmp_path)
    assert reopened.recovery.bytes_cut == 0 and reopened.recovery.reason is None
    assert records == [record(i) for i in range(4)]


def test_an_intact_log_reports_nothing_cut(tmp_path: Path) -> None:
    write_log(tmp_path, 2)
    recovery = reopen(tmp_path)[0].recovery
    assert (recovery.records_ok, recovery.bytes_cut, recovery.reason) == (2, 0, None)


def test_corruption_followed_by_good_frames_is_not_repaired(tmp_path: Path) -> None:
    ends = write_log(tmp_path, 3)
    path = segment_files(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[ends[0] + HEADER_BYTES + 3] ^= 0x01  # one bit of record 2's payload
    path.write_bytes(bytes(data))

    with pytest.raises(RecordError) as caught:
        WAL.open(tmp_path)
    assert caught.value.code == "RECORD_UNWRITABLE"
    assert f"offset {ends[0]}" in str(caught.value) and "after sequence 1" in str(caught.value)
    assert path.read_bytes() == bytes(data)  # left for `faramesh audit verify`


def test_a_frame_out_of_sequence_is_refused(tmp_path: Path) -> None:
    ends = write_log(tmp_path, 2)
    with segment_files(tmp_path)[0].open("ab") as f:
        f.write(encode_frame(7, orjson.dumps(record(2))))
    with pytest.raises(RecordError) as caught:
        WAL.open(tmp_path)
    assert f"offset {ends[-1]}" in str(caught.value)


def test_a_torn_segment_followed_by_a_good_segment_is_refused(tmp_path: Path) -> None:
    async def go() -> None:
        wal = WAL.open(tmp_path, segment_bytes=300)
        for i in range(6):
            await wal.append(record(i))
        await wal.close()

    run(go)
    first = segment_files(tmp_path)[0]
    first.write_bytes(first.read_bytes()[:-4])
    with pytest.raises(RecordError):
        WAL.open(tmp_path)


def test_a_tail_torn_across_segments_is_cut_when_nothing_good_follows(tmp_path: Path) -> None:
    async def go() -> None:
        wal = WAL.open(tmp_path, segment_bytes=300)
        for i in range(6):
            await wal.append(record(i))
        await wal.close()

    run(go)
    first, *later = segment_files(tmp_path)
    kept = first.read_bytes()[:-4]
    first.write_bytes(kept)
    for path in later:
        path.write_bytes(b"\x07garbage" * 3)

    wal, records = reopen(tmp_path)
    assert wal.recovery.bytes_cut > 0 and wal.recovery.reason is not None
    assert segment_files(tmp_path) == [first] and len(records) == wal.recovery.records_ok
    assert wal.last_sequence == len(records)


def test_segments_rotate_by_size_and_replay_crosses_them(tmp_path: Path) -> None:
    size = HEADER_BYTES + len(orjson.dumps(record(0)))

    async def go(count: int, start: int) -> list[int]:
        wal = WAL.open(tmp_path, segment_bytes=3 * size)
        seqs = [await wal.append(record(i)) for i in range(start, start + count)]
        await wal.close()
        return seqs

    assert run(lambda: go(7, 0)) == list(range(1, 8))
    assert run(lambda: go(3, 7)) == [8, 9, 10]
    assert [p.name for p in segment_files(tmp_path)] == [
        f"wal-{n:020d}.log" for n in (1, 4, 7, 10)]
    wal = WAL.open(tmp_path)
    assert list(wal.replay()) == [record(i) for i in range(10)]
    assert [seq for seq, _ in wal.entries(after_sequence=5)] == [6, 7, 8, 9, 10]
    assert [seq for seq, _ in wal.entries(after_sequence=10)] == []
    run(wal.close)


def test_an_oversized_record_is_refused_without_writing(tmp_path: Path) -> None:
    async def go() -> int:
        wal = WAL.open(tmp_path)
        with pytest.raises(RecordError, match="over the limit"):
            await wal.append({"blob": "x" * MAX_RECORD_BYTES})
        with pytest.raises(RecordError, match="JSON"):
            await wal.append({"thing": object()})
        assert not wal.degraded
        seq = await wal.append(record(0))
        await wal.close()
        return seq

    assert run(go) == 1  # no sequence was spent on the refused records


class FailingWrite:
    """os.write until `fail` is set; then `partial` bytes of the next frame, then `error`."""

    def __init__(self, error: int, partial: int) -> None:
        self.error, self.partial, self.fail = error, partial, False

    def __call__(self, fd: int, data: memoryview) -> int:
        if not self.fail:
            return os.write(fd, data)
        if self.partial:
            written, self.partial = os.write(fd, data[:self.partial]), 0
            return written
        raise OSError(self.error, os.strerror(self.error))


@pytest.mark.parametrize(("error", "partial"), [
    (errno.ENOSPC, 7), (errno.ENOSPC, HEADER_BYTES + 3), (errno.EROFS, 0), (errno.EIO, 0)])
def test_a_failed_write_degrades_the_log_and_leaves_no_half_frame(
        tmp_path: Path, error: int, partial: int) -> None:
    write = FailingWrite(error, partial)

    async def go() -> WAL:
        wal = WAL.open(tmp_path, write=write)
        await wal.append(record(0))
        await wal.append(record(1))
        size = segment_files(tmp_path)[0].stat().st_size
        write.fail = True
        with pytest.raises(RecordError) as caught:
            await wal.append(record(2))
        assert caught.value.code == "RECORD_UNWRITABLE"
        assert f"`{errno.errorcode[error]}`" in str(caught.value)
        assert wal.degraded and wal.degraded_reason == str(caught.value)
        assert segment_files(tmp_path)[0].stat().st_size == size
        write.fail = False  # the disk recovers: the log stays degraded until reopened
        with pytest.raises(RecordError):
            await wal.append(record(3))
        await wal.close()
        return wal

    run(go)
    reopened, records = reopen(tmp_path)
    assert (reopened.recovery.records_ok, reopened.recovery.bytes_cut) == (2, 0)
    assert records == [record(0), record(1)] and reopened.last_sequence == 2


def test_a_short_write_that_completes_is_not_a_failure(tmp_path: Path) -> None:
    def write(fd: int, data: memoryview) -> int:
        return os.write(fd, data[:max(1, len(data) // 2)])

    async def go() -> int:
        wal = WAL.open(tmp_path, write=write)
        seq = await wal.append(record(0))
        await wal.close()
        return seq

    assert run(go) == 1
    assert reopen(tmp_path)[1] == [record(0)]


def test_a_failed_flush_fails_every_waiting_append(tmp_path: Path) -> None:
    def sync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    async def go() -> None:
        wal = WAL.open(tmp_path, sync=sync)
        results = await asyncio.gather(*(wal.append(record(i)) for i in range(10)),
                                       return_exceptions=True)
        assert all(isinstance(r, RecordError) for r in results)
        assert wal.degraded and "`EIO`" in (wal.degraded_reason or "")
        with pytest.raises(RecordError):
            await wal.append(record(10))
        await wal.close()

    run(go)


def test_appends_after_close_are_refused(tmp_path: Path) -> None:
    async def go() -> None:
        wal = WAL.open(tmp_path)
        await wal.close()
        await wal.close()
        with pytest.raises(RecordError, match="closed"):
            await wal.append(record(0))

    run(go)


def test_a_second_writer_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    first = WAL.open(tmp_path)
    with pytest.raises(RecordError, match="another process"):
        WAL.open(tmp_path)
    run(first.close)
    run(WAL.open(tmp_path).close)
