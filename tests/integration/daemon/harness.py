"""A daemon served on real sockets and a real uvicorn server, on its own event loop in a
background thread, so tests can talk to it with blocking clients (SocketClient, httpx)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

import orjson

from faramesh.daemon.client import SocketClient
from faramesh.daemon.serve import Service

T = TypeVar("T")
TIMEOUT_S = 15.0  # every wait on the daemon is bounded by this

STACK = """\
runtime {
  mode = "enforce"
  durability = "os"
  http_listen = "127.0.0.1:0"
}

agent "worker" {
  default deny
  rules {
    permit files/read
    deny files/delete reason "files are never deleted"
    defer payments/send reason "payments need a human"
  }
}

agent "limited" {
  default deny
  rules { permit search/query }
  rate_limit "search/query": 3 per minute
}

agent "budgeted" {
  default deny
  rules { permit reports/make }
  budget daily { max_calls 3  on_exceed deny }
}

agent "hammered" {
  default deny
  rules { permit work/do }
  budget daily { max_calls 40  on_exceed deny }
}
"""


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def short_dir() -> Path:
    """A directory for sockets: a unix socket path must stay under 108 bytes."""
    return Path(tempfile.mkdtemp(prefix="fm-", dir="/tmp"))


def write_stack(directory: Path, text: str = STACK) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "governance.fms").write_text(text, encoding="utf-8")
    return directory


class Running:
    """One Service on a loop thread. `start()` returns once it is READY."""

    def __init__(self, stack: Path, **overrides: Any) -> None:
        self.sockets = short_dir()
        overrides.setdefault("socket", str(self.sockets / "agent.sock"))
        overrides.setdefault("control_socket", str(self.sockets / "control.sock"))
        overrides.setdefault("data_dir", str(stack / "data"))
        self.loop = new_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.service = Service(stack, **overrides)
        self.agent_path = Path(overrides["socket"])
        self.control_path = Path(overrides["control_socket"])

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def start(self) -> Running:
        self.call(self.service.start())
        return self

    def stop(self) -> None:
        try:
            self.call(self.service.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT_S)
            self.loop.close()
            shutil.rmtree(self.sockets, ignore_errors=True)

    @property
    def daemon(self) -> Any:
        return self.service.daemon

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.service.http_port}"

    def agent(self) -> SocketClient:
        return SocketClient(self.agent_path, timeout_s=TIMEOUT_S)

    def control(self) -> SocketClient:
        return SocketClient(self.control_path, timeout_s=TIMEOUT_S)

    def raw(self, path: Path | None = None) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        sock.connect(str(path or self.agent_path))
        return sock


def read_answers(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    """`count` answer lines from a raw socket (bounded by the socket's timeout)."""
    buffer = b""
    while buffer.count(b"\n") < count:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        buffer += chunk
    return [orjson.loads(line) for line in buffer.split(b"\n")[:count] if line]


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the daemon sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(1 << 16):
        data += chunk
    return data


def decision(result: dict[str, Any]) -> dict[str, Any]:
    """The parts of a decision that do not vary between two calls."""
    return {k: v for k, v in result.items() if k not in ("action_id", "latency_us")}


class ClientThreads:
    """`count` client threads running `_client(n)` until the `with` block ends (`stop` is
    set); leaving the block joins them, bounded, and fails if one hung."""

    def __init__(self, count: int) -> None:
        self.counted = threading.Condition()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True)
                        for n in range(count)]

    def _client(self, n: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:  # bounded: a dead daemon ends every connection
            thread.join(TIMEOUT_S)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"
