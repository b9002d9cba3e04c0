"""Tool-name canonicalization: one spelling per tool, so no spelling slips past a deny."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faramesh.car import MAX_DEPTH, Caller, build_car, canonical_pattern, canonical_tool
from faramesh.errors import ActionError


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


# --- build_car: one request object -> one CAR, or a structured refusal --------------------

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CALLER = Caller("socket", pid=42, uid=1000, gid=1000)


def test_a_request_becomes_a_car_with_a_canonical_tool_and_an_action_id() -> None:
    car = build_car({"agent": "bot", "tool": " Stripe//Charge ", "args": {"amount": 3},
                     "cost": "1.25", "session_id": "s1", "request_id": "r1"}, CALLER, NOW)
    assert (car.agent_id, car.tool, car.raw_tool) == ("bot", "stripe/charge", " Stripe//Charge ")
    assert car.cost_usd == Decimal("1.25")
    assert (car.session_id, car.request_id, car.caller.pid) == ("s1", "r1", 42)
    assert len(car.action_id) == 26 and car.received_at == NOW


def test_action_ids_are_unique_and_ordered_by_time() -> None:
    ids = [build_car({"agent": "a", "tool": "t"}, CALLER, NOW).action_id for _ in range(100)]
    later = build_car({"agent": "a", "tool": "t"}, CALLER, NOW.replace(minute=1)).action_id
    assert len(set(ids)) == 100
    assert all(later > i for i in ids)


def test_a_call_without_a_session_id_belongs_to_the_default_session() -> None:
    assert build_car({"agent": "a", "tool": "t"}, CALLER, NOW).session_id == "default"


@pytest.mark.parametrize(("request_", "field"), [
    ([], ""),
    ({"tool": "t"}, "agent"),
    ({"agent": "", "tool": "t"}, "agent"),
    ({"agent": 7, "tool": "t"}, "agent"),
    ({"agent": "a"}, "tool"),
    ({"agent": "a", "tool": "  "}, "tool"),
    ({"agent": "a", "tool": "x\x00y"}, "tool"),
    ({"agent": "a", "tool": "t" * 2000}, "tool"),
    ({"agent": "a", "tool": "t", "args": [1]}, "args"),
    ({"agent": "a", "tool": "t", "principal": "root"}, "principal"),
    ({"agent": "a", "tool": "t", "cost": -1}, "cost"),
    ({"agent": "a", "tool": "t", "cost": "NaN"}, "cost"),
    ({"agent": "a", "tool": "t", "cost": True}, "cost"),
    ({"agent": "a", "tool": "t", "cost": "ten"}, "cost"),
    ({"agent": "a", "tool": "t", "session_id": "s" * 65}, "session_id"),
    ({"agent": "a\x1fb", "tool": "t"}, "agent"),
    ({"agent": "a", "tool": "t", "session_id": "s\nx"}, "session_id"),
    ({"agent": "a", "tool": "t", "delegation": "boss"}, "delegation"),
    ({"agent": "a", "tool": "t", "delegation": ["boss", ""]}, "delegation"),
    ({"agent": "a", "tool": "t", "surprise": 1}, "surprise"),
])
def test_a_malformed_request_is_refused_naming_its_field(request_: object, field: str) -> None:
    with pytest.raises(ActionError) as info:
        build_car(request_, CALLER, NOW)  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.code == "ACTION_INVALID"


def test_arguments_nested_beyond_the_limit_are_refused() -> None:
    args: dict[str, object] = {}
    node = args
    for _ in range(MAX_DEPTH + 1):
        child: dict[str, object] = {}
        node["x"] = child
        node = child
    with pytest.raises(ActionError) as info:
        build_car({"agent": "a", "tool": "t", "args": args}, CALLER, NOW)
    assert info.value.field == "args"


def _nested(levels: int, leaf: object) -> dict[str, object]:
    """A mapping `levels` deep (itself level 1) with `leaf` one level further in."""
    node: object = leaf
    for _ in range(levels):
        node = {"x": node}
    assert isinstance(node, dict)
    return node


def test_arguments_reach_exactly_the_depth_limit_and_no_further() -> None:
    # The mapping is level 1, so a leaf inside the MAX_DEPTH-th mapping is one too deep.
    build_car({"agent": "a", "tool": "t", "args": _nested(MAX_DEPTH - 1, 1)}, CALLER, NOW)
    build_car({"agent": "a", "tool": "t", "args": _nested(MAX_DEPTH - 1, {})}, CALLER, NOW)
    build_car({"agent": "a", "tool": "t", "args": _nested(MAX_DEPTH - 1, [])}, CALLER, NOW)
    for leaf in (1, "s", None, {"y": 1}, [1]):
        with pytest.raises(ActionError) as info:
            build_car({"agent": "a", "tool": "t", "args": _nested(MAX_DEPTH, leaf)},
                      CALLER, NOW)
        assert info.value.field == "args"


def test_lists_count_as_levels_of_nesting() -> None:
    deep: object = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(ActionError) as info:
        build_car({"agent": "a", "tool": "t", "principal": {"p": deep}}, CALLER, NOW)
    assert info.value.field == "principal"


def test_action_ids_stay_unique_across_refills_of_the_random_pool() -> None:
    ids = {build_car({"agent": "a", "tool": "t"}, CALLER, NOW).action_id
           for _ in range(2000)}  # the pool holds 256 ids' worth of random bits
    assert len(ids) == 2000


def test_a_car_is_immutable_and_keeps_its_field_names() -> None:
    car = build_car({"agent": "a", "tool": "t", "principal": {"sub": "u1"}}, CALLER, NOW)
    with pytest.raises(AttributeError):
        car.tool = "other"  # type: ignore[misc]
    assert car._fields[:7] == ("action_id", "agent_id", "tool", "raw_tool", "args", "caller",
                               "received_at")
    assert dict(car.principal) == {"sub": "u1"} and car.http == {} and car.delegation == ()


def test_the_caller_is_recorded_without_unknown_parts() -> None:
    assert CALLER.to_dict() == {"transport": "socket", "pid": 42, "uid": 1000, "gid": 1000}
    assert Caller("http", address="10.0.0.1").to_dict() == {"transport": "http",
                                                            "address": "10.0.0.1"}
