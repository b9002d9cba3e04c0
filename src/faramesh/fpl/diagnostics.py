"""Located compile diagnostics, rendered with the offending line and a caret."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A position in one source file (1-based line and column)."""

    file: str
    line: int
    column: int
    length: int = 1

    @property
    def ref(self) -> str:
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One compile error: where, a stable code, what is wrong and how to fix it."""

    span: Span
    code: str
    message: str
    hint: str | None = None
    source_line: str = field(default="", compare=False)
    severity: str = "error"  # or "warning" (lint findings)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code)

    def render(self) -> str:
        out = [f"{self.span}: {self.severity}[{self.code}]: {self.message}"]
        if self.source_line:
            gutter = f"{self.span.line} | "
            caret = " " * (len(gutter) + max(self.span.column - 1, 0))
            out.append(gutter + self.source_line)
            out.append(caret + "^" * max(1, min(self.span.length, 80)))
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "severity": self.severity,
        }


class DiagnosticSink:
    """Collects diagnostics for one source text so that all errors are reported, not the first."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines = text.splitlines()
        self.items: list[Diagnostic] = []

    def span(self, line: int, column: int, length: int = 1) -> Span:
        return Span(self.file, line, column, length)

    def error(self, span: Span, code: str, message: str, hint: str | None = None) -> None:
        src = self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else ""
        self.items.append(Diagnostic(span, code, message, hint, src.expandtabs(1)))
