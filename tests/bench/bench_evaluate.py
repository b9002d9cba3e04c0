"""Latency of `Policy.evaluate` as policies grow: 50, 500 and 5000 rules for one agent.

Run: `.venv/bin/python tests/bench/bench_evaluate.py [--json] [--calls N]`.

Each policy is a realistic mix: many distinct tool families (`svc123/pay`), per-family
wildcards (`svc123/*`, `svc123/**`), a few cross-family `**` rules, conditions on amounts,
strings, `in` lists and `matches`, and a few `deny!`. One fixed action mix (permit, deny,
no rule matched, conditions true and false, missing arguments) is evaluated against every
size, so the sizes are comparable. Every call is timed on its own with perf_counter_ns,
pinned to one core where the OS allows it, after a warm-up.

Targets (issue): p50 <= 5 us and p99 <= 20 us at 50 rules; p50(5000) <= 1.5 x p50(50).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

from faramesh.policy import ir
from faramesh.policy.evaluator import Policy
from faramesh.policy.values import Money

SIZES = (50, 500, 5000)
AGENT = "bench-agent"
TARGET_P50_US = 5.0
TARGET_P99_US = 20.0
TARGET_GROWTH = 1.5


def _var(*path: str) -> ir.Var:
    return ir.Var(path)


def _cmp(op: str, left: ir.Expr, right: ir.Expr) -> ir.Compare:
    return ir.Compare(op, left, right)


def _lit(value: ir.Scalar) -> ir.Lit:
    return ir.Lit(value)


def _family_rules(k: int, line: int) -> list[ir.Rule]:
    """The rules one service family `svc{k}` contributes (about ten)."""
    svc = f"svc{k}"

    def rule(effect: ir.RuleEffect, pattern: str, cond: ir.Expr | None = None,
             mandatory: bool = False) -> ir.Rule:
        nonlocal line
        line += 1
        return ir.Rule(effect, pattern, cond, mandatory=mandatory,
                       origin=ir.Origin("bench.fpl", line))

    amount = _var("args", "amount")
    rules = [
        rule(ir.RuleEffect.DENY, f"{svc}/delete", mandatory=(k % 7 == 0)),
        rule(ir.RuleEffect.PERMIT, f"{svc}/read"),
        rule(ir.RuleEffect.PERMIT, f"{svc}/pay", _cmp("<=", amount, _lit(Money(Decimal(500))))),
        rule(ir.RuleEffect.DEFER, f"{svc}/pay", _cmp(">", amount, _lit(Money(Decimal(500))))),
        rule(ir.RuleEffect.PERMIT, f"{svc}/deploy",
             ir.And((_cmp("in", _var("args", "env"),
                          ir.ListLit((_lit("dev"), _lit("staging"), _lit("qa")))),
                     _cmp("!=", _var("args", "force"), _lit(True))))),
        rule(ir.RuleEffect.DENY, f"{svc}/deploy", _cmp("==", _var("args", "env"), _lit("prod"))),
        rule(ir.RuleEffect.DENY, f"{svc}/*",
             ir.And((_cmp("!=", _var("args", "path"), _lit(None)),
                     _cmp("matches", _var("args", "path"), _lit(r"^/(etc|root)/"))))),
        rule(ir.RuleEffect.PERMIT, f"{svc}/query",
             ir.Or((_cmp("<", _var("args", "limit"), _lit(1000)),
                    _cmp("==", _var("principal", "role"), _lit("admin"))))),
        rule(ir.RuleEffect.PERMIT, f"{svc}/**", _cmp("==", _var("args", "owner"), _lit("me"))),
        rule(ir.RuleEffect.DEFER, f"{svc}/admin/*"),
    ]
    return rules


def build_policy(n_rules: int) -> ir.PolicyIR:
    """About `n_rules` rules: a fixed head and tail of global rules around the families."""
    head = [
        ir.Rule(ir.RuleEffect.DENY, "**/drop_database", mandatory=True,
                origin=ir.Origin("bench.fpl", 1)),
        ir.Rule(ir.RuleEffect.DENY, "admin/**", mandatory=True, origin=ir.Origin("bench.fpl", 2)),
        ir.Rule(ir.RuleEffect.DENY, "*/exec", _cmp("contains", _var("args", "cmd"), _lit("rm -rf")),
                origin=ir.Origin("bench.fpl", 3)),
    ]
    tail = [
        ir.Rule(ir.RuleEffect.DEFER, "**/export", _cmp(">", _var("args", "rows"), _lit(10_000)),
                origin=ir.Origin("bench.fpl", 900_000)),
        ir.Rule(ir.RuleEffect.PERMIT, "status/*", origin=ir.Origin("bench.fpl", 900_001)),
    ]
    rules: list[ir.Rule] = list(head)
    k = 0
    while len(rules) + len(tail) < n_rules:
        rules.extend(_family_rules(k, 10 + 20 * k))
        k += 1
    rules = rules[: n_rules - len(tail)] + tail
    agent = ir.Agent(AGENT, ir.RuleEffect.DENY, tuple(rules), origin=ir.Origin("bench.fpl", 0))
    return ir.PolicyIR((agent,))


def _action(tool: str, **args: Any) -> dict[str, Any]:
    return {"agent": AGENT, "tool": tool, "args": args,
            "principal": {"role": "dev"}, "time": "2026-01-05T10:00:00Z"}


# Tools of families 0..3 exist in every size (the 50-rule policy holds four families).
ACTIONS: tuple[dict[str, Any], ...] = (
    _action("svc1/read"),                                          # permit, no condition
    _action("svc2/pay", amount=120),                               # permit, condition true
    _action("svc2/pay", amount=Decimal("900.50")),                 # <= false -> defer
    _action("svc3/pay"),                                           # missing amount -> defer
    _action("svc1/deploy", env="staging"),                         # in + != (missing) -> ...
    _action("svc1/deploy", env="prod", force=False),               # deny
    _action("svc2/deploy", env="dev", force=True),                 # and false -> next rules
    _action("svc0/delete"),                                        # deny!
    _action("svc1/delete"),                                        # deny
    _action("svc2/upload", path="/etc/passwd"),                    # matches -> deny
    _action("svc2/upload", path="/home/me/x"),                     # no match -> default
    _action("svc3/query", limit=10),                               # or true
    _action("svc3/query", limit=5000),                             # or false -> default
    _action("svc1/reports/q3", owner="me"),                        # ** permit
    _action("svc1/admin/users"),                                   # defer
    _action("nosuch/tool", x=1),                                   # no candidate: default
    _action("admin/users/delete"),                                 # deny! via **
    _action("svc3/drop_database"),                                 # deny! via **/...
    _action("shell/exec", cmd="rm -rf /"),                         # contains -> deny
    _action("status/ping"),                                        # tail permit
    _action("svc2/export", rows=50_000),                           # ** tail defer
    _action("SVC1/Read"),                                          # canonicalized permit
)


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        if cores:
            os.sched_setaffinity(0, {cores[-1]})
            return f"cpu {cores[-1]}"
    return "not pinned"


def _time_calls(policy: Policy, calls: int, offset: int, samples: list[int]) -> None:
    evaluate = policy.evaluate
    actions = ACTIONS
    n = len(actions)
    clock = time.perf_counter_ns
    append = samples.append
    for i in range(offset, offset + calls):
        action = actions[i % n]
        t0 = clock()
        evaluate(action)
        append(clock() - t0)


def measure(sizes: tuple[int, ...], calls: int, warmup: int, rounds: int = 20
            ) -> list[dict[str, float]]:
    """Time `calls` evaluations per size. The sizes take turns in `rounds` short runs, so a
    noisy moment on the machine lands on every size alike rather than on one."""
    policies = [Policy(build_policy(size)) for size in sizes]
    for policy in policies:
        for i in range(warmup):
            policy.evaluate(ACTIONS[i % len(ACTIONS)])
    samples: list[list[int]] = [[] for _ in sizes]
    per_round = max(1, calls // rounds)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection mid-call measures the collector, not the evaluator
    try:
        for r in range(rounds):
            for policy, out in zip(policies, samples, strict=True):
                _time_calls(policy, per_round, r * per_round, out)
    finally:
        if gc_was_enabled:
            gc.enable()
    rows = []
    for policy, out in zip(policies, samples, strict=True):
        out.sort()
        rows.append({
            "rules": sum(len(a.rules) for a in policy.ir.agents),
            "p50_us": out[len(out) // 2] / 1000,
            "p99_us": out[min(len(out) - 1, len(out) * 99 // 100)] / 1000,
            "mean_us": statistics.fmean(out) / 1000,
        })
    return rows


def measure_cold(sizes: tuple[int, ...], names: int) -> list[dict[str, float]]:
    """First sight of a tool name: every call misses the per-tool cache, so this times the
    rule index itself (bucket merge + matching) plus building the cached plan."""
    rows = []
    for size in sizes:
        policy = Policy(build_policy(size))
        families = max(1, (size - 5) // 10)
        samples = []
        clock = time.perf_counter_ns
        for i in range(names):
            action = _action(f"svc{i % families}/item{i}/x{i % 3}", owner="me")
            t0 = clock()
            policy.evaluate(action)
            samples.append(clock() - t0)
        samples.sort()
        rows.append({"rules": size, "p50_us": samples[len(samples) // 2] / 1000,
                     "p99_us": samples[len(samples) * 99 // 100] / 1000,
                     "mean_us": statistics.fmean(samples) / 1000})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--calls", type=int, default=200_000, help="timed calls per size")
    parser.add_argument("--warmup", type=int, default=20_000, help="untimed calls per size")
    opts = parser.parse_args(argv)

    pinned = _pin_one_core()
    rows = measure(SIZES, opts.calls, opts.warmup)
    cold = measure_cold(SIZES, 5000)
    growth = rows[-1]["p50_us"] / rows[0]["p50_us"]
    small = rows[0]
    ok = (small["p50_us"] <= TARGET_P50_US and small["p99_us"] <= TARGET_P99_US
          and growth <= TARGET_GROWTH)
    if opts.json:
        print(json.dumps({"pinned": pinned, "calls": opts.calls, "actions": len(ACTIONS),
                          "results": rows, "first_sight_of_a_tool": cold,
                          "p50_ratio_largest_to_smallest": growth,
                          "targets_met": ok}, indent=2))
    else:
        print(f"evaluate latency, {opts.calls} calls per size, {len(ACTIONS)} actions, "
              f"{pinned}, python {sys.version.split()[0]}")
        print(f"{'rules':>6} | {'p50 µs':>7} | {'p99 µs':>7} | {'mean µs':>7}")
        print(f"{'-' * 6}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 7}")
        for row in rows:
            print(f"{row['rules']:>6} | {row['p50_us']:>7.2f} | {row['p99_us']:>7.2f} | "
                  f"{row['mean_us']:>7.2f}")
        print(f"p50({rows[-1]['rules']}) / p50({small['rules']}) = {growth:.2f}")
        print("first sight of a tool name (per-tool cache missed, 5000 distinct names):")
        for row in cold:
            print(f"{row['rules']:>6} | {row['p50_us']:>7.2f} | {row['p99_us']:>7.2f} | "
                  f"{row['mean_us']:>7.2f}")
        print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
