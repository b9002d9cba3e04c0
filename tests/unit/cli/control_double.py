"""A stand-in control socket for CLI tests: records each request and answers from a table.

It speaks the wire format of daemon/client.py (one JSON object per line each way), so the
commands' requests can be checked field by field without starting a daemon.
"""

from __future__ import annotations

import json
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.unit.cli.clirun import Run

# A stack whose data dir (and so its control socket) is short enough for a unix socket.
STACK = """\
runtime {{ data_dir = "{data_dir}" }}

agent "pay-bot" {{
  default deny
  rules {{ permit stripe/refund }}
}}
"""


class ControlDouble:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers  # op -> result, or an Exception-like {"error": {...}}
        self.requests: list[dict[str, Any]] = []

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        result = self.answers.get(request.get("op", ""), {"ok": True})
        if isinstance(result, dict) and "error" in result:
            return {"id": request.get("id"), "ok": False, "error": result["error"]}
        return {"id": request.get("id"), "ok": True, "result": result}


@contextmanager
def short_stack() -> Iterator[Path]:
    """A stack directory under /tmp whose data dir is `<it>/data` (short socket paths)."""
    root = Path(tempfile.mkdtemp(prefix="fm", dir="/tmp"))
    try:
        (root / "governance.fms").write_text(STACK.format(data_dir=root / "data"), "utf-8")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def serving(stack: Path, answers: dict[str, Any]) -> Iterator[ControlDouble]:
    """Answer on `stack`'s control socket (`<stack>/data/control.sock`) until the end."""
    double = ControlDouble(answers)
    (stack / "data").mkdir(exist_ok=True)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                answer = double.answer(json.loads(line))
                self.wfile.write(json.dumps(answer).encode() + b"\n")

    server = socketserver.ThreadingUnixStreamServer(str(stack / "data" / "control.sock"),
                                                    Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sent(cli: Run, *argv: str) -> tuple[int, str, list[dict[str, Any]]]:
    """Run a command against a double answering `ok`; its status, output and requests
    (without their ids)."""
    with short_stack() as stack, serving(stack, {}) as daemon:
        result = cli(*argv, "--dir", str(stack))
    assert result.status == 0, result.err
    return result.status, result.out, [{k: v for k, v in r.items() if k != "id"}
                                       for r in daemon.requests]
