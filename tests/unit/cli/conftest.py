"""Fixtures for CLI tests: run `faramesh.cli.main.main` in-process and capture its output."""

from __future__ import annotations

from pathlib import Path

import pytest

from faramesh.cli.main import main
from tests.unit.cli.clirun import SMALL_POLICY, Result, Run


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> Result:
        capsys.readouterr()
        status = main(list(argv))
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return run


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "governance.fms"
    path.write_text(SMALL_POLICY, encoding="utf-8")
    return path
