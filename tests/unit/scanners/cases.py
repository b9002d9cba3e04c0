"""What the detector tests of every scanner share: run one scanner on one value, and name
the parametrized true examples after their detector."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from faramesh.scanners.detector import Action
from faramesh.scanners.engine import Active, make_plan, scan


def detectors_of(scanner: str, action: Action, place: str,
                 key: str) -> Callable[[object], list[str]]:
    """The detectors `scanner` reports for a value put at `place.key`."""
    plan = make_plan((Active(scanner, action),))

    def detectors(value: object) -> list[str]:
        return [h.finding.detector for h in scan(plan, place, {key: value})]

    return detectors


def example_ids(examples: Sequence[Sequence[Any]]) -> list[str]:
    """`detector-index` ids for examples whose first item is the detector's name."""
    return [f"{example[0]}-{i}" for i, example in enumerate(examples)]
