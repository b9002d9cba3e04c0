"""How commands print: one JSON object per line for machines, diagnostics for people."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from faramesh.fpl.diagnostics import Diagnostic


def _jsonable(value: object) -> object:
    """Policy values (Decimal, Money, Duration, ...) print as their canonical text."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def to_json(obj: object) -> str:
    return json.dumps(obj, default=_jsonable)


def print_json(obj: object) -> None:
    sys.stdout.write(to_json(obj) + "\n")


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def err(line: str) -> None:
    sys.stderr.write(line + "\n")


def load_error_dict(path: str, code: str, message: str) -> dict[str, object]:
    """A file-level error in the shape of `Diagnostic.to_dict()` (no line or column)."""
    return {"file": path, "line": None, "column": None, "code": code, "message": message,
            "hint": None, "severity": "error"}


def with_source_line(diagnostic: Diagnostic) -> Diagnostic:
    """The diagnostic with its source line filled in from its file when it has none (lint
    findings are located from the IR, which keeps positions but not text)."""
    if diagnostic.source_line:
        return diagnostic
    try:
        lines = Path(diagnostic.span.file).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return diagnostic
    line = diagnostic.span.line
    if not 0 < line <= len(lines):
        return diagnostic
    return replace(diagnostic, source_line=lines[line - 1].expandtabs(1))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old or the new file, never half.

    The file's permission bits are kept when it already exists.
    """
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
