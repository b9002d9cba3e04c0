"""What the daemon commands share: find a stack's daemon from `--dir`, and talk to it over
its control socket.

The runtime settings (data dir, sockets) come from the stack's `runtime` block, so every
command compiles the stack to find them. A stack that does not compile still has a daemon
to reach (`kill` must work while the policy file is being edited): the defaults are used
then.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faramesh.cli.edge import EXIT_FAILED, CliError
from faramesh.daemon.client import SocketClient
from faramesh.daemon.runtime import RuntimeSettings, settings_for
from faramesh.errors import DaemonError, PolicyError, PolicyLoadError
from faramesh.policy import ir

POLL_INTERVAL_S = 0.05
READY = "READY"


def add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=".", metavar="DIR",
                        help="the stack directory (default: the current directory)")


def stack_dir_of(arg: str) -> Path:
    """The stack directory named by `--dir` (a stack file means its directory)."""
    path = Path(arg).resolve()
    return path.parent if path.is_file() else path


@dataclass(frozen=True)
class Target:
    """A stack and where its daemon lives; `policy` is None when the stack does not
    compile (the settings are then the defaults)."""

    stack_dir: Path
    settings: RuntimeSettings
    policy: ir.PolicyIR | None


def target_of(arg: str, **overrides: Any) -> Target:
    from faramesh.fpl.loader import load_policy_ir

    stack_dir = stack_dir_of(arg)
    policy: ir.PolicyIR | None
    try:
        policy = load_policy_ir(stack_dir)
    except (PolicyError, PolicyLoadError):
        policy = None
    return Target(stack_dir, runtime_settings(policy, stack_dir, **overrides), policy)


def runtime_settings(policy: ir.PolicyIR | None, stack_dir: Path,
                     **overrides: Any) -> RuntimeSettings:
    """`settings_for`, its refusals reported as a bad `runtime` block (not as a daemon
    that does not answer)."""
    try:
        return settings_for(policy or ir.PolicyIR(agents=()), stack_dir, **overrides)
    except DaemonError as exc:
        raise CliError("RUNTIME_INVALID", str(exc), status=EXIT_FAILED,
                       hint="fix the `runtime` block of the stack file") from None


def control(settings: RuntimeSettings, op: str, *, timeout_s: float = 10.0,
            **fields: Any) -> dict[str, Any]:
    """One control command's result; DaemonError when no daemon answers or it refuses."""
    with SocketClient(settings.control_socket, timeout_s=timeout_s) as client:
        return client.call(op, **fields)


def try_ping(settings: RuntimeSettings, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The daemon's `ping` answer (its lifecycle), or None when no daemon answers."""
    try:
        return control(settings, "ping", timeout_s=timeout_s)
    except DaemonError:
        return None


def is_ready(settings: RuntimeSettings) -> bool:
    return lifecycle_of(try_ping(settings) or {}) == READY


def lifecycle_of(status: dict[str, Any]) -> str:
    return str(status.get("lifecycle") or status.get("state") or "UNKNOWN")


def lock_held(data_dir: Path) -> bool:
    """Whether a daemon holds the data dir's lock (it is running, perhaps not answering)."""
    try:
        fd = os.open(data_dir / "daemon.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock taken when the daemon is not running
    return False


def wait_until(done: Callable[[], object], timeout_s: float) -> bool:
    """Poll `done()` until it is true or `timeout_s` passed; whether it became true."""
    deadline = time.monotonic() + timeout_s
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)


def short(version: object) -> str:
    return str(version or "-")[:12]
