"""The one exception hierarchy of faramesh; every class carries a stable code.

    FarameshError                       code
    ├── PolicyError                     POLICY_INVALID   (one or more located diagnostics)
    ├── PolicyLoadError                 POLICY_UNREADABLE (a file that cannot be read)
    ├── ActionError                     ACTION_INVALID   (a request that is not a mapping of the
    │                                                     documented shape; `evaluate` never
    │                                                     raises it, it answers a DENY instead;
    │                                                     ingress answers a structured error)
    ├── RecordError                     RECORD_UNWRITABLE (the WAL cannot take a record: the
    │                                                     daemon goes degraded and denies)
    ├── DaemonError                     DAEMON_UNAVAILABLE (no daemon answers on the socket)
    └── ControlError                    CONTROL_REFUSED  (the daemon refused a control command:
                                                          unknown agent, phase or version)

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
    """An action record is malformed. `field` names the request field at fault."""

    code = "ACTION_INVALID"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RecordError(FarameshError):
    """A decision record could not be made durable; nothing may be answered without it."""

    code = "RECORD_UNWRITABLE"


class DaemonError(FarameshError):
    """The daemon could not be reached, or (from the client) answered a structured error,
    whose code is then `remote_code`."""

    code = "DAEMON_UNAVAILABLE"

    def __init__(self, message: str, *, remote_code: str | None = None) -> None:
        super().__init__(message)
        self.remote_code = remote_code


class ControlError(FarameshError):
    """A control command the daemon understood but cannot carry out."""

    code = "CONTROL_REFUSED"
