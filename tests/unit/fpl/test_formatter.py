"""`fmt` is idempotent, keeps comments and dialect, and never changes meaning."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faramesh import PolicyError
from faramesh.fpl.compiler import compile_fpl, parse_policy_text
from faramesh.fpl.formatter import format_file
from tests.paths import CORPUS

FPL_FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".fms", ".fpl"))
SNIPPETS = ["permit a/b", "deny! shell/*", "defer x when amount > $5", 'reason "r"',
            "when", "if", "and", "or", "not", "(", ")", "x == 1", "\n", "# note\n",
            "rules {", "}", 'agent "z" {', "default permit", "budget daily { max $1 }",
            'rate_limit "a/*": 2 per minute', "var v = 3", "phase p { permit q }",
            "redact a args: [\"b\"]", "reason: \"s\"", "notify: \"n\"", "allow", "block"]


def fmt(text: str) -> str:
    tree, sink = parse_policy_text(text, "f.fms")
    assert not sink.items
    return format_file(tree)


@pytest.mark.parametrize("path", FPL_FILES, ids=lambda p: p.name)
def test_formatting_a_corpus_file_is_idempotent_and_keeps_its_meaning(path) -> None:
    text = path.read_text()
    tree, sink = parse_policy_text(text, str(path))
    if sink.items:
        pytest.fail(f"corpus file does not parse: {sink.items[0].render()}")
    once = format_file(tree)
    assert fmt(once) == once
    try:
        original = compile_fpl(text, str(path))
    except PolicyError:
        return  # the invalid conformance files stay invalid; idempotence is enough
    assert compile_fpl(once, str(path)) == original


def test_comments_survive_formatting() -> None:
    text = "# top\nagent \"a\" {\n  # before rules\n  rules {\n    permit x # tail\n" \
           "    # last\n  }\n}\n# end\n"
    out = fmt(text)
    for comment in ("# top", "# before rules", "# tail", "# last", "# end"):
        assert comment in out


def test_each_construct_keeps_the_dialect_it_was_written_in() -> None:
    out = fmt('agent a {\n rules {\n  deny x when y == 1\n   reason: "r"\n }\n}\n'
              'agent "b" {\n model = "m"\n rules { permit x if y == 1 reason "r" }\n}\n')
    assert 'deny x when y == 1 reason: "r"' in out
    assert 'permit x if y == 1 reason "r"' in out
    assert 'model = "m"' in out
    assert 'agent a {' in out and 'agent "b" {' in out


def test_long_rules_wrap_one_clause_per_line() -> None:
    cond = " and ".join(f"arg{i} == {i}" for i in range(12))
    out = fmt(f'agent a {{\n rules {{ deny x when {cond} reason "r" }}\n}}\n')
    assert "\n        reason \"r\"" in out
    assert fmt(out) == out


@given(st.sampled_from(FPL_FILES), st.data())
def test_formatting_any_parseable_mutation_is_idempotent_and_meaning_preserving(
        path, data: st.DataObject) -> None:
    text = path.read_text()
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + " " + data.draw(st.sampled_from(SNIPPETS)) + " " + text[at:]
    tree, sink = parse_policy_text(text, "m.fms")
    if sink.items:
        return
    once = format_file(tree)
    assert fmt(once) == once
    try:
        before = compile_fpl(text, "m.fms", env={})
    except PolicyError as exc:
        with pytest.raises(PolicyError) as again:
            compile_fpl(once, "m.fms", env={})
        assert [d.code for d in again.value.diagnostics] == \
            [d.code for d in exc.diagnostics]
        return
    assert compile_fpl(once, "m.fms", env={}) == before
