"""A tour of the example stack: send calls to a running daemon, print each answer.

    faramesh apply --dir STACK          # start the daemon on a copy of this directory
    python -m faramesh.examples.client --dir STACK

Each call is one line of JSON on the daemon's unix socket (docs/wire-format.md); the
answer is the decision object. The tour covers a permit, a `deny!`, a defer, a budget
warning and an exhausted budget, a rate limit, an unknown agent, a model outside the
agent's `model_policy` and a secret caught by the pre-scanners. Budgets and rate limits
are state: run the tour twice on one day and the refunds are already over budget.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

from faramesh.daemon.client import SocketClient

SUPPORT = "support-bot"
# (what it shows, the request, the code the example stack answers on a fresh data dir)
TOUR: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("permitted", {"agent": SUPPORT, "tool": "tickets/read", "args": {"id": "T-1"}},
     "RULE_PERMIT"),
    ("denied by deny!", {"agent": SUPPORT, "tool": "customers/export"}, "MANDATORY_DENY"),
    ("deferred to a human", {"agent": SUPPORT, "tool": "stripe/refund",
                             "args": {"amount": 450, "currency": "EUR"}}, "POLICY_DEFER"),
    *((f"refund {n} of $100", {"agent": SUPPORT, "tool": "stripe/refund", "cost": 100,
                               "args": {"amount": 100, "currency": "USD"}}, code)
      for n, code in ((1, "RULE_PERMIT"), (2, "RULE_PERMIT"), (3, "BUDGET_WARNING"))),
    ("over budget", {"agent": SUPPORT, "tool": "stripe/refund", "cost": 50,
                     "args": {"amount": 50, "currency": "USD"}}, "BUDGET_EXCEEDED"),
    *((f"email {n}", {"agent": SUPPORT, "tool": "email/send",
                      "args": {"to_domain": "example.com"}}, code)
      for n, code in ((1, "RULE_PERMIT"), (2, "RULE_PERMIT"), (3, "RULE_PERMIT"),
                      (4, "RATE_EXCEEDED"))),
    ("unknown agent", {"agent": "intruder", "tool": "tickets/read"}, "IDENTITY_UNRESOLVED"),
    ("model not allowed", {"agent": SUPPORT, "tool": "tickets/read", "model": "gpt-4o"},
     "MODEL_DENIED"),
    ("secret in arguments", {"agent": SUPPORT, "tool": "tickets/reply",
                             "args": {"body": "key AKIAIOSFODNN7EXAMPLE"}}, "SCAN_DENY"),
)


def run_tour(client: SocketClient, session_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, expected code, answer) for every call of the tour, in order."""
    return [(label, expected, client.call("evaluate", session_id=session_id, **request))
            for label, request, expected in TOUR]


def socket_of(stack: Path) -> Path:
    from faramesh.daemon.runtime import settings_for
    from faramesh.fpl.loader import load_policy_ir

    return settings_for(load_policy_ir(stack), stack if stack.is_dir() else stack.parent).socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("."), help="the stack directory")
    args = parser.parse_args(argv)
    with SocketClient(socket_of(args.dir)) as client:
        answers = run_tour(client, f"tour-{uuid.uuid4().hex[:8]}")
    matched = 0
    for label, expected, answer in answers:
        same = answer["code"] == expected
        matched += same
        detail = answer.get("resolution") or {}
        hint = ", ".join(f"{k}={v}" for k, v in detail.items() if k != "hint")
        print(f"{label:<22} {answer['effect']:<7} {answer['code']:<20} "
              f"{'' if same else f'(expected {expected}) '}{hint}")
    print(f"{matched} of {len(answers)} answers as expected on a fresh data dir")
    return 0 if matched == len(answers) else 1


if __name__ == "__main__":
    sys.exit(main())
