"""The CLI's edge: every exception a command lets out becomes one exit status and one
structured message, decided in one table (`classify`).

Exit statuses: 0 success; 1 the input was read and found wanting (policy errors, failed
tests, unformatted files, missing policy files), or the daemon refused a command; 2 usage
errors and internal errors; 3 no daemon answers.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any, NamedTuple

from faramesh.errors import DaemonError, FarameshError, PolicyError, PolicyLoadError

if TYPE_CHECKING:
    from faramesh.fpl.diagnostics import Diagnostic

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_INTERRUPTED = 130
DEBUG_ENV = "FARAMESH_DEBUG"


class CliError(Exception):
    """A failure the CLI reports itself: a stable code, a message, an optional hint."""

    def __init__(self, code: str, message: str, *, hint: str | None = None,
                 status: int = EXIT_USAGE, diagnostics: tuple[Diagnostic, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.diagnostics = diagnostics


def usage_error(message: str, hint: str | None = None) -> CliError:
    return CliError("USAGE_ERROR", message, hint=hint)


def load_feature(module: str, name: str) -> Any:
    """`module.name`, or a COMMAND_UNAVAILABLE error when this installation lacks it."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
            raise  # the module exists but one of its own imports is missing
        found = None
    if found is None or not hasattr(found, name):
        raise CliError("COMMAND_UNAVAILABLE", f"`{module}.{name}` is not available in this "
                       "installation", hint="upgrade faramesh")
    return getattr(found, name)


class Failure(NamedTuple):
    status: int
    code: str
    message: str
    hint: str | None = None
    diagnostics: tuple[Diagnostic, ...] = ()


def classify(exc: BaseException) -> Failure:
    """The one table from exception to exit status and structured message."""
    if isinstance(exc, CliError):
        return Failure(exc.status, exc.code, exc.message, exc.hint, exc.diagnostics)
    if isinstance(exc, PolicyError):
        count = len(exc.diagnostics)
        return Failure(EXIT_FAILED, exc.code,
                       f"policy does not compile ({count} error{'s' * (count != 1)})",
                       diagnostics=exc.diagnostics)
    if isinstance(exc, PolicyLoadError):
        return Failure(EXIT_FAILED, exc.code, str(exc))
    if isinstance(exc, DaemonError) and exc.remote_code is not None:  # it answered: no
        return Failure(EXIT_FAILED, exc.remote_code, str(exc))
    if isinstance(exc, DaemonError):
        return Failure(EXIT_NOT_RUNNING, exc.code, str(exc),
                       hint="start it with `faramesh apply` (background) or `faramesh serve`")
    if isinstance(exc, FarameshError):
        return Failure(EXIT_USAGE, exc.code, str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, "INTERRUPTED", "interrupted")
    if isinstance(exc, OSError):
        where = f"`{exc.filename}`: " if exc.filename else ""
        return Failure(EXIT_USAGE, "IO_ERROR", f"{where}{exc.strerror or exc}")
    return Failure(EXIT_USAGE, "INTERNAL_ERROR", f"internal error: {exc or type(exc).__name__}",
                   hint=f"set {DEBUG_ENV}=1 to see the traceback, and please report it")


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def report(exc: BaseException, *, as_json: bool) -> int:
    """Print `exc` as a structured error on stderr and return its exit status."""
    failure = classify(exc)
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    if as_json:
        body: dict[str, object] = {"code": failure.code, "message": failure.message,
                                   "hint": failure.hint}
        if failure.diagnostics:
            body["diagnostics"] = [d.to_dict() for d in failure.diagnostics]
        sys.stderr.write(json.dumps({"ok": False, "error": body}) + "\n")
    else:
        for diagnostic in failure.diagnostics:
            sys.stderr.write(diagnostic.render() + "\n")
        sys.stderr.write(f"faramesh: error[{failure.code}]: {failure.message}\n")
        if failure.hint:
            sys.stderr.write(f"  hint: {failure.hint}\n")
    return failure.status
