"""The live half of `faramesh demo`: the daemon on a copy of the example stack.

Starts the daemon in this process (the same `Service` as `faramesh serve`, HTTP off) in
a temporary directory, sends the example tour over its unix socket, hot-swaps a changed
policy and shows the change, prints the status, stops, and checks that every answered
call has its record in the WAL.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from faramesh.cli.output import out
from faramesh.daemon.client import SocketClient
from faramesh.examples.client import run_tour

# The hot swap: the example's `permit tickets/read` becomes a deny.
SWAP_FROM = "    permit tickets/read\n"
SWAP_TO = '    deny tickets/read reason "ticket reads are paused"\n'


def live_demo(stack: Path) -> bool:
    work = Path(tempfile.mkdtemp(prefix="fm-demo-", dir="/tmp"))  # short socket paths
    try:
        shutil.copy(stack, work / stack.name)
        return asyncio.run(_live(work / stack.name))
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _live(stack: Path) -> bool:
    from faramesh.daemon.serve import Service

    service = Service(stack.parent, http_listen="off")
    await service.start()
    daemon = service.daemon
    assert daemon.settings is not None
    socket_path = daemon.settings.socket
    try:
        out()
        out(f"daemon READY on {socket_path}")
        answers = await asyncio.to_thread(_tour, socket_path)
        ok = _show(answers)
        stack.write_text(stack.read_text("utf-8").replace(SWAP_FROM, SWAP_TO), "utf-8")
        swap = await daemon.apply()
        after = await asyncio.to_thread(_one, socket_path)
        swapped = swap.get("changed") is True and after["code"] == "POLICY_DENY"
        out(f"apply  {swap['previous_version'][:12]} -> {swap['policy_version'][:12]}: "
            f"tickets/read is now {after['effect']} {after['code']}")
        status = await daemon.status()
        for agent in status.get("agents", []):
            for budget in agent["budgets"]:
                out(f"status {agent['agent_id']}: budget {budget['budget_id']} "
                    f"${budget['spent_usd']} of ${budget['max_usd']} spent")
    finally:
        await service.stop()
    answered = {a["action_id"] for _, _, a in answers} | {after["action_id"]}
    recorded = await _recorded(daemon.settings.wal_dir)
    missing = answered - recorded
    out(f"audit  {len(answered)} answered calls, {len(answered) - len(missing)} in the WAL")
    return ok and swapped and not missing


def _tour(socket_path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with SocketClient(socket_path) as client:
        return run_tour(client, "demo")


def _one(socket_path: Path) -> dict[str, Any]:
    with SocketClient(socket_path) as client:
        return client.call("evaluate", agent="support-bot", tool="tickets/read",
                           session_id="demo")


def _show(answers: list[tuple[str, str, dict[str, Any]]]) -> bool:
    ok = True
    for label, expected, answer in answers:
        same = answer["code"] == expected
        ok = ok and same
        out(f"call   {label:<22} {answer['effect']:<7} {answer['code']:<20}"
            f"{'' if same else f' expected {expected}'}")
    return ok


async def _recorded(wal_dir: Path) -> set[str]:
    """The action ids of the decision records in the WAL (read after the daemon stopped)."""
    from faramesh.audit.wal import WAL

    wal = WAL.open(wal_dir, durability="os")
    try:
        return {r["action_id"] for _, r in wal.entries() if r.get("kind") == "decision"}
    finally:
        await wal.close()
