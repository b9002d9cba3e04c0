"""The `scan` block: accepted by the schema in agents and flat policies, checked, round-tripped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from faramesh import PolicyError
from faramesh.cli.main import main
from faramesh.fpl.compiler import compile_fpl
from faramesh.fpl.emit import ir_to_fpl
from faramesh.fpl.ir_codec import dump_json, dump_yaml
from faramesh.fpl.loader import load_policy_ir
from faramesh.policy import ir

FULL = """\
agent "payments-bot" {
  default permit
  scan secrets {
    on = deny
    on_output = redact
    tools = ["stripe/*"]
    except_tools = ["docs/*"]
    fields = ["args.body"]
    allow = ["sk_test_*"]
  }
  scan pii { on = "warn" }
}
"""


def scan_blocks(policy: ir.PolicyIR) -> list[ir.Block]:
    return [b for a in policy.agents for b in a.blocks if b.kind == "scan"]


def test_a_scan_block_compiles_to_a_block_named_by_its_scanner() -> None:
    block, pii = scan_blocks(compile_fpl(FULL, "p.fms"))
    assert (block.name, block.get("on"), block.get("on_output")) == ("secrets", "deny", "redact")
    assert block.get("tools") == ("stripe/*",)
    assert block.get("except_tools") == ("docs/*",)
    assert block.get("fields") == ("args.body",)
    assert block.get("allow") == ("sk_test_*",)
    assert (pii.name, pii.get("on"), block.origin.line) == ("pii", "warn", 3)


def test_a_scan_block_may_stand_at_the_top_level_of_a_flat_policy() -> None:
    policy = compile_fpl('default permit\nscan injection { on = warn }\npermit x\n', "f.fms")
    (agent,) = policy.agents
    assert agent.agent_id == ir.ANY_AGENT
    assert [b.name for b in scan_blocks(policy)] == ["injection"]


@pytest.mark.parametrize(("text", "codes"), [
    ('agent "a" { scan secrets { on = block } }', ["bad-value"]),
    ('agent "a" { scan secrets { on_output = defer } }', ["bad-value"]),
    ('agent "a" { scan { on = warn } }', ["missing-name"]),
    ('agent "a" { scan secrets { mode = warn } }', ["unknown-field"]),
    ('agent "a" { scan secrets { tools = 3 } }', ["type"]),
    ('agent "a" {\n scan pii { }\n scan pii { }\n}', ["duplicate-block"]),
])
def test_malformed_scan_blocks_are_located_compile_errors(text: str, codes: list[str]) -> None:
    with pytest.raises(PolicyError) as info:
        compile_fpl(text, "bad.fms")
    assert [d.code for d in info.value.diagnostics] == codes
    assert all(d.span.line >= 1 and d.span.column >= 1 for d in info.value.diagnostics)


def test_emitted_fpl_compiles_back_to_the_same_scan_blocks() -> None:
    policy = compile_fpl(FULL, "p.fms")
    assert compile_fpl(ir_to_fpl(policy), "emitted.fms") == policy


@pytest.mark.parametrize("dump", [dump_json, dump_yaml])
def test_the_ir_encodings_round_trip_scan_blocks(dump: Callable[[ir.PolicyIR], str]) -> None:
    policy = compile_fpl(FULL, "p.fms")
    assert load_policy_ir(dump(policy)) == policy


def test_faramesh_check_accepts_scan_blocks(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "governance.fms"
    path.write_text(FULL, encoding="utf-8")
    assert main(["check", str(path)]) == 0
    assert "ok (1 agent" in capsys.readouterr().out


def test_an_unknown_scanner_name_is_a_located_compile_error() -> None:
    from faramesh.errors import PolicyError
    from faramesh.fpl.loader import load_policy_ir

    with pytest.raises(PolicyError) as info:
        load_policy_ir('agent "a" {\n  rules { permit x }\n  scan secret { on = deny }\n}\n')
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line) == ("unknown-scanner", 3)
