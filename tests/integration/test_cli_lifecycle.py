"""The daemon's life through the real command line, each step a `faramesh` subprocess:
apply starts it, status shows it READY, apply hot-swaps (and refuses a broken policy,
leaving the one in force), kill / agent resume act on the agent socket's decisions,
rollback goes back, destroy stops it and removes its data.

The stack lives under a short /tmp directory (a unix socket path must stay under 107
bytes) and turns HTTP off, so parallel runs do not fight over a port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faramesh.daemon.client import SocketClient

COMMAND_TIMEOUT_S = 20.0  # apply waits at most 15 s for READY

STACK = """\
runtime {{
  data_dir = "{data}"
  http_listen = "off"
{extra}}}

agent "pay-bot" {{
  default deny
  rules {{
    permit stripe/refund if amount < {limit}
  }}
}}
"""


def write_stack(stack: Path, limit: str = "$100", extra: str = "") -> None:
    (stack / "governance.fms").write_text(
        STACK.format(data=stack / "data", limit=limit, extra=extra), "utf-8")


def faramesh(stack: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faramesh", *argv, "--dir", str(stack)],
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                          check=False)


def ok_json(stack: Path, *argv: str) -> dict[str, Any]:
    done = faramesh(stack, *argv, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def evaluate(stack: Path, amount: int) -> tuple[str, str]:
    with SocketClient(stack / "data" / "faramesh.sock", timeout_s=5) as client:
        answer = client.call("evaluate", agent="pay-bot", tool="stripe/refund",
                             args={"amount": amount})
    return answer["effect"], answer["code"]


def _stop_leftover_daemon(data: Path) -> None:
    """If a failed test left the daemon it started running, end it by its pid."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((data / "daemon.lock").read_text().strip())
        os.kill(pid, signal.SIGTERM)


@pytest.fixture
def stack() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="fm", dir="/tmp"))
    try:
        yield root
    finally:
        if (root / "data").exists():
            done = faramesh(root, "destroy", "--keep-data")
            if done.returncode != 0:
                _stop_leftover_daemon(root / "data")
        shutil.rmtree(root, ignore_errors=True)


def test_apply_status_swap_kill_resume_rollback_destroy(stack: Path) -> None:
    write_stack(stack)
    started = ok_json(stack, "apply")
    assert started["started"] is True
    first = started["policy_version"]
    status = ok_json(stack, "status")
    assert status["lifecycle"] == "READY"
    assert evaluate(stack, 150) == ("DENY", "DEFAULT_DENY")

    write_stack(stack, limit="$200")
    swapped = ok_json(stack, "apply")
    assert (swapped["started"], swapped["changed"]) == (False, True)
    assert swapped["previous_version"] == first
    second = swapped["policy_version"]
    assert second != first
    assert evaluate(stack, 150) == ("PERMIT", "RULE_PERMIT")

    (stack / "governance.fms").write_text('agent "pay-bot" {\n  rules { permit }\n}\n',
                                          "utf-8")
    broken = faramesh(stack, "apply")
    assert broken.returncode == 1
    assert "governance.fms:2:" in broken.stdout
    assert evaluate(stack, 150) == ("PERMIT", "RULE_PERMIT")  # the second is in force
    write_stack(stack, limit="$200")

    assert faramesh(stack, "kill", "--agent", "pay-bot", "--reason", "drill").returncode == 0
    assert evaluate(stack, 5) == ("DENY", "KILL_SWITCH")
    assert faramesh(stack, "agent", "resume", "pay-bot").returncode == 0
    assert evaluate(stack, 5) == ("PERMIT", "RULE_PERMIT")

    rolled = ok_json(stack, "rollback")
    assert (rolled["previous_version"], rolled["policy_version"]) == (second, first)
    assert evaluate(stack, 150) == ("DENY", "DEFAULT_DENY")

    destroyed = faramesh(stack, "destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert not (stack / "data").exists()
    assert (stack / "governance.fms").exists()
    assert faramesh(stack, "status").returncode == 3


def test_a_daemon_that_cannot_start_shows_its_log(stack: Path) -> None:
    long_socket = "/tmp/" + "s" * 120 + ".sock"  # over the unix socket path limit
    write_stack(stack, extra=f'  socket = "{long_socket}"\n')
    done = faramesh(stack, "apply")
    assert done.returncode == 1
    assert "DAEMON_START_FAILED" in done.stderr
    assert "  | " in done.stderr  # the tail of daemon.log
    assert faramesh(stack, "status").returncode == 3
