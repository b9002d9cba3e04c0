"""Latency and throughput of the hot-path WAL against the bare cost of a durable write.

Run: `.venv/bin/python tests/bench/bench_wal.py [--records N] [--dir PATH] [--json]`.

Measured in one run, on the file system holding `--dir` (default: a temporary directory;
make sure it is not a tmpfs, where a flush costs nothing):
  (a) bare `os.write` + `os.fsync` of one representative ~500-byte record, sequential
  (a') the same with `os.fdatasync`, which the WAL uses
  (b) `WAL.append`, durability "fsync", one sequential writer
  (c) `WAL.append`, durability "os", one sequential writer
  (d) `WAL.append`, durability "fsync", 8 and 64 concurrent asyncio writers: records/s
Each call is timed on its own with perf_counter_ns after a warm-up; uvloop when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from faramesh.audit.wal import WAL

WARMUP = 100

RECORD: dict[str, Any] = {  # the shape `pipeline.record.build_record` writes, ~500 bytes
    "kind": "decision", "action_id": "01J9ZQ3V7YB2N8K4W6T5R0M1XC",
    "time": "2025-01-01T12:00:00.123456+00:00", "agent_id": "billing-agent",
    "session_id": "sess-7f3a", "tool": "stripe/refund", "raw_tool": "stripe.refund",
    "caller": {"uid": 1000, "pid": 4242}, "effect": "PERMIT",
    "answered_effect": "PERMIT", "code": "RULE_PERMIT", "rule_ref": "policy.fpl:12:3",
    "mode": "enforce",
    "args": {"amount": "42.00", "currency": "USD", "customer": "cus_***"},
    "policy_version": "sha256:9f2c4e1a7b", "latency_ns": {"evaluate": 4100, "record": 0},
    "state_ops": [],
}


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def _stats(name: str, samples_ns: list[int], extra: dict[str, Any] | None = None,
           ) -> dict[str, Any]:
    ordered = sorted(samples_ns)
    return {"case": name, "n": len(ordered),
            "p50_us": statistics.median(ordered) / 1000,
            "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000,
            **(extra or {})}


def bare(directory: Path, sync: Callable[[int], None], count: int) -> list[int]:
    frame = orjson.dumps(RECORD)
    fd = os.open(directory / f"bare-{sync.__name__}", os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                 0o600)
    samples = []
    try:
        for i in range(count + WARMUP):
            t0 = time.perf_counter_ns()
            os.write(fd, frame)
            sync(fd)
            if i >= WARMUP:
                samples.append(time.perf_counter_ns() - t0)
    finally:
        os.close(fd)
    return samples


async def sequential(directory: Path, durability: str, count: int) -> list[int]:
    wal = WAL.open(directory, durability=durability)
    samples = []
    try:
        for i in range(count + WARMUP):
            t0 = time.perf_counter_ns()
            await wal.append(RECORD)
            if i >= WARMUP:
                samples.append(time.perf_counter_ns() - t0)
    finally:
        await wal.close()
    return samples


async def concurrent(directory: Path, writers: int, count: int) -> tuple[list[int], float, int]:
    """`writers` tasks appending `count` records in all: latencies, records/s, flushes."""
    wal = WAL.open(directory, durability="fsync")
    samples: list[int] = []

    async def writer(share: int) -> None:
        for _ in range(share):
            t0 = time.perf_counter_ns()
            await wal.append(RECORD)
            samples.append(time.perf_counter_ns() - t0)

    try:
        await asyncio.gather(*(writer(WARMUP // writers + 1) for _ in range(writers)))
        samples.clear()
        flushes = wal.flush_count
        t0 = time.perf_counter()
        await asyncio.gather(*(writer(count // writers) for _ in range(writers)))
        elapsed = time.perf_counter() - t0
        return samples, len(samples) / elapsed, wal.flush_count - flushes
    finally:
        await wal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-wal-") as tmp:
        root = Path(tmp)
        rows = [_stats("(a) os.write + os.fsync", bare(root, os.fsync, args.records)),
                _stats("(a') os.write + os.fdatasync", bare(root, os.fdatasync, args.records))]
        with _runner() as runner:
            loop_name = type(runner.get_loop()).__module__
            rows.append(_stats("(b) WAL.append fsync, 1 writer",
                               runner.run(sequential(root / "b", "fsync", args.records))))
            rows.append(_stats("(c) WAL.append os, 1 writer",
                               runner.run(sequential(root / "c", "os", args.records))))
            for writers in (8, 64):
                coro: Coroutine[Any, Any, tuple[list[int], float, int]] = concurrent(
                    root / f"d{writers}", writers, args.records * 4)
                samples, rate, flushes = runner.run(coro)
                rows.append(_stats(f"(d) WAL.append fsync, {writers} writers", samples,
                                   {"records_per_s": rate,
                                    "records_per_flush": len(samples) / max(flushes, 1)}))
    ratio = rows[2]["p50_us"] / rows[0]["p50_us"]
    if args.json:
        print(json.dumps({"loop": loop_name, "rows": rows, "ratio_b_over_a": ratio}, indent=2))
        return 0
    print(f"record: {len(orjson.dumps(RECORD))} bytes of JSON; loop: {loop_name}; "
          f"{args.records} records per sequential case")
    print(f"{'case':<36} {'p50 us':>9} {'p99 us':>9} {'records/s':>10} {'per flush':>9}")
    for row in rows:
        rate = f"{row['records_per_s']:>10.0f}" if "records_per_s" in row else f"{'':>10}"
        batch = (f"{row['records_per_flush']:>9.1f}" if "records_per_flush" in row
                 else f"{'':>9}")
        print(f"{row['case']:<36} {row['p50_us']:>9.1f} {row['p99_us']:>9.1f} {rate} {batch}")
    print(f"ratio p50 (b)/(a): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
