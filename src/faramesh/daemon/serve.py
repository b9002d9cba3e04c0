"""`faramesh serve`: the daemon with its agent socket, control socket and HTTP API, in one
event loop (uvloop when installed), logging JSON lines to stderr.

Start order: the sockets and HTTP listen first, then the daemon starts. A client that
connects while the daemon is still starting is answered DAEMON_NOT_READY (fail closed,
and it knows to retry) rather than finding no daemon at all; /readyz says 503 until
READY. Stop (SIGTERM, SIGINT, or the control `stop` op): stop accepting, let requests
being answered finish (bounded by `grace_s`), close connections, stop the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from faramesh.daemon.core import Daemon
from faramesh.daemon.http_api import create_app
from faramesh.daemon.metrics import Metrics
from faramesh.daemon.runtime import RuntimeSettings, settings_for
from faramesh.daemon.socket_server import IDLE_TIMEOUT_S, MAX_CONNECTIONS, SocketServer
from faramesh.errors import DaemonError, FarameshError

log = logging.getLogger(__name__)

GRACE_S = 5.0  # the longest a stop waits for requests being answered


class Service:
    """A daemon and its listeners. `run` serves until stopped; tests may drive
    `start`/`stop` themselves and read `http_port`, `agent`, `control`."""

    def __init__(self, stack: Path, *, max_connections: int = MAX_CONNECTIONS,
                 idle_timeout_s: float = IDLE_TIMEOUT_S, grace_s: float = GRACE_S,
                 **overrides: Any) -> None:
        self.daemon = Daemon(stack, **overrides)
        self.daemon.metrics = self.metrics = Metrics()
        self.stack, self.overrides = stack, overrides
        self.max_connections, self.idle_timeout_s = max_connections, idle_timeout_s
        self.grace_s = grace_s
        self.agent: SocketServer | None = None
        self.control: SocketServer | None = None
        self.http: uvicorn.Server | None = None
        self.http_port: int | None = None
        self._http_socket: socket.socket | None = None
        self._http_ticks: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, self.request_stop)  # main thread only
        try:
            await self.start()
            if ready is not None:
                ready.set()
            await self._stopping.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                    loop.remove_signal_handler(sig)

    async def start(self) -> None:
        settings = await asyncio.to_thread(self._settings)
        self.agent = SocketServer(self.daemon, settings.socket,
                                  max_connections=self.max_connections,
                                  idle_timeout_s=self.idle_timeout_s)
        self.control = SocketServer(self.daemon, settings.control_socket, control=True,
                                    max_connections=self.max_connections,
                                    idle_timeout_s=self.idle_timeout_s,
                                    on_stop=self.request_stop)
        await self.agent.start()
        await self.control.start()
        if settings.http_host_port is not None:
            await self._start_http(*settings.http_host_port)
        log.info("listening", extra={"fields": {
            "socket": str(settings.socket), "control_socket": str(settings.control_socket),
            "http_port": self.http_port, "lifecycle": self.daemon.lifecycle.value}})
        await self.daemon.start()
        log.info("ready", extra={"fields": {"mode": settings.mode,
                                            "durability": settings.durability}})

    def _settings(self) -> RuntimeSettings:
        """The runtime settings, read before the daemon starts so that its sockets can
        listen (and answer DAEMON_NOT_READY) while it restores state."""
        from faramesh.fpl.loader import load_policy_ir

        stack_dir = self.stack if self.stack.is_dir() else self.stack.parent
        return settings_for(load_policy_ir(self.stack), stack_dir, **self.overrides)

    async def _start_http(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise DaemonError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
        sock.setblocking(False)
        self._http_socket, self.http_port = sock, sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.daemon, self.metrics), loop="none",
                                log_config=None, access_log=False, lifespan="off",
                                ws="none", server_header=False,
                                timeout_graceful_shutdown=max(1, round(self.grace_s)))
        config.load()
        server = self.http = uvicorn.Server(config)
        # What Server.serve does, minus taking over the process's signal handlers.
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._http_ticks = asyncio.create_task(server.main_loop())  # Date header, exit

    async def stop(self) -> None:
        servers = [s for s in (self.agent, self.control) if s is not None]
        for server in servers:
            server.close()
        if self.http is not None:
            self.http.should_exit = True
            if self._http_ticks is not None:
                await self._http_ticks
            if getattr(self.http, "started", False):
                await self.http.shutdown(sockets=[self._http_socket] if self._http_socket
                                         else None)
            self.http = None
        await asyncio.gather(*(s.drain(self.grace_s) for s in servers))
        await self.daemon.stop()
        log.info("stopped")


async def serve(stack: Path, *, ready: asyncio.Event | None = None, **overrides: Any) -> None:
    """Serve `stack` until SIGTERM, SIGINT or the control `stop` op. `overrides` are the
    runtime settings (socket, control_socket, http_listen, mode, durability, ...) and
    the listener limits (max_connections, idle_timeout_s, grace_s)."""
    await Service(stack, **overrides).run(ready)


def run(stack: Path, **overrides: Any) -> int:
    """The blocking entry point of `faramesh serve`; returns the process's exit status."""
    configure_logging()
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(stack, **overrides))
    except FarameshError as exc:
        log.error("cannot serve", extra={"fields": {"code": exc.code, "error": str(exc)}})
        return 1
    except KeyboardInterrupt:
        pass
    return 0


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
