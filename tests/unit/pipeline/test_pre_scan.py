"""Stage 3, pre-scan: findings are recorded, deny ends the call, redact masks the field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

import faramesh
from faramesh.car import Caller, build_car
from faramesh.pipeline import pre_scan
from faramesh.pipeline.call import Call, Env, Settings
from faramesh.pipeline.redaction import masked
from faramesh.policy.decision import Code, Effect
from faramesh.scanners.engine import MAX_SCAN_CHARS
from tests.unit.scanners.test_secrets import AWS
from tests.unit.scanners.unchecked import unchecked_policy

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
# pre_scan never touches state or the log, so placeholders stand in for them.
ENV = Env(state=cast(Any, None), log=cast(Any, None), settings=Settings(), clock=lambda: NOW)

POLICY = """\
agent "bot" {
  default permit
  scan pii { on = redact  tools = ["crm/*"] }
  scan injection { on = deny  tools = ["db/*"]  except_tools = ["db/admin"] }
  scan secrets { on = deny  allow = ["sk_test_*"] }
}
agent "plain" { default permit }
"""


def run(args: dict[str, Any], *, tool: str = "crm/update", agent: str = "bot",
        policy: str = POLICY) -> Call:
    compiled = faramesh.load_policy(policy)
    car = build_car({"agent": agent, "tool": tool, "args": args}, Caller("inprocess"), NOW)
    call = Call(car, compiled, compiled.agents.get(agent))
    asyncio.run(pre_scan.run(call, ENV))
    return call


def test_clean_arguments_leave_the_call_undecided() -> None:
    call = run({"name": "Ada", "note": "renewal next week"})
    assert (call.decision, call.findings, call.mask_paths) == (None, [], [])


def test_a_deny_scanner_ends_the_call_with_scan_deny_naming_the_path() -> None:
    call = run({"config": {"aws": AWS}}, tool="deploy/run")
    assert call.decision is not None
    assert (call.decision.effect, call.decision.code) == (Effect.DENY, Code.SCAN_DENY)
    assert "args.config.aws" in call.decision.reason
    assert call.decision.rule_ref == "<policy>:5"
    assert call.findings == [{"scanner": "secrets", "detector": "aws_access_key_id",
                              "path": "args.config.aws", "action": "deny"}]


def test_the_default_secrets_deny_has_no_rule_ref() -> None:
    call = run({"k": AWS}, agent="plain")
    assert call.decision is not None
    assert (call.decision.code, call.decision.rule_ref) == (Code.SCAN_DENY, None)


def test_a_denied_field_is_also_masked_so_the_record_never_holds_it() -> None:
    call = run({"config": {"aws": AWS}}, tool="deploy/run")
    assert call.mask_paths == ["config.aws"]


def test_neither_the_findings_nor_the_reason_contain_the_secret() -> None:
    call = run({"k": f"use {AWS} please"}, tool="deploy/run")
    assert call.decision is not None
    assert AWS not in str(call.findings) + call.decision.reason


def test_redact_puts_the_path_relative_to_args_in_mask_paths() -> None:
    call = run({"contact": {"name": "Ada", "email": "ada@example.com"}})
    assert call.decision is None
    assert call.mask_paths == ["contact.email"]
    assert call.findings == [{"scanner": "pii", "detector": "email",
                              "path": "args.contact.email", "action": "redact"}]


def test_a_finding_inside_a_list_masks_that_field_of_every_element() -> None:
    """The redaction stage's paths have no list indexes: mask more, never less."""
    call = run({"contacts": [{"email": "x"}, {"email": "ada@example.com"}],
                "tags": ["vip", "bob@example.com"]})
    assert call.mask_paths == ["contacts.email", "tags"]
    assert call.findings[0]["path"] == "args.contacts.1.email"


@pytest.mark.parametrize("args", [
    {"a": {"b": [{"c": AWS}]}},
    {"list": [[AWS]]},
    {"outer": {"dotted.key": AWS}},
])
def test_the_redaction_stage_masks_every_path_this_stage_marks(args: dict[str, Any]) -> None:
    call = run(args, tool="deploy/run")
    assert call.decision is not None
    assert AWS not in str(masked(call.car.args, call.mask_paths))


def test_warn_records_the_finding_and_warns_once() -> None:
    call = run({"to": "ada@example.com", "cc": "bob@example.com"}, agent="plain")
    assert (call.decision, call.mask_paths) == (None, [])  # the default: pii warns
    assert [f["action"] for f in call.findings] == ["warn", "warn"]
    assert call.warnings == [Code.SCAN_WARNING]


def test_a_per_tool_exception_suppresses_the_scanner() -> None:
    assert run({"q": "' OR 1=1"}, tool="db/query").decision is not None
    assert run({"q": "' OR 1=1"}, tool="db/admin").decision is None


def test_an_allow_glob_suppresses_a_finding() -> None:
    call = run({"env": "api_key=sk_test_4eC39HqLyjWDarjtT1zdp7dc"}, tool="deploy/run")
    assert (call.decision, call.findings) == (None, [])


def test_an_unknown_agent_is_left_to_the_identity_stage() -> None:
    call = run({"k": AWS}, agent="stranger")
    assert (call.decision, call.findings) == (None, [])


def test_an_unknown_scanner_name_fails_closed_at_its_block() -> None:
    compiled = unchecked_policy('agent "bot" {\n  default permit\n  scan secret { }\n}')
    car = build_car({"agent": "bot", "tool": "t", "args": {"x": "hi"}}, Caller("inprocess"),
                    NOW)
    call = Call(car, compiled, compiled.agents["bot"])
    asyncio.run(pre_scan.run(call, ENV))
    assert call.decision is not None
    assert (call.decision.code, call.decision.rule_ref) == (Code.SCAN_DENY, "<policy>:3")


def test_a_path_is_masked_once_even_with_several_findings() -> None:
    call = run({"c": "ada@example.com, bob@example.com"})
    assert call.mask_paths == ["c"]
    assert len(call.findings) == 2


def test_oversized_arguments_are_denied_and_every_field_is_masked() -> None:
    call = run({"big": "a" * MAX_SCAN_CHARS, "late": AWS, "n": 1}, agent="plain")
    assert call.decision is not None
    assert call.decision.code == Code.SCAN_DENY
    assert {"scanner": "secrets", "detector": "scan_truncated", "path": "args",
            "action": "deny"} in call.findings
    assert sorted(call.mask_paths) == ["big", "late", "n"]
