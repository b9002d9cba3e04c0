"""The README's example is true: it compiles, is canonically formatted, and decides as
the README shows."""

from __future__ import annotations

import json
import re

from faramesh import load_policy
from faramesh.fpl.compiler import parse_policy_text
from faramesh.fpl.formatter import format_file
from tests.paths import ROOT

README = (ROOT / "README.md").read_text()
POLICY = re.search(r"```\n(# governance.fms\n.*?)```", README, re.S).group(1)  # type: ignore[union-attr]


def test_readme_policy_is_canonically_formatted() -> None:
    tree, sink = parse_policy_text(POLICY, "governance.fms")
    assert not sink.items
    assert format_file(tree) == POLICY


def test_readme_eval_output_is_what_the_policy_decides(tmp_path) -> None:
    path = tmp_path / "governance.fms"
    path.write_text(POLICY)
    shown = json.loads(re.search(r'\n(\{"effect": "DEFER".*\})\n', README).group(1))  # type: ignore[union-attr]
    decision = load_policy(path).evaluate(
        {"agent": "payments-bot", "tool": "stripe/charge", "args": {"amount": 200}})
    got = decision.to_dict()
    got["rule_ref"] = got["rule_ref"].replace(str(tmp_path) + "/", "")
    for entry in got["trace"]:
        entry["rule_ref"] = entry["rule_ref"].replace(str(tmp_path) + "/", "")
    assert got == shown


def test_readme_python_example_decides_as_shown(tmp_path) -> None:
    path = tmp_path / "governance.fms"
    path.write_text(POLICY)
    decision = load_policy(path).evaluate({
        "agent": "payments-bot", "tool": "stripe/charge", "args": {"amount": 20},
        "principal": {"groups": ["ops"]}, "session": {"purpose": "refund", "history": []},
        "time": "2026-11-25T10:00:00Z"})
    assert (decision.effect, decision.code, decision.rule_ref.rsplit("/", 1)[-1]) == \
        ("PERMIT", "RULE_PERMIT", "governance.fms:7")
