"""Tool-name canonicalization: one spelling per tool, so no spelling slips past a deny."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.car import canonical_pattern, canonical_tool


@pytest.mark.parametrize(("raw", "canonical"), [
    ("stripe/refund", "stripe/refund"),
    ("SHELL/exec", "shell/exec"),
    ("Shell/EXEC", "shell/exec"),
    ("  shell/exec\t\n", "shell/exec"),
    (" admin//delete", "admin/delete"),
    ("admin///delete//", "admin/delete"),
    ("a/ /b", "a/b"),
    ("shell /exec", "shell/exec"),
    ("./shell/exec", "shell/exec"),
    ("../shell/exec", "shell/exec"),
    ("./../.././shell/exec", "shell/exec"),
    ("./ ../shell/exec", "shell/exec"),
    ("/shell/exec", "shell/exec"),
    ("shell/../exec", "shell/../exec"),  # only leading dot segments go
])
def test_ascii_spellings_fold_to_one_name(raw: str, canonical: str) -> None:
    assert canonical_tool(raw) == canonical


@pytest.mark.parametrize(("raw", "canonical"), [
    ("ＳＨＥＬＬ/ｅｘｅｃ", "shell/exec"),  # fullwidth (NFKC)
    ("ｓｈｅｌｌ／ｅｘｅｃ", "shell/exec"),  # fullwidth solidus is a separator after NFKC
    ("\ufb01le/read", "file/read"),  # the `fi` ligature
    ("sh\u0435ll/exec", "shell/exec"),  # Cyrillic ie
    ("\u0455hell/exec", "shell/exec"),  # Cyrillic dze
    ("\u0405HELL/exec", "shell/exec"),  # Cyrillic capital dze
    ("\u0430dmin/delete", "admin/delete"),  # Cyrillic a
    ("adm\u0130n/delete", "admin/delete"),  # dotted capital I: case folding decomposes it
    ("sh\u200bell/exec", "shell/exec"),  # zero-width space
    ("sh\u200dell/ex\u200cec", "shell/exec"),  # zero-width joiner, non-joiner
    ("\u202eshell/exec\u202c", "shell/exec"),  # bidi override and pop
    ("\u2066shell\u2069/exec", "shell/exec"),  # bidi isolates
    ("\ufeffshell/exec", "shell/exec"),  # byte-order mark
    ("sh\u00adell/exec", "shell/exec"),  # soft hyphen
    ("shell\ufe0f/exec", "shell/exec"),  # variation selector
    ("STRASSE/\u00df", "strasse/ss"),  # full case folding
])
def test_unicode_spellings_fold_to_one_name(raw: str, canonical: str) -> None:
    assert canonical_tool(raw) == canonical


@pytest.mark.parametrize("raw", ["shell\x00/exec", "\x00", "shell/exec\x00", "ｓ\x00"])
def test_a_nul_byte_anywhere_is_refused(raw: str) -> None:
    assert canonical_tool(raw) is None


@pytest.mark.parametrize("raw", ["", "   ", "/", "//", "./", "../..", "\u200b"])
def test_names_with_nothing_left_are_empty(raw: str) -> None:
    assert canonical_tool(raw) == ""


def test_patterns_fold_like_names_and_keep_wildcards() -> None:
    assert canonical_pattern("SHELL/*") == "shell/*"
    assert canonical_pattern(" Admin//** ") == "admin/**"
    assert canonical_pattern("*") == "*"
    assert canonical_pattern("bad\x00") == ""


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_canonical_names_are_fixed_points(raw: str) -> None:
    name = canonical_tool(raw)
    if name is not None:
        assert canonical_tool(name) == name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00")))
def test_canonical_names_have_no_empty_or_padded_segments(raw: str) -> None:
    name = canonical_tool(raw)
    assert name is not None
    if name:
        segments = name.split("/")
        assert all(s and s == s.strip() for s in segments)
        assert segments[0] not in (".", "..")
        assert name == name.casefold()
