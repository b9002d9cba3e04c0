"""`faramesh destroy [--dir DIR] [--keep-data] [--yes]`: stop the stack's daemon and
remove its data directory (WAL, records, state, policy versions, log).

Only a directory that looks like a faramesh data dir (it holds `daemon.lock` or `wal/`)
and does not hold the stack itself is removed; anything else is refused. Removing asks
for confirmation unless `--yes` is given.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from faramesh.cli.control import add_dir, control, lock_held, target_of, wait_until
from faramesh.cli.edge import EXIT_FAILED, EXIT_OK, CliError
from faramesh.cli.output import out
from faramesh.errors import DaemonError

STOP_TIMEOUT_S = 15.0
DATA_MARKERS = ("daemon.lock", "wal")


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--keep-data", action="store_true",
                        help="only stop the daemon; keep the data directory")
    parser.add_argument("--yes", action="store_true",
                        help="remove the data directory without asking")


def check_removable(data_dir: Path, stack_dir: Path) -> None:
    """Refuse to remove a directory that is not a faramesh data dir, or holds the stack."""
    data_dir, stack_dir = data_dir.resolve(), stack_dir.resolve()
    if data_dir == stack_dir or data_dir in stack_dir.parents:
        raise CliError("NOT_A_DATA_DIR", f"`{data_dir}` holds the stack itself; not removing "
                       "it", hint="point `runtime { data_dir = ... }` at its own directory",
                       status=EXIT_FAILED)
    if not any((data_dir / marker).exists() for marker in DATA_MARKERS):
        raise CliError("NOT_A_DATA_DIR", f"`{data_dir}` does not look like a faramesh data "
                       f"directory (no {' or '.join(DATA_MARKERS)}); not removing it",
                       status=EXIT_FAILED)


def stop_daemon(data_dir: Path, send_stop: Callable[[], object]) -> bool:
    """Ask the daemon to stop and wait (bounded) until it let go of its lock; whether a
    daemon was running."""
    try:
        send_stop()
    except DaemonError:
        if not lock_held(data_dir):
            return False  # nothing answers and nothing holds the lock: not running
    if not wait_until(lambda: not lock_held(data_dir), STOP_TIMEOUT_S):
        raise CliError("DAEMON_STILL_RUNNING", f"the daemon on `{data_dir}` did not stop "
                       f"within {STOP_TIMEOUT_S:g}s; nothing removed", status=EXIT_FAILED)
    return True


def _confirmed(data_dir: Path) -> bool:
    if not sys.stdin.isatty():
        raise CliError("CONFIRMATION_REQUIRED", f"removing `{data_dir}` needs confirmation",
                       hint="pass --yes, or --keep-data to only stop the daemon")
    sys.stderr.write(f"remove {data_dir} and every record in it? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    target = target_of(args.dir)
    settings = target.settings
    data_dir = settings.data_dir
    remove = not args.keep_data and data_dir.exists()
    if remove:  # refuse before stopping anything
        check_removable(data_dir, target.stack_dir)
        if not args.yes and not _confirmed(data_dir):
            out("nothing done")
            return EXIT_FAILED
    was_running = stop_daemon(data_dir, lambda: control(settings, "stop"))
    out("daemon stopped" if was_running else "no daemon was running")
    if remove:
        shutil.rmtree(data_dir)
        out(f"removed {data_dir}")
    elif not args.keep_data:
        out(f"no data directory at {data_dir}")
    return EXIT_OK
