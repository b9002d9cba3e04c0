"""Scanner configuration from real policies: defaults, `scan` blocks, tools, fields, allow."""

from __future__ import annotations

import re

import faramesh
from faramesh.fpl.loader import load_policy_ir
from faramesh.policy import ir
from faramesh.scanners.config import ARGS, OUTPUT, check_scan_blocks, config_for
from faramesh.scanners.engine import scan
from tests.paths import ROOT
from tests.unit.scanners.test_secrets import AWS
from tests.unit.scanners.unchecked import unchecked_policy


def agent(text: str, agent_id: str = "a") -> ir.Agent:
    return faramesh.load_policy(text).agents[agent_id].agent


def actions(policy_agent: ir.Agent | None, place: str, tool: str) -> dict[str, str]:
    plan = config_for(policy_agent).plan(place, tool)
    return {a.scanner: a.action.value for a in plan.active}


def test_defaults_when_an_agent_declares_no_scan_blocks() -> None:
    a = agent('agent "a" { default permit }')
    assert actions(a, ARGS, "x") == {"secrets": "deny", "pii": "warn", "injection": "warn"}
    assert actions(a, OUTPUT, "x") == {"secrets": "redact", "pii": "redact",
                                       "prompt_injection": "deny"}


def test_an_unknown_agent_gets_the_defaults() -> None:
    assert actions(None, ARGS, "x")["secrets"] == "deny"


def test_a_scan_block_replaces_only_its_own_scanners_defaults() -> None:
    a = agent('agent "a" {\n  default permit\n  scan pii { on = deny }\n}')
    assert actions(a, ARGS, "x") == {"secrets": "deny", "pii": "deny", "injection": "warn"}
    assert actions(a, OUTPUT, "x")["pii"] == "redact"  # `on_output` unset: the default


def test_on_output_sets_the_output_action() -> None:
    a = agent('agent "a" {\n  default permit\n  scan prompt_injection { on_output = warn }\n}')
    assert actions(a, OUTPUT, "x")["prompt_injection"] == "warn"
    assert "prompt_injection" not in actions(a, ARGS, "x")


def test_tools_and_except_tools_choose_where_a_block_applies() -> None:
    a = agent('agent "a" {\n  default permit\n'
              '  scan secrets { on = redact  tools = ["stripe/*", "docs/**"]'
              '  except_tools = ["docs/public/*"] }\n}')
    assert actions(a, ARGS, "stripe/refund")["secrets"] == "redact"
    assert actions(a, ARGS, "docs/internal/read")["secrets"] == "redact"
    assert "secrets" not in actions(a, ARGS, "docs/public/read")
    assert "secrets" not in actions(a, ARGS, "shell/exec")


def test_tool_globs_match_the_canonical_tool_name() -> None:
    a = agent('agent "a" {\n  default permit\n  scan secrets { except_tools = ["Docs/*"] }\n}')
    assert "secrets" not in actions(a, ARGS, "docs/read")


def test_fields_narrow_only_the_root_they_name() -> None:
    a = agent('agent "a" {\n  default permit\n  scan secrets { fields = ["args.body"] }\n}')
    config = config_for(a)
    assert [h.finding.path for h in scan(config.plan(ARGS, "x"), ARGS,
                                         {"body": AWS, "title": AWS})] == ["args.body"]
    assert len(scan(config.plan(OUTPUT, "x"), OUTPUT, {"body": AWS, "title": AWS})) == 2


def test_an_allow_glob_exempts_matching_values() -> None:
    a = agent('agent "a" {\n  default permit\n'
              '  scan secrets { allow = ["sk_test_*", "AKIAIOSF*"] }\n}')
    plan = config_for(a).plan(ARGS, "x")
    assert scan(plan, ARGS, {"k": AWS, "c": "api_key=sk_test_4eC39HqLyjWDarjtT1zdp7dc"}) == []
    assert [h.finding.detector for h in scan(plan, ARGS, {"c": "api_key=sk_live_XYZ123abc456"})
            ] == ["assigned_secret"]


def test_a_block_at_the_top_level_configures_the_flat_agent() -> None:
    a = agent('default permit\nscan injection { on = deny }\npermit x\n', "*")
    assert actions(a, ARGS, "x")["injection"] == "deny"


def test_the_compiled_config_is_cached_per_policy_agent() -> None:
    a = agent('agent "a" { default permit }')
    assert config_for(a) is config_for(a)
    assert config_for(a).plan(ARGS, "x") is config_for(a).plan(ARGS, "x")


def test_an_unknown_scanner_is_a_located_error() -> None:
    text = 'agent "a" {\n  default permit\n  scan secret { on = deny }\n}'
    (error,) = check_scan_blocks(unchecked_policy(text).ir)
    assert (error.code, error.span.line, error.span.column) == ("unknown-scanner", 3, 3)
    assert config_for(unchecked_policy(text).agents["a"].agent).errors


def test_a_field_outside_args_and_output_is_a_located_error() -> None:
    text = 'agent "a" {\n  default permit\n  scan pii { fields = ["body"] }\n}'
    assert [(e.code, e.span.line) for e in check_scan_blocks(unchecked_policy(text).ir)] == [
        ("bad-value", 3)]


def test_valid_scan_blocks_have_no_errors() -> None:
    text = ('agent "a" {\n  default permit\n  scan secrets { on = deny  tools = ["stripe/*"]'
            '  except_tools = ["docs/*"]  fields = ["args.body"]  allow = ["sk_test_*"] }\n}')
    assert check_scan_blocks(load_policy_ir(text)) == []


def test_the_policies_on_the_scanners_page_compile_and_check_clean() -> None:
    page = (ROOT / "docs" / "scanners.md").read_text()
    examples = re.findall(r"```\n(.*?)```", page, re.S)
    assert examples
    for text in examples:
        assert check_scan_blocks(load_policy_ir(text)) == []
