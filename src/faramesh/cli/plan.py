"""`faramesh plan [--dir DIR] [--since 24h] [--limit N] [--format json]`: what `apply`
would change, without changing anything (no daemon needed).

Prints the policy diff per agent against the version in force, then the recent decisions
(`--since`) whose effect or code the new policy would change. Exit 0 whatever the diff;
1 when the stack does not compile. The logic is daemon/plan.py.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faramesh.cli.apply import report_check_failure
from faramesh.cli.check import check_path
from faramesh.cli.control import add_dir, runtime_settings, short, stack_dir_of
from faramesh.cli.edge import EXIT_OK, CliError
from faramesh.cli.output import out, plural, print_json
from faramesh.daemon import plan
from faramesh.fpl.loader import load_stack
from faramesh.policy import ir
from faramesh.policy.evaluator import Policy
from faramesh.policy.values import parse_duration

NOTES = ("redacted arguments are replayed masked", "conditions on history see no history "
         "and session counters are unknown", "records decided outside the policy engine "
         "(kill switch, budgets, rate limits, scanners, ...) are not replayed")


def configure(parser: argparse.ArgumentParser) -> None:
    add_dir(parser)
    parser.add_argument("--since", default="24h", metavar="DURATION",
                        help="replay the decisions of this last stretch (default: 24h)")
    parser.add_argument("--limit", type=int, default=20, metavar="N",
                        help="list at most N changed decisions (default: 20)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def since_of(text: str, now: datetime) -> str:
    duration = parse_duration(text)
    if duration is None or duration.seconds <= 0:
        raise CliError("INVALID_ARGUMENT", f"--since `{text}` is not a duration",
                       hint="for example --since 24h, --since 30m, --since 7d")
    return (now - timedelta(seconds=float(duration.seconds))).isoformat()


def run(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise CliError("INVALID_ARGUMENT", "--limit must not be negative")
    since = since_of(args.since, datetime.now(UTC))
    stack_dir = stack_dir_of(args.dir)
    check = check_path(stack_dir)
    if check.policy is None:
        return report_check_failure(check, args.format == "json",
                                    "nothing to plan: the stack does not compile")
    # Loaded as the daemon loads it, so versions and rule refs compare with the records.
    new_ir = load_stack(stack_dir)
    new = Policy(new_ir)
    data_dir = runtime_settings(new_ir, stack_dir).data_dir
    in_force = plan.load_in_force(data_dir)
    old = in_force.policy if in_force is not None else ir.PolicyIR(agents=())
    agents = plan.diff_policies(old, new_ir)
    top_level = plan.diff_top_level(old, new_ir)
    decisions = plan.plan_decisions(data_dir, new, since, args.limit)
    if args.format == "json":
        print_json({
            "ok": True, "path": check.path, "policy_version": new.version_hash,
            "in_force": None if in_force is None else {
                "version": in_force.version, "applied_at": in_force.applied_at,
                "source": in_force.source},
            "top_level": [_change_dict(c) for c in top_level],
            "agents": [{"agent_id": a.agent_id, "status": a.status,
                        "changes": [_change_dict(c) for c in a.changes]} for a in agents],
            "decisions": decisions.to_dict(), "notes": list(NOTES)})
        return EXIT_OK
    _print_head(check.path, new, in_force, data_dir)
    _print_policy_diff(top_level, agents)
    _print_decisions(decisions, args.since)
    return EXIT_OK


def _change_dict(change: plan.Change) -> dict[str, str | None]:
    return {"kind": change.kind, "op": change.op, "text": change.text, "old": change.old}


def _print_head(path: str, new: Policy, in_force: plan.InForce | None, data_dir: Path) -> None:
    out(f"plan for {path}")
    out(f"  new policy: {short(new.version_hash)}")
    if in_force is None:
        out(f"  in force:   none (no policy was ever applied in {data_dir}); compared "
            "against an empty policy")
    else:
        out(f"  in force:   {short(in_force.version)} (applied {in_force.applied_at or '?'} "
            f"from {in_force.source or '?'})")


def _change_line(change: plan.Change) -> str:
    text = f"{change.old} -> {change.text}" if change.op == "~" and change.old else change.text
    return f"    {change.op} {change.kind:<10} {text}"


def _print_policy_diff(top_level: list[plan.Change], agents: list[plan.AgentDiff]) -> None:
    out()
    if not top_level and not agents:
        out("policy: no changes")
        return
    out("policy changes:")
    if top_level:
        out("  stack")
        for change in top_level:
            out(_change_line(change))
    for agent in agents:
        label = "" if agent.status == "changed" else f" ({agent.status})"
        out(f"  agent {agent.agent_id}{label}")
        for change in agent.changes:
            out(_change_line(change))


def _print_decisions(diff: plan.DecisionDiff, since_text: str) -> None:
    out()
    out(f"decisions of the last {since_text} (since {diff.since}): "
        f"{diff.replayed} replayed, {diff.changed} would change, "
        f"{diff.not_replayed} not replayed")
    for c in diff.changes:
        out(f"  {c.action_id}  {c.agent_id}  {c.tool}  {c.old_effect} {c.old_code} -> "
            f"{c.new_effect} {c.new_code}  (was {c.old_rule_ref or '-'}, now "
            f"{c.new_rule_ref or '-'})")
    if diff.changed > len(diff.changes):
        out(f"  ... and {plural(diff.changed - len(diff.changes), 'more change')} "
            "(see --limit)")
    out("note: " + "; ".join(NOTES) + ".")
