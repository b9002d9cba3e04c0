"""`faramesh fmt [PATH ...] [--check]`: print FPL files back in canonical form.

Without `--check`, changed files are rewritten in place and listed on stdout; with
`--check`, nothing is written and stdout carries a unified diff of what would change.
Notes, errors and the summary go to stderr. A file that does not parse is reported and
never rewritten; YAML/JSON policies are not FPL text and are skipped.

Before writing, the formatted text is parsed again and, when the original compiles,
compiled again: a formatter fault can never write a broken file or one that decides
differently.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from faramesh.cli.edge import EXIT_FAILED, EXIT_OK
from faramesh.cli.output import err, out, plural, write_atomically
from faramesh.errors import PolicyError
from faramesh.fpl.compiler import compile_fpl, parse_policy_text
from faramesh.fpl.formatter import format_file
from faramesh.fpl.loader import form_of
from faramesh.policy import ir

FPL_SUFFIXES = (".fms", ".fpl")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help="FPL files, or directories meaning every .fms/.fpl file below "
                             "them (default: the current directory)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing: print a diff and exit 1 if any file is not "
                             "formatted")


class Status(Enum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Formatted:
    path: Path
    status: Status
    original: str = ""
    formatted: str = ""


def collect(args: list[str]) -> list[Path]:
    """Files named, plus every FPL file below each directory named (hidden ones skipped)."""
    files: list[Path] = []
    for arg in args:
        root = Path(arg)
        if not root.is_dir():
            files.append(root)
            continue
        found = sorted(p for p in root.rglob("*")
                       if p.suffix.lower() in FPL_SUFFIXES and p.is_file()
                       and not any(part.startswith(".")
                                   for part in p.relative_to(root).parts))
        if not found:
            err(f"{root}: no FPL files (.fms, .fpl) found")
        files.extend(found)
    return list(dict.fromkeys(files))


def format_text(text: str, file: str) -> str:
    """The canonical form of FPL `text`; raise PolicyError when it does not parse or when
    formatting would change it (a formatter fault)."""
    tree, sink = parse_policy_text(text, file)
    if sink.items:
        raise PolicyError(sink.items)
    formatted = format_file(tree)
    if formatted == text:
        return text
    _, again = parse_policy_text(formatted, file)
    if again.items:
        raise RuntimeError(f"formatting `{file}` produced text that does not parse; "
                           "the file was left unchanged")
    before = _meaning(text, file)
    if before is not None and _meaning(formatted, file) != before:
        raise RuntimeError(f"formatting `{file}` would change its meaning; "
                           "the file was left unchanged")
    return formatted


def _meaning(text: str, file: str) -> ir.PolicyIR | None:
    try:
        return compile_fpl(text, file)
    except PolicyError:
        return None


def format_path(path: Path) -> Formatted:
    """Format one file in memory; report problems on stderr; never write."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        err(f"{path}: error[POLICY_UNREADABLE]: cannot read `{path}`: {exc.strerror or exc}")
        return Formatted(path, Status.FAILED)
    except UnicodeDecodeError as exc:
        err(f"{path}: error[not-utf8]: policy is not UTF-8 text (byte {exc.start})")
        return Formatted(path, Status.FAILED)
    form = form_of(path, text)
    if form != "fpl":
        err(f"{path}: not FPL text ({form}), skipped")
        return Formatted(path, Status.SKIPPED)
    try:
        formatted = format_text(text, str(path))
    except PolicyError as exc:
        for diagnostic in exc.diagnostics:
            err(diagnostic.render())
        err(f"{path}: does not parse, left unchanged")
        return Formatted(path, Status.FAILED)
    except RuntimeError as exc:
        err(f"{path}: error[FORMAT_UNSTABLE]: {exc}")
        return Formatted(path, Status.FAILED)
    status = Status.UNCHANGED if formatted == text else Status.CHANGED
    return Formatted(path, status, text, formatted)


def diff(result: Formatted) -> str:
    """A unified diff from the file to its canonical form (`patch -p0` applies it)."""
    name = str(result.path)
    return "".join(difflib.unified_diff(_diff_lines(result.original),
                                        _diff_lines(result.formatted),
                                        fromfile=name, tofile=name))


def _diff_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def run(args: argparse.Namespace) -> int:
    results = [format_path(p) for p in collect(args.paths)]
    changed = [r for r in results if r.status is Status.CHANGED]
    for result in changed:
        if args.check:
            sys.stdout.write(diff(result))
        else:
            write_atomically(result.path, result.formatted)
            out(f"formatted {result.path}")
    counts = {s: sum(r.status is s for r in results) for s in Status}
    verb = "would be reformatted" if args.check else "reformatted"
    parts = [f"{plural(counts[Status.CHANGED], 'file')} {verb}",
             f"{counts[Status.UNCHANGED]} already formatted"]
    if counts[Status.SKIPPED]:
        parts.append(f"{counts[Status.SKIPPED]} skipped")
    if counts[Status.FAILED]:
        parts.append(f"{counts[Status.FAILED]} failed")
    err(", ".join(parts))
    if counts[Status.FAILED] or (args.check and changed):
        return EXIT_FAILED
    return EXIT_OK
