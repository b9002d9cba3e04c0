"""Bounded fuzzing of the policy front end: any input ends in a policy or located errors.

Hypothesis drives three generators: raw bytes, text built from FPL's own vocabulary, and
mutations of the published corpus. Inputs that once broke the front end are kept in
tests/fuzz/crashers/ and replayed on every run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faramesh import PolicyError, PolicyLoadError
from faramesh.fpl.loader import compile_text, detect_form
from faramesh.policy import ir
from tests.paths import CORPUS

CRASHERS = sorted((Path(__file__).parent / "crashers").glob("*"))
SEEDS = [p.read_text() for p in sorted(CORPUS.rglob("*")) if p.suffix in (".fms", ".fpl",
                                                                          ".yaml")]
VOCAB = ["agent", '"a"', "{", "}", "rules", "permit", "deny", "deny!", "defer", "when", "if",
         "reason", ":", '"r"', "amount", "<", "$50", "and", "or", "not", "(", ")", "[", "]",
         ",", "shell/*", "**", "budget", "daily", "max", "phase", "p", "15m", "10mb", "=",
         "matches", '"(a+)+$"', "in", "contains", "env", '"X"', "var", "x", "rate_limit",
         "per", "minute", "\n", " ", "#c\n", "'", "\\", "\x00", "é", "ｓ", "manifest",
         "import", '"y@latest"', "history_sequence", "session.sum", "nil", "true", "-1",
         "1e9", "$", "!", "&&", "||", "==", "!=", ">=", "redact", "args", "delegate"]


def _outcome(text: str, form: str) -> ir.PolicyIR | None:
    lines = max(1, text.count("\n") + 1)
    try:
        return compile_text(text, "fuzz", form)
    except PolicyError as exc:
        assert exc.diagnostics, "a rejected policy names at least one error"
        for d in exc.diagnostics:
            assert 1 <= d.span.line <= lines + 1, d
            assert d.span.column >= 1, d
        return None
    except PolicyLoadError:
        return None


@pytest.mark.fuzz
@given(st.binary(max_size=400))
def test_arbitrary_bytes_end_in_a_policy_or_located_errors(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    _outcome(text, detect_form(text))


@pytest.mark.fuzz
@given(st.lists(st.sampled_from(VOCAB), max_size=60))
def test_fpl_vocabulary_soup_ends_in_a_policy_or_located_errors(words: list[str]) -> None:
    _outcome(" ".join(words), "fpl")


@pytest.mark.fuzz
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_corpus_files_end_in_a_policy_or_located_errors(seed: str,
                                                               data: st.DataObject) -> None:
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        size = data.draw(st.integers(1, 30))
        if op == "delete":
            text = text[:at] + text[at + size:]
        elif op == "insert":
            text = text[:at] + data.draw(st.sampled_from(VOCAB)) + text[at:]
        else:
            text = text[:at] + text[at:at + size] * 2 + text[at + size:]
    _outcome(text, data.draw(st.sampled_from(["fpl", "yaml"])))


@pytest.mark.parametrize("path", CRASHERS, ids=lambda p: p.name)
def test_known_crashers_end_in_a_policy_or_located_errors(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", "replace")
    for form in ("fpl", "yaml", "json"):
        _outcome(text, form)


def test_deep_nesting_is_rejected_not_a_recursion_error() -> None:
    with pytest.raises(PolicyError) as info:
        compile_text("deny x when " + "(" * 5000 + "a" + ")" * 5000, "deep", "fpl")
    assert info.value.diagnostics[0].code == "too-deep"
    with pytest.raises(PolicyError):
        compile_text("a {" * 5000 + "}" * 5000, "deep", "fpl")
