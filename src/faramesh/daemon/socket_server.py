"""The unix-socket servers: the agent socket (evaluate, scan_output, ping) and the control
socket (status, apply, rollback, kill, release, phase, decision, stop).

A small asyncio Protocol per connection, measured faster than streams. Each connection
reads newline-delimited JSON (daemon/wire.py), answers its requests in order (a client may
pipeline many) and records the peer's credentials (SO_PEERCRED) on every decision. The
socket file is created with mode 0600; the control socket also refuses peers whose uid is
neither the daemon's nor root's.

A client that disconnects loses the answers still owed to it: a request being decided
finishes (its record is written, nothing is left half done), requests not yet started are
dropped unseen, and a partial line is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import struct
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from faramesh.car import Caller
from faramesh.daemon import wire
from faramesh.errors import DaemonError

if TYPE_CHECKING:
    from faramesh.daemon.core import Daemon

log = logging.getLogger(__name__)

MAX_CONNECTIONS: Final = 4096
IDLE_TIMEOUT_S: Final = 300.0
BACKLOG: Final = 4096  # connections waiting for accept (the kernel caps it at somaxconn)
_QUEUED_HIGH: Final = 64  # complete requests buffered on one connection before reads pause
_CRED: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid
_MAX_SOCKET_PATH: Final = 107


class SocketServer:
    """One listening unix socket; `control` selects the op table and the uid check."""

    def __init__(self, daemon: Daemon, path: Path, *, control: bool = False,
                 max_connections: int = MAX_CONNECTIONS,
                 idle_timeout_s: float = IDLE_TIMEOUT_S,
                 on_stop: Callable[[], None] | None = None) -> None:
        self.daemon = daemon
        self.path = path
        self.control = control
        self.ops = wire.CONTROL_OPS if control else wire.AGENT_OPS
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.on_stop = on_stop
        self.connections: set[_Connection] = set()
        self.in_flight = 0
        self._quiet = asyncio.Event()  # set while no request is being answered
        self._quiet.set()
        self._gone = asyncio.Event()  # set while no connection is open
        self._gone.set()
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None

    async def start(self) -> None:
        sock = bind_unix(self.path)
        self._inode = os.stat(self.path).st_ino
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Connection(self), sock=sock,
                                                     backlog=BACKLOG)

    def close(self) -> None:
        """Stop accepting; open connections go on until `drain`."""
        if self._server is not None:
            self._server.close()
            self._server = None
            self._unlink()

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for requests being answered, then close every connection and
        wait (bounded) until each is gone."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), timeout_s)
        for conn in list(self.connections):
            conn.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._gone.wait(), timeout_s)

    def _unlink(self) -> None:
        # Only our own socket file: a newer daemon may have replaced it.
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)

    def _begin(self) -> None:
        self.in_flight += 1
        self._quiet.clear()

    def _end(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self._quiet.set()


class _Connection(asyncio.Protocol):
    def __init__(self, server: SocketServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.caller = Caller("socket")
        self.buffer = bytearray()
        self.lines: deque[bytes | None] = deque()  # None: a line that outgrew MAX_LINE
        self.busy = False
        self.closed = False
        self.last_active = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.writable: asyncio.Event | None = None  # set while the peer takes our writes
        self.task: asyncio.Task[None] | None = None

    # --- asyncio callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's too
        server = self.server
        if len(server.connections) >= server.max_connections:
            self._refuse(wire.TooManyConnections(
                f"the daemon serves at most {server.max_connections} connections"))
            return
        pid, uid, gid = _peer_credentials(transport)
        self.caller = Caller("socket", pid=pid, uid=uid, gid=gid)
        if server.control and uid not in (os.getuid(), 0):
            self._refuse(wire.PermissionDenied("the control socket serves the daemon's own "
                                               "user and root only"))
            return
        server.connections.add(self)
        server._gone.clear()
        loop = asyncio.get_running_loop()
        self.last_active = loop.time()
        self.timer = loop.call_later(server.idle_timeout_s, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_active = asyncio.get_running_loop().time()
        buf = self.buffer
        buf += data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            if end > start:  # blank lines are ignored
                self.lines.append(bytes(buf[start:end]))
            start = end + 1
        if start:
            del buf[:start]
        if len(buf) > wire.MAX_LINE:  # no newline in sight: refuse without reading more
            buf.clear()
            self.lines.append(None)
            assert self.transport is not None
            self.transport.pause_reading()
        elif len(self.lines) > _QUEUED_HIGH:
            assert self.transport is not None
            self.transport.pause_reading()
        if self.lines and not self.busy:
            self.busy = True
            self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lines.clear()
        self.buffer.clear()
        connections = self.server.connections
        connections.discard(self)
        if not connections:
            self.server._gone.set()
        if self.timer is not None:
            self.timer.cancel()
        if self.writable is not None:
            self.writable.set()

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = asyncio.Event()
        self.writable.clear()

    def resume_writing(self) -> None:
        if self.writable is not None:
            self.writable.set()

    # --- requests -------------------------------------------------------------------

    def _serve(self) -> None:
        """Answer the queued lines in order, each as far as it goes without waiting.

        A request is run right here, in the callback that read it: a decision that never
        has to wait (durability "os", no selector to fetch) is answered without a task and
        the loop iteration a task costs. The first request that must wait (an fsync, a
        selector, a paused transport) continues in a task, which then serves the rest."""
        transport, server = self.transport, self.server
        assert transport is not None
        handed_on = False  # to a task, which clears `busy` when done
        try:
            while self.lines and not self.closed:
                if self.writable is not None and not self.writable.is_set():
                    handed_on = self._continue(self._after_pause())
                    return
                line = self.lines.popleft()
                if line is None or len(line) > wire.MAX_LINE:
                    self._refuse(wire.RequestTooLarge(
                        f"a request is at most {wire.MAX_LINE} bytes"))
                    return
                server._begin()
                answering = self._answer(line)
                try:
                    waiting_on = answering.send(None)
                except StopIteration as done:
                    server._end()
                    if not self.closed:  # else the peer left: its answer has no reader
                        transport.write(done.value)
                    continue
                except BaseException:
                    server._end()
                    raise
                handed_on = self._continue(self._finish(answering, waiting_on))
                return
            if not self.closed and not transport.is_reading():
                transport.resume_reading()
        finally:
            if not handed_on:
                self.busy = False

    def _continue(self, work: Coroutine[Any, Any, None]) -> bool:
        self.task = asyncio.get_running_loop().create_task(work)  # kept: no GC
        return True

    async def _finish(self, answering: Coroutine[Any, Any, bytes], waiting_on: Any) -> None:
        """The rest of a request that had to wait, then the lines queued behind it."""
        try:
            answer = await _Suspended(answering, waiting_on)
        except BaseException:
            self.busy = False
            raise
        finally:
            self.server._end()
        if not self.closed:
            assert self.transport is not None
            self.transport.write(answer)
        self._serve()

    async def _after_pause(self) -> None:
        assert self.writable is not None
        try:
            await self.writable.wait()
        except BaseException:
            self.busy = False
            raise
        self._serve()

    async def _answer(self, line: bytes) -> bytes:
        request_id: Any = None
        try:
            request = wire.parse_request(line)
            request_id = request.id
            if request.op == "stop" and self.server.control:
                if self.server.on_stop is not None:
                    self.server.on_stop()
                return wire.encode_result(request_id, {"stopping": True})
            run = wire.op_for(request.op, self.server.ops, request_id)
            result = await run(self.server.daemon, request.body, self.caller)
            return wire.encode_result(request_id, result)
        except Exception as exc:  # the ingress edge: every failure is a structured answer
            if isinstance(exc, wire.RequestError) and exc.request_id is not None:
                request_id = exc.request_id
            return wire.encode_error(request_id, exc)

    def _refuse(self, exc: wire.RequestError) -> None:
        assert self.transport is not None
        self.transport.write(wire.encode_error(None, exc))
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # flushes what was written, then connection_lost
        self.closed = True
        self.lines.clear()

    def _check_idle(self) -> None:
        if self.closed:
            return
        limit = self.server.idle_timeout_s
        idle = asyncio.get_running_loop().time() - self.last_active
        if self.busy or idle < limit:
            self.timer = asyncio.get_running_loop().call_later(
                limit if self.busy else limit - idle, self._check_idle)
        else:
            self.close()


class _Suspended:
    """Awaiting this finishes a coroutine that was started by hand (`send(None)`) and
    stopped at `waiting_on`: the task awaiting it waits on what the coroutine waits on and
    passes back what it is sent or thrown, as `await` would have from the start (what
    Python 3.12's eager tasks do)."""

    def __init__(self, coro: Coroutine[Any, Any, bytes], waiting_on: Any) -> None:
        self.coro, self.waiting_on = coro, waiting_on

    def __await__(self) -> Generator[Any, Any, bytes]:
        coro, waiting_on = self.coro, self.waiting_on
        while True:
            try:
                sent = yield waiting_on
            except BaseException as exc:  # thrown in by the task (cancellation)
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return cast(bytes, done.value)
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as done:
                    return cast(bytes, done.value)


def _peer_credentials(transport: asyncio.BaseTransport) -> tuple[int | None, ...]:
    sock = transport.get_extra_info("socket")
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    except (AttributeError, OSError):  # no SO_PEERCRED (not Linux): unattributed peer
        return (None, None, None)
    return tuple(_CRED.unpack(raw))


def bind_unix(path: Path, backlog: int = BACKLOG) -> socket.socket:
    """A listening unix socket at `path`, mode 0600 from the start (bound under a umask,
    so no other user can connect in between), replacing only a stale socket file."""
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise DaemonError(f"socket path `{path}` is longer than {_MAX_SOCKET_PATH} bytes; "
                          f"hint: set a shorter `socket` in the runtime block")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        umask = os.umask(0o177)
        try:
            sock.bind(os.fspath(path))
        finally:
            os.umask(umask)
        os.chmod(path, 0o600)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot listen on `{path}` ({exc.strerror or exc})") from None
    return sock


def _remove_stale(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise DaemonError(f"`{path}` exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # nothing answers: left behind by a daemon that died
        return
    except OSError:
        pass  # something is there but busy (backlog full, timeout): keep it
    finally:
        probe.close()
    raise DaemonError(f"a daemon already answers on `{path}`")
