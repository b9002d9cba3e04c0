"""Every policy shown in docs/fpl.md compiles (or fails exactly as the page says)."""

from __future__ import annotations

import re

import pytest

from faramesh import PolicyError
from faramesh.fpl.compiler import compile_fpl
from tests.paths import ROOT

PAGE = (ROOT / "docs" / "fpl.md").read_text()
BLOCKS = [b for b in re.findall(r"```\n(.*?)```", PAGE, re.S) if not b.startswith("$")
          and not re.match(r"\w+\.fms:\d", b)]


def test_the_language_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("text", BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_documented_policy_compiles_or_fails_as_documented(text: str) -> None:
    expected = re.findall(r"error\[([\w-]+)\]", text)
    if not expected:
        assert compile_fpl(text, "doc.fms").agents
        return
    with pytest.raises(PolicyError) as info:
        compile_fpl(text, "doc.fms")
    assert [d.code for d in info.value.diagnostics] == expected
