"""IR -> FPL text: compiling the emitted text gives back an equal IR."""

from __future__ import annotations

import pytest

from faramesh.fpl.compiler import compile_fpl
from faramesh.fpl.emit import EmitError, ir_to_fpl
from faramesh.fpl.loader import load_policy_ir
from faramesh.policy import ir
from tests.paths import CORPUS

ALL = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".fms", ".fpl", ".yaml")
             and "invalid" not in p.parts)


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_policy_survives_emission_to_fpl(path) -> None:
    policy = load_policy_ir(path)
    assert compile_fpl(ir_to_fpl(policy), "emitted.fms") == policy


def test_modify_rules_emit_set_and_unset_clauses() -> None:
    policy = compile_fpl('agent "a" { rules { modify x set amount = 5 unset card } }', "m")
    text = ir_to_fpl(policy)
    assert "set amount = 5 unset card" in text
    assert compile_fpl(text, "m") == policy


def test_nested_objects_in_modify_args_cannot_be_written_as_fpl() -> None:
    rule = ir.Rule(ir.RuleEffect.MODIFY, "x", modify_args=(("a", {"b": 1}),))
    with pytest.raises(EmitError):
        ir_to_fpl(ir.PolicyIR((ir.Agent("a", rules=(rule,)),)))


def test_flat_rules_emit_at_the_top_level() -> None:
    policy = compile_fpl("default permit\ndeny shell/*\n", "f")
    text = ir_to_fpl(policy)
    assert not text.lstrip().startswith("agent")
    assert compile_fpl(text, "f") == policy
