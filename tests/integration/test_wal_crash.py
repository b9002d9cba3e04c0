"""A killed writer loses no answered record: a child process appends in a loop and prints
each sequence only after `append` returned; the test SIGKILLs it at random moments, then
reopens the log and finds every printed record intact (a torn tail, if any, reported).

Both durability modes are killed in turn: "os" must also survive a killed process, since
the written bytes are in the kernel's page cache. Every 25th record is 300 KB, so a kill
can land inside a write of several pages, and small segments make it land near rotations.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from faramesh.audit.wal import WAL

ROUNDS = 24
DEADLINE_S = 8.0  # the whole test; each wait below is bounded by what is left of it
SEGMENT_BYTES = 1 << 20

CHILD = r"""
import asyncio, sys
from pathlib import Path
from faramesh.audit.wal import WAL

async def main() -> None:
    directory, durability, segment_bytes, round_ = sys.argv[1:5]
    wal = WAL.open(Path(directory), durability=durability, segment_bytes=int(segment_bytes))
    out = sys.stdout
    out.write(f"ready {wal.last_sequence}\n")
    out.flush()
    n = 0
    while True:
        n += 1
        size = 300_000 if n % 25 == 0 else 400
        seq = await wal.append({"round": int(round_), "n": n, "pad": "x" * size})
        out.write(f"{seq}\n")
        out.flush()

asyncio.run(main())
"""


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue[bytes | None], deadline: float) -> bytes | None:
    return lines.get(timeout=max(0.0, deadline - time.monotonic()))


def _kill_one_writer(directory: Path, durability: str, round_: int, kill_after: int,
                     deadline: float) -> tuple[int, list[int]]:
    """Run a writer until it has printed `kill_after` sequences, SIGKILL it, and return
    the last sequence before it started and every sequence it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), durability, str(SEGMENT_BYTES),
         str(round_)], stdout=subprocess.PIPE)
    assert child.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
    try:
        ready = _next_line(lines, deadline)
        assert ready is not None and ready.startswith(b"ready "), ready
        start, printed = int(ready.split()[1]), []
        while len(printed) < kill_after:
            line = _next_line(lines, deadline)
            assert line is not None, "the writer died on its own"
            printed.append(int(line))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=max(0.1, deadline - time.monotonic()))
        while (line := _next_line(lines, deadline)) is not None:
            if line.endswith(b"\n"):  # a line cut by the kill is not a printed sequence
                printed.append(int(line))
        return start, printed
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=5)
        child.stdout.close()


def _read_back(directory: Path) -> tuple[WAL, dict[int, dict[str, Any]]]:
    wal = WAL.open(directory)
    records = dict(wal.entries())
    asyncio.run(wal.close())
    return wal, records


def test_every_answered_record_survives_sigkill(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("WAL_CRASH_SEED", "faramesh"))
    deadline = time.monotonic() + DEADLINE_S
    torn = 0
    for round_ in range(ROUNDS):
        durability = ("fsync", "os")[round_ % 2]
        start, printed = _kill_one_writer(tmp_path, durability, round_,
                                          rng.randint(1, 80), deadline)
        assert printed == list(range(start + 1, start + 1 + len(printed)))

        wal, records = _read_back(tmp_path)
        recovery = wal.recovery
        assert (recovery.reason is not None) == (recovery.bytes_cut > 0)
        torn += recovery.bytes_cut > 0
        assert list(records) == list(range(1, len(records) + 1))  # gapless, from 1
        assert recovery.records_ok == len(records) >= printed[-1]
        for seq in printed:
            assert records[seq]["round"] == round_ and records[seq]["n"] == seq - start
            assert len(records[seq]["pad"]) == (300_000 if (seq - start) % 25 == 0 else 400)
    assert time.monotonic() < deadline
    print(f"{ROUNDS} kills, {torn} torn tails cut")
