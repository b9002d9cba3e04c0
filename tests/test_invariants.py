"""Every invariant of DESIGN.md section 2 is attacked by tests that exist (tests/invariants.py)."""

from __future__ import annotations

import ast

import pytest

from tests.invariants import INVARIANTS
from tests.paths import ROOT


def _test_names(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text("utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")}


@pytest.mark.parametrize("invariant_id", sorted(INVARIANTS))
def test_each_invariant_names_existing_tests_or_the_work_that_builds_it(
        invariant_id: str) -> None:
    invariant = INVARIANTS[invariant_id]
    assert invariant.tests or invariant.pending, f"{invariant_id} has no test"
    for node_id in invariant.tests:
        path, _, name = node_id.partition("::")
        assert name in _test_names(path), f"{invariant_id}: {node_id} does not exist"
