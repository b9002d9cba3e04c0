"""The daemon as a real process (`python -m faramesh serve`), for tests that kill it.

`DaemonProcess` writes a stack into a fresh directory under /tmp (short enough for unix
socket paths, which must stay under 107 bytes), starts the daemon on it, waits (bounded)
until `ping` answers READY, and ends it with SIGKILL or SIGTERM; `start` again restarts
it on the same data dir. Everything it logs, across restarts, goes to one file that is
printed when the `with` block it is used in fails, so a failing test shows what the
daemon said. Leaving the block ends the process and removes the directory.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from faramesh.daemon.client import SocketClient
from faramesh.daemon.runtime import RuntimeSettings, settings_for
from faramesh.errors import DaemonError
from faramesh.fpl.loader import load_policy_ir
from tests.integration.daemon.harness import TIMEOUT_S, write_stack

POLL_S = 0.02  # between two `ping`s while the daemon starts


class DaemonProcess:
    """`faramesh serve --dir STACK --socket STACK/a.sock --http off [--durability D]`."""

    def __init__(self, text: str, *, durability: str | None = None) -> None:
        # The default control socket, DIR/.faramesh/control.sock, stays short too.
        stack = self.stack = write_stack(Path(tempfile.mkdtemp(prefix="fm-", dir="/tmp")),
                                         text)
        self.agent_path = stack / "a.sock"
        self.log_path = stack / "daemon.log"
        self.argv = [sys.executable, "-m", "faramesh", "serve", "--dir", str(stack),
                     "--socket", str(self.agent_path), "--http", "off"]
        if durability is not None:
            self.argv += ["--durability", durability]
        # Where the daemon puts its control socket and WAL: the same settings it computes.
        self.settings: RuntimeSettings = settings_for(
            load_policy_ir(stack), stack, socket=str(self.agent_path), http_listen="off",
            durability=durability)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    @property
    def control_path(self) -> Path:
        return self.settings.control_socket

    @property
    def wal_dir(self) -> Path:
        return self.settings.wal_dir

    # --- context: always ends the process; prints the log when the block failed ----------

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.process is not None:
                self.kill()
        finally:
            if kind is not None:
                print(f"--- daemon log ({self.log_path}) ---\n{self.log()}")
            shutil.rmtree(self.stack, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return "(no log)"

    # --- start and end -------------------------------------------------------------------

    def start(self) -> DaemonProcess:
        """Start the daemon and return once it answers READY (at most TIMEOUT_S)."""
        assert self.process is None, "the daemon is already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(self.argv)}\n".encode())
        self._log = open(self.log_path, "ab")  # noqa: SIM115  closed in _reap
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # bounded: the child needs a moment to import, listen and replay
            code = self.process.poll()
            assert code is None, f"the daemon exited with status {code} while starting"
            with contextlib.suppress(DaemonError, OSError), \
                    SocketClient(self.agent_path, timeout_s=1.0) as client:
                if client.call("ping").get("lifecycle") == "READY":
                    return self
            assert time.monotonic() < deadline, f"the daemon was not READY in {TIMEOUT_S}s"
            time.sleep(POLL_S)

    def kill(self) -> None:
        """SIGKILL: no stop, no snapshot, no flush beyond what the daemon already did."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self._reap()

    def terminate(self) -> int:
        """SIGTERM: a clean stop. Returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self._reap()

    def _reap(self) -> int:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT_S)
            raise
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
        self.process = None
        return code

    # --- talking to it -------------------------------------------------------------------

    def agent(self, timeout_s: float = TIMEOUT_S) -> SocketClient:
        return SocketClient(self.agent_path, timeout_s=timeout_s)

    def control(self) -> SocketClient:
        return SocketClient(self.control_path, timeout_s=TIMEOUT_S)

    def evaluate(self, agent: str, tool: str, **fields: Any) -> dict[str, Any]:
        """One decision on a fresh connection."""
        with self.agent() as client:
            return client.call("evaluate", agent=agent, tool=tool, **fields)

    def control_call(self, op: str, **fields: Any) -> dict[str, Any]:
        with self.control() as client:
            return client.call(op, **fields)
