"""The PII scanner: emails, Luhn-checked card numbers, US SSNs, phone numbers (conservative)."""

from __future__ import annotations

import pytest

from faramesh.scanners.detector import Action
from faramesh.scanners.engine import Active, make_plan, scan
from faramesh.scanners.pii import luhn_valid
from tests.unit.scanners.cases import detectors_of, example_ids

PLAN = make_plan((Active("pii", Action.WARN),))
detectors = detectors_of("pii", Action.WARN, "args", "v")

TRUE_EXAMPLES = [
    ("email", "write to bob.smith+billing@example.co.uk today", "bob.smith+billing"),
    ("credit_card", "card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("credit_card", "5555-5555-5555-4444", "5555-5555-5555-4444"),
    ("credit_card", "amex 378282246310005", "378282246310005"),
    ("us_ssn", "ssn 123-45-6789", "123-45-6789"),
    ("phone", "call (415) 555-0132 after 5", "555-0132"),
    ("phone", "call +1 415-555-0132", "555-0132"),
    ("phone", "call +442079460958", "2079460958"),
]

NEAR_MISSES = [
    "user@localhost",
    "4111 1111 1111 1112",  # fails the Luhn check
    "0000 0000 0000 0000",  # passes Luhn, but no issuer uses it
    "9111111111111111",  # no issuer prefix
    "000-12-3456",  # area 000 is never issued
    "666-12-3456",
    "123-00-4567",
    "123456789",  # an SSN must be written with dashes
    "order 12345 shipped 2024-01-15",
    "version 1.2.3.4",
    "call 123-555-0132",  # a NANP area code never starts with 1
    "extension 4567",
]



@pytest.mark.parametrize(("detector", "text", "value"), TRUE_EXAMPLES,
                         ids=example_ids(TRUE_EXAMPLES))
def test_each_detector_fires_on_a_true_example(detector: str, text: str, value: str) -> None:
    assert detector in detectors(text)


@pytest.mark.parametrize(("detector", "text", "value"), TRUE_EXAMPLES,
                         ids=example_ids(TRUE_EXAMPLES))
def test_a_finding_never_contains_the_personal_data(detector: str, text: str,
                                                     value: str) -> None:
    for hit in scan(PLAN, "args", {"v": text}):
        assert value not in str(hit.finding.to_dict())


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_do_not_fire(text: str) -> None:
    assert detectors(text) == []


def test_a_card_number_sent_as_a_json_number_is_found() -> None:
    assert detectors(4111111111111111) == ["credit_card"]


def test_small_numbers_and_booleans_are_not_scanned() -> None:
    assert detectors(1200) == []
    assert detectors(True) == []


@pytest.mark.parametrize(("digits", "valid"), [("4111111111111111", True),
                                               ("79927398713", True),
                                               ("79927398710", False)])
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid
