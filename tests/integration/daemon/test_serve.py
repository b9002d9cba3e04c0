"""`serve` and `run`: start, answer, and stop cleanly on the control `stop` op or SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from faramesh.daemon.client import SocketClient
from faramesh.daemon.serve import serve
from faramesh.errors import DaemonError
from tests.integration.daemon.harness import TIMEOUT_S, new_loop, short_dir


def test_serve_runs_until_the_control_stop_op(stack: Path) -> None:
    sockets = short_dir()
    agent, control = sockets / "a.sock", sockets / "c.sock"
    loop = new_loop()
    ready = asyncio.Event()
    done = threading.Event()

    def main() -> None:
        try:
            loop.run_until_complete(serve(stack, ready=ready, socket=str(agent),
                                          control_socket=str(control), http_listen="off",
                                          data_dir=str(stack / "data")))
        finally:
            done.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(asyncio.wait_for(ready.wait(), TIMEOUT_S),
                                     loop).result(TIMEOUT_S)
    with SocketClient(agent) as client:
        assert client.call("evaluate", agent="worker", tool="files/read")["effect"] == "PERMIT"
        with SocketClient(control) as ctl:
            assert ctl.call("stop") == {"stopping": True}
        assert done.wait(TIMEOUT_S)
    thread.join(TIMEOUT_S)
    loop.close()
    assert not agent.exists() and not control.exists()
    shutil.rmtree(sockets)


def test_run_stops_cleanly_on_sigterm(stack: Path) -> None:
    sockets = short_dir()
    agent = sockets / "a.sock"
    code = ("import sys; from pathlib import Path; from faramesh.daemon.serve import run; "
            "sys.exit(run(Path(sys.argv[1]), socket=sys.argv[2], control_socket=sys.argv[3],"
            " http_listen='off'))")
    child = subprocess.Popen([sys.executable, "-c", code, str(stack), str(agent),
                              str(sockets / "c.sock")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # bounded: the child needs a moment to import and listen
            try:
                with SocketClient(agent, timeout_s=1.0) as client:
                    if client.call("ping")["lifecycle"] == "READY":
                        break
            except DaemonError:
                pass
            assert time.monotonic() < deadline, "the daemon did not become ready"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGTERM)
        _, stderr = child.communicate(timeout=TIMEOUT_S)
    finally:
        child.kill()
        shutil.rmtree(sockets)
    assert child.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert [e["message"] for e in lines if e["logger"] == "faramesh.daemon.serve"] == \
        ["listening", "ready", "stopped"]
    assert not agent.exists()
