"""What CLI tests share: the captured result of one run, and small example policies."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "faramesh" / "examples"

SMALL_POLICY = """\
agent "pay-bot" {
  default deny

  rules {
    deny! shell/** reason "no shell"
    permit stripe/refund if amount < $100 reason "small refund"
    defer stripe/refund if amount < $1000
    deny stripe/refund reason "too large"
    permit report/read if principal.role == "auditor"
    permit model/call if model == "claude-sonnet-4"
    permit night/job if time.hour >= 22
    permit session/step if session.step == 2
  }
}
"""


@dataclass(frozen=True)
class Result:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def err_json(self) -> Any:
        return json.loads(self.err)


Run = Callable[..., Result]
