"""The one exception hierarchy of faramesh; every class carries a stable code.

    FarameshError                       code
    ├── PolicyError                     POLICY_INVALID   (one or more located diagnostics)
    ├── PolicyLoadError                 POLICY_UNREADABLE (a file that cannot be read)
    └── ActionError                     ACTION_INVALID   (an action that is not a mapping of the
                                                          documented shape; `evaluate` never
                                                          raises it, it answers a DENY instead)

A DENY is a value, not an exception: nothing in the decision path raises to deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from faramesh.fpl.diagnostics import Diagnostic


class FarameshError(Exception):
    """Base of every error faramesh raises on purpose."""

    code: ClassVar[str] = "FARAMESH_ERROR"


class PolicyError(FarameshError):
    """A policy did not compile. `diagnostics` holds every error found, sorted by location."""

    code = "POLICY_INVALID"

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=lambda d: d.sort_key))
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class PolicyLoadError(FarameshError):
    """A policy file could not be read (missing, unreadable, not text)."""

    code = "POLICY_UNREADABLE"


class ActionError(FarameshError):
    """An action record is malformed."""

    code = "ACTION_INVALID"
