"""The daemon's lifecycle states: STARTING -> INITIALIZING -> READY -> HALT.

Only READY decides; in every other state each call is denied with DAEMON_NOT_READY.
"""

from __future__ import annotations

from enum import StrEnum


class Lifecycle(StrEnum):
    STARTING = "STARTING"  # settings read, directories and locks taken
    INITIALIZING = "INITIALIZING"  # state restored from snapshot + WAL, policy compiled
    READY = "READY"
    HALT = "HALT"  # stopping or stopped; also after a fatal error
