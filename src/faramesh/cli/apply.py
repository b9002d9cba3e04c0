"""`faramesh apply [--dir DIR]`: check the stack, then put it in force.

A stack that does not compile changes nothing (its errors are printed as `faramesh check`
prints them, exit 1). When a daemon answers, the policy is swapped in atomically; when
none does, `faramesh serve --dir DIR` is started in the background (its output appended
to `DATA_DIR/daemon.log`) and `apply` waits until it is READY.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from faramesh.cli.check import FileCheck, check_path, summary
from faramesh.cli.control import (
    Target,
    add_dir,
    control,
    is_ready,
    lock_held,
    runtime_settings,
    short,
    stack_dir_of,
    try_ping,
    wait_until,
)
from faramesh.cli.edge import EXIT_FAILED, EXIT_OK
from faramesh.cli.output import err, out, print_json

START_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 20


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def report_check_failure(check: FileCheck, as_json: bool, note: str) -> int:
    """Print why the stack does not compile as `faramesh check` does; exit status 1."""
    if as_json:
        print_json({"ok": False, "files": [{"path": check.path, "ok": False,
                                            "errors": check.errors()}]})
        return EXIT_FAILED
    for diagnostic in check.diagnostics:
        out(diagnostic.render())
    out(summary(check))
    out(note)
    return EXIT_FAILED


def run(args: argparse.Namespace) -> int:
    stack_dir = stack_dir_of(args.dir)
    check = check_path(stack_dir)
    if check.policy is None:
        return report_check_failure(check, args.format == "json",
                                    "nothing applied: the policy in force is unchanged")
    target = Target(stack_dir, runtime_settings(check.policy, stack_dir), check.policy)
    if try_ping(target.settings) is not None:
        # Answering, perhaps still starting: let it finish first (bounded).
        wait_until(lambda: is_ready(target.settings), START_TIMEOUT_S)
        result = control(target.settings, "apply", path=check.path)
        return _report({"ok": True, "started": False, **result}, target, args.format)
    return _start(target, Path(check.path), args.format)


def _start(target: Target, stack_file: Path, fmt: str) -> int:
    data_dir = target.settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = data_dir / "daemon.log"
    fd = os.open(log_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    log_offset = os.fstat(fd).st_size
    process: subprocess.Popen[bytes] | None = None
    try:
        if not lock_held(data_dir):  # a daemon still starting holds the lock: wait for it
            command = [sys.executable, "-m", "faramesh", "serve", "--dir",
                       str(target.stack_dir)]
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,  # noqa: S603
                                       stdout=fd, stderr=fd, start_new_session=True,
                                       close_fds=True, cwd=target.stack_dir)
    finally:
        os.close(fd)

    def settled() -> bool:  # READY, or exited (no point waiting longer)
        return (process is not None and process.poll() is not None) \
            or is_ready(target.settings)

    if not wait_until(settled, START_TIMEOUT_S) or not is_ready(target.settings):
        if process is not None and process.poll() is None:
            process.terminate()  # ours, and not READY in time: do not leave it half-up
            process.wait(timeout=5)
        return _failed_start(log_path, log_offset, process, fmt)
    if process is None:  # another `apply` started it: put this stack in force too
        result = control(target.settings, "apply", path=str(stack_file))
        return _report({"ok": True, "started": False, **result}, target, fmt)
    status = control(target.settings, "status")  # the version as the daemon computed it
    result = {"ok": True, "started": True, "changed": True, "pid": process.pid,
              "policy_version": (status.get("policy") or {}).get("version"),
              "source": str(stack_file)}
    return _report(result, target, fmt)


def _failed_start(log_path: Path, offset: int, process: subprocess.Popen[bytes] | None,
                  fmt: str) -> int:
    with open(log_path, "rb") as log:
        log.seek(offset)
        tail = log.read().decode("utf-8", "replace").splitlines()[-LOG_TAIL_LINES:]
    code = None if process is None else process.returncode
    why = (f"the daemon exited with status {code}" if code is not None
           else f"the daemon was not ready within {START_TIMEOUT_S:g}s")
    if fmt == "json":
        print_json({"ok": False, "started": False, "error": why, "log": str(log_path),
                    "log_tail": tail})
        return EXIT_FAILED
    err(f"faramesh: error[DAEMON_START_FAILED]: {why}; the end of {log_path}:")
    for line in tail:
        err(f"  | {line}")
    return EXIT_FAILED


def _report(result: dict[str, Any], target: Target, fmt: str) -> int:
    settings = target.settings
    where = {"socket": str(settings.socket), "control_socket": str(settings.control_socket),
             "http": settings.http_listen, "data_dir": str(settings.data_dir)}
    if fmt == "json":
        print_json({**result, **where})
        return EXIT_OK
    version = short(result.get("policy_version"))
    if result.get("started"):
        out(f"daemon started (pid {result.get('pid') or '?'}), policy {version} in force")
        out(f"  agents:  unix://{where['socket']}")
        if where["http"]:
            out(f"  http:    http://{where['http']}")
        out(f"  control: unix://{where['control_socket']}")
        out(f"  data:    {where['data_dir']} (log: daemon.log)")
    elif result.get("changed"):
        out(f"applied: {short(result.get('previous_version'))} -> {version}")
    else:
        out(f"unchanged: policy {version} is already in force")
    return EXIT_OK
