"""The published FPL corpus: every valid file compiles, every invalid one is rejected,
every legacy YAML pack loads, and YAML packs and their FPL sidecars both load."""

from __future__ import annotations

from pathlib import Path

import pytest

from faramesh import PolicyError, load_policy
from faramesh.fpl.loader import load_policy_ir
from tests.paths import CORPUS

VALID = sorted(
    p for p in CORPUS.rglob("*") if p.suffix in (".fpl", ".fms", ".yaml")
    and "invalid" not in p.parts
)
INVALID = sorted((CORPUS / "spec-conformance" / "invalid").glob("*.fpl"))


def _id(p: Path) -> str:
    return str(p.relative_to(CORPUS))


def test_the_corpus_is_not_empty() -> None:
    assert len(VALID) >= 50
    assert INVALID


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_valid_corpus_file_compiles(path: Path) -> None:
    policy = load_policy(path)
    assert policy.agent_ids, "a policy declares at least one agent"


@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_corpus_file_is_rejected_with_a_located_error(path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    first = info.value.diagnostics[0]
    assert first.span.file == str(path)
    assert first.span.line >= 1 and first.span.column >= 1


PACKS_WITH_BOTH = sorted(p.parent for p in CORPUS.glob("packs/*/policy.yaml")
                         if (p.parent / "policy.fpl").exists())


@pytest.mark.parametrize("pack", PACKS_WITH_BOTH, ids=lambda p: p.name)
def test_yaml_pack_and_its_fpl_sidecar_both_load_for_the_same_agent(pack: Path) -> None:
    from_yaml = load_policy_ir(pack / "policy.yaml")
    from_fpl = load_policy_ir(pack / "policy.fpl")
    assert {a.agent_id for a in from_yaml.agents} == {a.agent_id for a in from_fpl.agents}


def test_sidecar_and_yaml_agree_on_shell_for_the_payment_pack() -> None:
    pack = CORPUS / "packs" / "faramesh-payment-agent"
    action = {"agent": "payment-agent", "tool": "shell/exec", "args": {"cmd": "ls"}}
    for name in ("policy.yaml", "policy.fpl"):
        assert load_policy(pack / name).evaluate(action).effect == "DENY"


def test_stack_payments_example_decides_by_amount_and_group() -> None:
    policy = load_policy(CORPUS / "stack-examples" / "payments.fms")
    base = {"agent": "payments-bot", "tool": "stripe/charge"}
    assert policy.evaluate({**base, "args": {"amount": 20}}).code == "RULE_PERMIT"
    ops = {**base, "args": {"amount": 200}, "principal": {"groups": ["ops"]}}
    assert policy.evaluate(ops).effect == "PERMIT"
    assert policy.evaluate({**base, "args": {"amount": 200}}).effect == "DEFER"
    assert policy.evaluate({**base, "args": {"amount": 20000}}).code == "POLICY_DENY"
    missing = policy.evaluate({**base, "args": {}})
    assert missing.effect == "DEFER"
    assert missing.trace[0].undecided == ("args.amount",)


def test_spec_infra_bot_conditional_deny_bang_blocks_destructive_commands() -> None:
    policy = load_policy(CORPUS / "spec-examples" / "infra-bot.fpl")
    run = {"agent": "infra-bot", "tool": "shell/run"}
    assert policy.evaluate({**run, "args": {"cmd": "terraform destroy"}}).code == \
        "MANDATORY_DENY"
    assert policy.evaluate({**run, "args": {"cmd": "kubectl apply"}}).effect == "DEFER"
    assert policy.evaluate({**run, "args": {"cmd": "ls -la"}}).effect == "PERMIT"
    assert policy.evaluate({"agent": "infra-bot", "tool": "web/get"}).code == "POLICY_DENY"


def test_customer_support_phases_gate_tools_before_rules() -> None:
    policy = load_policy(CORPUS / "spec-examples" / "customer-support.fpl")
    intake = {"agent": "support-bot", "session": {"phase": "intake"}}
    assert policy.evaluate({**intake, "tool": "read_customer"}).effect == "PERMIT"
    assert policy.evaluate({**intake, "tool": "issue_credit",
                            "args": {"amount": 5}}).code == "PHASE_DENY"
    resolve = {"agent": "support-bot", "session": {"phase": "resolve"}}
    assert policy.evaluate({**resolve, "tool": "issue_credit",
                            "args": {"amount": 5}}).effect == "PERMIT"
    assert policy.evaluate({**resolve, "tool": "send_email",
                            "args": {"recipients": 50}}).code == "MANDATORY_DENY"


def test_invalid_policy_text_raises_policy_error_not_a_traceback() -> None:
    with pytest.raises(PolicyError):
        load_policy("agent {\n  default deny\n}\n")
