"""A small blocking client for the daemon's sockets (the CLI's control commands, tests).

Wire format (docs/wire-format.md): one JSON object per line each way. A request is
`{"op": OP, "id": ID, ...fields}`; the answer is `{"id": ID, "ok": true, "result": {...}}`
or `{"id": ID, "ok": false, "error": {"code": CODE, "message": TEXT, "field": NAME?}}`.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import orjson

from faramesh.errors import DaemonError

MAX_LINE = 1 << 20  # the daemon's request limit; answers are held to it too


class SocketClient:
    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> SocketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout_s)
            try:
                sock.connect(str(self.path))
            except OSError as exc:
                sock.close()
                raise DaemonError(f"no daemon answers on {self.path} "
                                  f"({exc.strerror or exc})") from None
            self._sock = sock
        return self._sock

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request; return its `result`, or raise DaemonError with the error's
        code and message when the daemon refused it."""
        answer = self.request({"op": op, **fields})
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise DaemonError(str(error.get("message", "request refused")),
                              remote_code=str(error.get("code", "")) or None)
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one raw request object; return the whole answer object."""
        sock = self._connect()
        self._next_id += 1
        message.setdefault("id", self._next_id)
        try:
            sock.sendall(orjson.dumps(message) + b"\n")
            line = self._read_line(sock)
        except OSError as exc:
            self.close()
            raise DaemonError(f"lost the daemon on {self.path} ({exc})") from None
        try:
            answer = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.close()
            raise DaemonError(f"the daemon on {self.path} answered something that is not "
                              f"JSON") from None
        return answer if isinstance(answer, dict) else {}

    def _read_line(self, sock: socket.socket) -> bytes:
        while b"\n" not in self._buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("daemon closed the connection")
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE * 4:
                raise ConnectionError("answer too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
