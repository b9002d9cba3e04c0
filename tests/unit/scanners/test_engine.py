"""The engine: paths of findings, the one-search fast path, scoping, allow globs, bounded work."""

from __future__ import annotations

import time
from types import MappingProxyType

import pytest

from faramesh.scanners.detector import Action
from faramesh.scanners.engine import (
    MAX_HITS,
    MAX_MATCHES,
    MAX_SCAN_CHARS,
    SCANNERS,
    TRUNCATED,
    Active,
    Plan,
    make_plan,
    scan,
)
from tests.unit.scanners import test_injection, test_pii, test_prompt_injection, test_secrets

AWS = test_secrets.AWS
ALL = make_plan(tuple(Active(s, Action.WARN) for s in SCANNERS))
EXAMPLES = [text for _, text, *_ in (*test_secrets.TRUE_EXAMPLES, *test_pii.TRUE_EXAMPLES,
                                     *test_injection.TRUE_EXAMPLES,
                                     *test_prompt_injection.TRUE_EXAMPLES)]


def found(plan: Plan, value: object) -> list[tuple[str, str]]:
    return [(h.finding.detector, h.finding.path) for h in scan(plan, "args", value)]


def test_a_finding_names_the_path_through_objects_and_lists() -> None:
    args = {"card": {"number": "4111 1111 1111 1111"}, "items": ["ok", {"note": AWS}]}
    assert found(ALL, args) == [("credit_card", "args.card.number"),
                                ("aws_access_key_id", "args.items.1.note")]


@pytest.mark.parametrize("text", EXAMPLES)
def test_the_one_search_fast_path_never_hides_a_finding(text: str) -> None:
    """Joined with other strings for the prefilter, each example is still found."""
    alone = {d for d, _ in found(ALL, {"x": text})}
    among = {d for d, _ in found(ALL, {"a": "hello", "x": text, "z": ["world", 7]})}
    assert alone and alone <= among


def test_clean_arguments_give_no_findings() -> None:
    args = {"to": "bob", "subject": "hello there", "amount": 1200, "note": "refund order 12345"}
    assert found(ALL, args) == []


def test_mapping_views_and_tuples_are_walked() -> None:
    assert found(ALL, MappingProxyType({"t": ("x", AWS)})) == [("aws_access_key_id", "args.t.1")]


def test_fields_narrow_the_paths_a_scanner_sees() -> None:
    plan = make_plan((Active("secrets", Action.DENY, fields=(("args", "body"),)),))
    assert found(plan, {"body": {"text": AWS}, "title": AWS}) == [
        ("aws_access_key_id", "args.body.text")]


def test_a_star_field_segment_matches_any_key_or_index() -> None:
    plan = make_plan((Active("secrets", Action.DENY, fields=(("args", "*", "key"),)),))
    assert found(plan, {"a": {"key": AWS}, "b": [AWS], "key": AWS}) == [
        ("aws_access_key_id", "args.a.key")]


def test_an_allowed_value_is_exempt() -> None:
    plan = make_plan((Active("secrets", Action.DENY,
                             allow=lambda v: v.startswith("AKIAIOSF")),))
    assert found(plan, {"k": AWS}) == []


def test_text_beyond_the_cap_is_one_truncation_finding_per_scanner_for_the_whole_value(
) -> None:
    plan = make_plan((Active("secrets", Action.DENY), Active("pii", Action.WARN)))
    args = {"big": "a" * MAX_SCAN_CHARS, "late": AWS}
    hits = scan(plan, "args", args)
    assert [(h.finding.scanner, h.finding.detector, h.finding.path, h.segments, h.span)
            for h in hits] == [("secrets", TRUNCATED, "args", ("args",), None),
                               ("pii", TRUNCATED, "args", ("args",), None)]
    assert AWS not in str([h.finding for h in hits])


def test_a_string_that_crosses_the_cap_is_scanned_up_to_it() -> None:
    plan = make_plan((Active("secrets", Action.DENY),))
    hits = scan(plan, "args", {"big": AWS + " " + "b" * MAX_SCAN_CHARS})
    assert [h.finding.detector for h in hits] == ["aws_access_key_id", TRUNCATED]


def test_empty_strings_after_the_cap_leave_nothing_unscanned() -> None:
    plan = make_plan((Active("secrets", Action.DENY),))
    assert scan(plan, "args", {"big": "a" * MAX_SCAN_CHARS, "rest": ["", ""]}) == []


def test_after_max_hits_the_rest_is_reported_unscanned() -> None:
    hits = scan(ALL, "args", {"a": ["bob@example.com"] * (MAX_HITS + 500)})
    assert len(hits) == MAX_HITS + len(ALL.active)
    assert {h.finding.detector for h in hits[MAX_HITS:]} == {TRUNCATED}


def test_more_candidates_than_max_matches_make_one_whole_string_hit() -> None:
    hits = scan(ALL, "args", {"a": "bob@example.com " * (MAX_MATCHES + 1)})
    assert [(h.finding.detector, h.span) for h in hits] == [("email", None)]


def test_a_lone_surrogate_is_scanned_around_not_raised_on() -> None:
    text = f"\ud800 key {AWS} \udfff"
    (hit,) = scan(ALL, "args", {"x": text})
    assert hit.span is not None
    assert text[hit.span[0]:hit.span[1]] == AWS


def test_detector_ids_are_unique_across_scanners() -> None:
    ids = [d.detector_id for detectors in SCANNERS.values() for d in detectors]
    assert len(ids) == len(set(ids))


def test_huge_input_is_scanned_in_bounded_time() -> None:
    text = ("../ ' OR 1=1 <!-- " + "x" * 100) * 80_000  # ~9 MiB, hits everywhere
    start = time.perf_counter()
    hits = scan(ALL, "args", {"q": text})
    assert time.perf_counter() - start < 30
    assert {h.finding.detector for h in hits} >= {TRUNCATED, "path_traversal"}
