"""The interface the pipeline writes through: append a record, durable on return.

`audit.wal.WAL` is the embedded implementation (an append-only, checksummed log file with
group commit). The audit issue builds the DPR chain, signing and the indexed store on top
of the same interface; the pipeline never sees more than this.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol


class RecordLog(Protocol):
    durability: str  # "fsync" | "os" (DESIGN.md section 2)

    async def append(self, record: Mapping[str, Any]) -> int:
        """Write one record; return its sequence number once it is as durable as
        `durability` promises. Raise `RecordError` when it cannot be written: the caller
        must then deny and answer nothing else."""

    def replay(self) -> Iterator[dict[str, Any]]:
        """Every intact record, oldest first (a torn final record is cut off and reported)."""

    async def close(self) -> None: ...
