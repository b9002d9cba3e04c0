"""The records every scanner family shares: a detector, an action and a finding.

A finding names where something was found and what kind of thing it is, with a short
masked excerpt; it never holds the matched text itself, so findings are safe to record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

EXCERPT_CHARS = 32  # at most this many characters of a match are ever shown


class Action(StrEnum):
    """What a finding does to the call (or the output): the wire strings of `on`."""

    DENY = "deny"
    REDACT = "redact"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Detector:
    """One RE2 pattern (no backtracking) and an optional second test on what it matched.

    A group named `v` marks the secret value inside the match (`password=<v>`): the text
    before it is shown in excerpts, and `check` and allow globs see it. Without `v`,
    `reveal` leading characters are shown: a public prefix such as `AKIA` or `ghp_`.
    Patterns avoid `^` and `$` (the engine's prefilter joins strings with NUL bytes) and
    never match a NUL byte.
    """

    detector_id: str
    pattern: str
    reveal: int = 0
    check: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One hit: which scanner and detector, where (`args.card.number`), and the action."""

    scanner: str
    detector: str
    path: str
    excerpt: str  # masked: a public prefix and the length, never the value
    action: Action

    def to_dict(self) -> dict[str, str]:
        return {"scanner": self.scanner, "detector": self.detector, "path": self.path,
                "excerpt": self.excerpt, "action": self.action.value}


def mask(text: str, shown: int) -> str:
    """`AKIA…(20 chars)`: at most `shown` leading characters, capped, then the length."""
    shown = max(0, min(shown, EXCERPT_CHARS))
    return f"{text[:shown]}…({len(text)} chars)"
