"""Fixtures: a small stack in tmp_path served by a real daemon (sockets + HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon.harness import Running, write_stack


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    return write_stack(tmp_path / "stack")


@pytest.fixture
def running(stack: Path) -> Iterator[Running]:
    served = Running(stack).start()
    try:
        yield served
    finally:
        served.stop()
