"""`faramesh status [--dir DIR] [--format json]`: what the running daemon reports.

`--format json` prints the control `status` result as it came (daemon/status.py). The
text form shows the lifecycle, mode and durability, the policy in force, each agent with
its kill switch, sessions, budget consumption and rate-limit tokens, the trust level and
the WAL sequence; a section the report lacks is left out. No daemon answering is exit 3.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from faramesh.cli.control import add_dir, control, lifecycle_of, short, target_of
from faramesh.cli.edge import EXIT_OK
from faramesh.cli.output import out, plural, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    status = control(target_of(args.dir).settings, "status")
    if args.format == "json":
        print_json(status)
    else:
        for line in render(status):
            out(line)
    return EXIT_OK


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _budget_line(b: Mapping[str, Any]) -> str:
    window = f" ({b['window']})" if b.get("window") else ""
    session = f" session {b['session_id']}" if b.get("session_id") else ""
    money = f"${b.get('spent_usd', 0)}" + (f" of ${b['max_usd']}" if b.get("max_usd") else "")
    calls = f"{b.get('spent_calls', 0)}" + (f" of {b['max_calls']}" if b.get("max_calls")
                                            else "")
    resets = f", resets {b['resets_at']}" if b.get("resets_at") else ""
    return (f"    budget {b.get('budget_id', '?')}{window}{session}: {money} spent, "
            f"{calls} calls{resets}")


def _rate_line(r: Mapping[str, Any]) -> str:
    per = f" per {r['per']}" if r.get("per") else ""
    return (f"    rate limit {r.get('pattern', '?')}: {r.get('tokens', '?')} of "
            f"{r.get('capacity', '?')} tokens{per}")


def _agent_lines(agent: Mapping[str, Any], kills: Mapping[str | None, Mapping[str, Any]]
                 ) -> list[str]:
    agent_id = agent.get("agent_id", "?")
    kill = kills.get(agent_id)
    if kill is not None:
        state = f"KILLED ({kill.get('reason')}) since {kill.get('since')}"
    else:
        state = "KILLED" if agent.get("killed") else "active"
    sessions = agent.get("sessions")
    lines = [f"  {agent_id}: {state}"
             + (f", {plural(sessions, 'session')}" if isinstance(sessions, int) else "")]
    lines += [_budget_line(b) for b in _mappings(agent.get("budgets"))]
    lines += [_rate_line(r) for r in _mappings(agent.get("rate_limits"))]
    return lines


def render(status: Mapping[str, Any]) -> list[str]:
    """The text form of a `status` result."""
    lines = [f"daemon: {lifecycle_of(dict(status))}  mode {status.get('mode', '?')}  "
             f"durability {status.get('durability', '?')}"
             + (f"  (pid {status['pid']})" if status.get("pid") else "")]
    window = status.get("unflushed_window_s")
    if window is not None:
        lines.append(f"  a power loss can lose the records of the last {window}s "
                     "(a killed daemon loses none)")
    policy = status.get("policy")
    if isinstance(policy, Mapping):
        lines.append(f"policy: {short(policy.get('version'))}"
                     + (f" from {policy['source']}" if policy.get("source") else ""))
    kills = {k.get("agent_id"): k for k in _mappings(status.get("kill_switch"))}
    if None in kills:
        every = kills[None]
        lines.append(f"kill switch: ENGAGED FOR EVERY AGENT ({every.get('reason')}) "
                     f"since {every.get('since')}")
    agents = _mappings(status.get("agents"))
    if "agents" in status:
        lines.append(f"agents: {len(agents) or 'none'}")
    for agent in agents:
        lines += _agent_lines(agent, kills)
    lines.append(f"trust: {status.get('trust_level') or '-'}")
    wal = status.get("wal")
    if isinstance(wal, Mapping):
        degraded = "  DEGRADED: records cannot be written, calls are denied" \
            if wal.get("degraded") else ""
        lines.append(f"wal: sequence {wal.get('last_sequence', '?')}{degraded}")
    return lines
