"""The socket server's request driver: requests answered in the callback that read them
when they need not wait, in order with the ones that must (a real server on a socket is
tested in tests/integration/daemon)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from faramesh.daemon.socket_server import SocketServer, _Connection, _Suspended


class Transport:
    """What the connection writes, and whether it reads."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.reading = True

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_extra_info(self, name: str) -> Any:
        return None  # no socket: an unattributed peer

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def ids(self) -> list[Any]:
        return [orjson.loads(line)["id"] for line in self.written]


def line(op: str, request_id: int) -> bytes:
    return orjson.dumps({"op": op, "id": request_id}) + b"\n"


def test_requests_answer_at_once_unless_they_wait_and_stay_in_order(tmp_path: Path) -> None:
    async def go() -> None:
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def now(daemon: Any, body: Any, caller: Any) -> str:
            return "now"

        async def later(daemon: Any, body: Any, caller: Any) -> str:
            return await gate

        server = SocketServer(None, tmp_path / "s.sock")  # type: ignore[arg-type]
        server.ops = {"now": now, "later": later}
        conn, transport = _Connection(server), Transport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.data_received(line("now", 1) + line("later", 2) + line("now", 3))
        assert transport.ids() == [1]  # answered inside the callback that read it
        assert conn.busy and server.in_flight == 1
        for _ in range(3):
            await asyncio.sleep(0)
        assert transport.ids() == [1]  # 3 waits behind 2
        gate.set_result("later")
        assert conn.task is not None
        await conn.task
        assert transport.ids() == [1, 2, 3]
        assert [orjson.loads(a)["result"] for a in transport.written] == ["now", "later",
                                                                           "now"]
        assert not conn.busy and server.in_flight == 0
        conn.connection_lost(None)

    asyncio.run(asyncio.wait_for(go(), 10))


def test_a_finished_coroutine_sees_what_the_task_is_sent_and_thrown() -> None:
    seen: list[str] = []

    async def work(fut: asyncio.Future[bytes]) -> bytes:
        try:
            return await fut
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def finish(coro: Any, waiting_on: Any) -> bytes:
        return await _Suspended(coro, waiting_on)

    async def go() -> None:
        loop = asyncio.get_running_loop()
        done, stuck = loop.create_future(), loop.create_future()
        coro = work(done)
        task = asyncio.create_task(finish(coro, coro.send(None)))
        await asyncio.sleep(0)
        done.set_result(b"ok")
        assert await task == b"ok"
        coro = work(stuck)
        task = asyncio.create_task(finish(coro, coro.send(None)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(go(), 10))
    assert seen == ["cancelled"]
