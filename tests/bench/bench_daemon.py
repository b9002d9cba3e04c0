"""Decisions through the real daemon over its unix socket, with recording on.

Run: `.venv/bin/python tests/bench/bench_daemon.py [--json] [--calls N]`.

Starts `faramesh serve` (a subprocess, uvloop) on a 50-rule policy in a temporary stack,
once per durability mode, and measures from a client on the same host:
- the transport floor: the `ping` op (no pipeline, no record), sequential;
- `evaluate` sequential, one request at a time, each timed on its own; beside it the
  daemon's own `latency_us` (the pipeline, as the answer reports it) and the same client
  spinning on a non-blocking socket instead of sleeping in `recv`: the difference is the
  time this machine takes to wake a blocked client, not the daemon's;
- `evaluate` with 8 concurrent clients (8 processes), throughput over the whole run;
- in the same run, a bare `os.write` + `os.fsync` of one ~500-byte record on the same
  disk: the cost every fsync-mode decision pays at least.

Targets (issue 3): os mode p50 <= 150 us, p99 <= 600 us; fsync mode sequential p50
within 1.3x the bare write+fsync p50; fsync mode >= 8,000 decisions/s with 8 clients.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AGENT = "bench-agent"


def policy_text(rules: int = 50) -> str:
    lines = ['agent "bench-agent" {', "  default deny", "  rules {", "    deny! shell/*"]
    families = (rules - 1) // 7 + 1
    for k in range(families):
        lines += [f"    permit svc{k}/read",
                  f"    permit svc{k}/pay when amount <= $500",
                  f"    defer svc{k}/pay when amount > $500",
                  f"    deny svc{k}/delete",
                  f'    permit svc{k}/deploy when env in ["dev", "staging"]',
                  f'    deny svc{k}/deploy when env == "prod"',
                  f"    permit svc{k}/query when limit < 1000"]
    lines = lines[: 4 + rules - 1]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


REQUESTS = [
    {"agent": AGENT, "tool": "svc3/read", "args": {}},
    {"agent": AGENT, "tool": "svc5/pay", "args": {"amount": 20, "currency": "usd"}},
    {"agent": AGENT, "tool": "svc1/pay", "args": {"amount": 900}},
    {"agent": AGENT, "tool": "svc2/delete", "args": {"id": "x-1"}},
    {"agent": AGENT, "tool": "shell/exec", "args": {"cmd": "ls"}},
    {"agent": AGENT, "tool": "svc4/deploy", "args": {"env": "prod"}},
    {"agent": AGENT, "tool": "nothing/here", "args": {}},
]


class Client:
    def __init__(self, path: str, *, spin: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.spin = spin
        if spin:
            self.sock.setblocking(False)

    def call(self, line: bytes) -> bytes:
        self.sock.sendall(line)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:  # spinning: poll again rather than sleep
                continue
            if not chunk:
                raise ConnectionError("daemon closed the connection")
            self.buf += chunk
        answer, _, self.buf = self.buf.partition(b"\n")
        return answer


def lines(op: str, n: int) -> list[bytes]:
    if op == "ping":
        return [json.dumps({"op": "ping", "id": i}).encode() + b"\n" for i in range(n)]
    return [json.dumps({"op": "evaluate", "id": i, "session_id": f"s{i % 16}",
                        **REQUESTS[i % len(REQUESTS)]}).encode() + b"\n" for i in range(n)]


def sequential(path: str, op: str, n: int, *, spin: bool = False,
               inside: list[float] | None = None) -> list[float]:
    """Client-side latencies in µs; `inside` collects the daemon's own `latency_us`."""
    client = Client(path, spin=spin)
    todo = lines(op, n + 200)
    for line in todo[:200]:  # warm-up
        client.call(line)
    times = []
    for line in todo[200:]:
        t0 = time.perf_counter_ns()
        answer = client.call(line)
        times.append((time.perf_counter_ns() - t0) / 1000)
        if b'"ok":true' not in answer:
            raise RuntimeError(answer.decode())
        if inside is not None:
            inside.append(json.loads(answer)["result"]["latency_us"])
    return times


def _worker(path: str, n: int, start: Any, done: Any) -> None:
    client = Client(path)
    todo = lines("evaluate", n)
    start.wait()
    for line in todo:
        client.call(line)
    done.put(n)


def concurrent(path: str, clients: int, per_client: int) -> float:
    ctx = multiprocessing.get_context("fork")
    start, done = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, per_client, start, done))
             for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let every client connect before the clock starts
    t0 = time.perf_counter()
    start.set()
    total = sum(done.get(timeout=120) for _ in procs)
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=10)
    return total / elapsed


def bare_fsync(directory: Path, n: int) -> list[float]:
    record = json.dumps({"kind": "decision", "args": {"x": "y" * 380}}).encode() + b"\n"
    fd = os.open(directory / "bare.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter_ns()
            os.write(fd, record)
            os.fsync(fd)
            times.append((time.perf_counter_ns() - t0) / 1000)
    finally:
        os.close(fd)
    return times


def start_daemon(stack: Path, durability: str) -> tuple[subprocess.Popen[bytes], str]:
    sock = str(stack / "a.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "faramesh", "serve", "--dir", str(stack), "--durability",
         durability, "--http", "off", "--socket", sock],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            answer = Client(sock).call(b'{"op":"evaluate","id":0,"agent":"bench-agent",'
                                       b'"tool":"svc0/read"}\n')
            if b"DAEMON_NOT_READY" not in answer:
                return proc, sock
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("daemon did not become ready")


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_us": round(statistics.median(ordered), 1),
            "p99_us": round(ordered[int(len(ordered) * 0.99) - 1], 1),
            "mean_us": round(statistics.fmean(ordered), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--durability", choices=("os", "fsync"), action="append",
                        help="measure only this mode (repeatable; default: both)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    base = Path(tempfile.mkdtemp(prefix="fmb", dir="/tmp"))
    try:
        for durability in args.durability or ("os", "fsync"):
            stack = base / durability
            stack.mkdir()
            (stack / "governance.fms").write_text(policy_text())
            proc, sock = start_daemon(stack, durability)
            try:
                results[f"ping ({durability})"] = summary(sequential(sock, "ping", args.calls))
                inside: list[float] = []
                results[f"evaluate, durability {durability}"] = summary(
                    sequential(sock, "evaluate", args.calls, inside=inside))
                results[f"  in the daemon (latency_us) {durability}"] = summary(inside)
                results[f"  spinning client {durability}"] = summary(
                    sequential(sock, "evaluate", args.calls, spin=True))
                results[f"evaluate, durability {durability}, 8 clients"] = {
                    "decisions_per_s": round(concurrent(sock, 8, args.calls // 2))}
            finally:
                stop_daemon(proc)
        results["bare write+fsync"] = summary(bare_fsync(base, min(args.calls, 1000)))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if "evaluate, durability fsync" in results:
        fs = results["evaluate, durability fsync"]["p50_us"]
        results["ratio fsync p50 / bare p50"] = round(
            fs / results["bare write+fsync"]["p50_us"], 2)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'case':<44} {'p50 us':>9} {'p99 us':>9} {'decisions/s':>12}")
    for name, row in results.items():
        if isinstance(row, dict):
            print(f"{name:<44} {row.get('p50_us', ''):>9} {row.get('p99_us', ''):>9} "
                  f"{row.get('decisions_per_s', ''):>12}")
        else:
            print(f"{name:<44} {row:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
