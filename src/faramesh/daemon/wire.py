"""The wire format of the daemon's sockets and HTTP API (docs/wire-format.md).

Newline-delimited JSON: one request object per line, `{"op": OP, "id": ID, ...fields}`,
one answer per line, `{"id": ID, "ok": true, "result": {...}}` or
`{"id": ID, "ok": false, "error": {"code": CODE, "message": TEXT, "field": NAME?}}`.

This module holds the framing, the op table both transports dispatch through (so a
request means the same whatever carried it) and THE one table that maps exceptions to
structured errors and HTTP statuses; nothing else at the edge builds an error object.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from faramesh.errors import (
    ActionError,
    ControlError,
    DaemonError,
    FarameshError,
    PolicyError,
    PolicyLoadError,
    RecordError,
)

if TYPE_CHECKING:
    from faramesh.car import Caller
    from faramesh.daemon.core import Daemon

log = logging.getLogger(__name__)

MAX_LINE: Final = 1 << 20  # one request, in bytes, newline excluded (also the HTTP body)


# --- errors raised at the edge, before the daemon sees a request ----------------------

class RequestError(FarameshError):
    """A request refused at the edge; `field` names the request field at fault."""

    code = "REQUEST_INVALID"

    def __init__(self, message: str, *, field: str | None = None,
                 request_id: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.request_id = request_id  # the `id` to answer with, when the line had one


class RequestTooLarge(RequestError):
    code = "REQUEST_TOO_LARGE"


class UnknownOp(RequestError):
    code = "UNKNOWN_OP"


class PermissionDenied(RequestError):
    code = "PERMISSION_DENIED"


class NotFound(RequestError):
    code = "NOT_FOUND"


class TooManyConnections(RequestError):
    code = "TOO_MANY_CONNECTIONS"


INTERNAL_ERROR: Final = "INTERNAL_ERROR"

# THE table: exception class -> HTTP status (its wire code is the class's `code`).
# Looked up by walking the class's MRO, so subclasses inherit their parent's row.
_HTTP_STATUS: Final[dict[type[BaseException], int]] = {
    RequestTooLarge: 413,
    NotFound: 404,
    PermissionDenied: 403,
    TooManyConnections: 503,
    RequestError: 400,
    ActionError: 400,
    PolicyError: 422,
    PolicyLoadError: 422,
    DaemonError: 503,  # not running
    ControlError: 409,  # understood, but cannot be carried out (unknown agent, version)
    RecordError: 503,  # the audit log cannot take records: degraded
    FarameshError: 500,
}


def error_object(exc: BaseException) -> dict[str, Any]:
    """The structured error for `exc`. Anything that is not a FarameshError is a bug:
    logged with its traceback, answered with a generic message (no internals leak)."""
    if not isinstance(exc, FarameshError):
        log.error("internal error at the edge", exc_info=exc)
        return {"code": INTERNAL_ERROR, "message": "internal error; see the daemon log"}
    error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, ActionError | RequestError) and exc.field is not None:
        error["field"] = exc.field
    if isinstance(exc, PolicyError):
        error["message"] = exc.render()
        error["diagnostics"] = [d.to_dict() for d in exc.diagnostics]
    return error


def http_status(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        status = _HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 500


# --- framing ----------------------------------------------------------------------------

def _default(value: object) -> Any:
    if isinstance(value, Decimal | Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def encode_result(request_id: Any, result: Any) -> bytes:
    return orjson.dumps({"id": request_id, "ok": True, "result": result},
                        default=_default, option=orjson.OPT_APPEND_NEWLINE)


def encode_error(request_id: Any, exc: BaseException) -> bytes:
    return orjson.dumps({"id": request_id, "ok": False, "error": error_object(exc)},
                        option=orjson.OPT_APPEND_NEWLINE)


@dataclass(frozen=True, slots=True)
class Request:
    id: Any
    op: str
    body: dict[str, Any]  # the whole object, `op` and `id` included (build_car skips them)


def parse_body(data: bytes | memoryview) -> dict[str, Any]:
    """One JSON object (a request line, an HTTP body); raise RequestError otherwise."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RequestError("a request is one JSON object") from None
    if not isinstance(body, dict):
        raise RequestError("a request is one JSON object")
    return body


def parse_request(line: bytes | memoryview) -> Request:
    """One request line (newline stripped) -> Request; raise RequestError otherwise."""
    if len(line) > MAX_LINE:
        raise RequestTooLarge(f"a request is at most {MAX_LINE} bytes")
    body = parse_body(line)
    request_id = body.get("id")
    op = body.get("op")
    if not isinstance(op, str):
        raise RequestError("`op` must be a string", field="op", request_id=request_id)
    return Request(request_id, op, body)


# --- ops: what each transport dispatches to --------------------------------------------

OpFn = Callable[["Daemon", dict[str, Any], "Caller"], Awaitable[Any]]


def _text(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise RequestError(f"`{key}` must be a non-empty string", field=key)
    return value


async def _evaluate(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    return (await daemon.evaluate(body, caller)).to_wire()


async def _scan_output(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    return await daemon.scan_output(body, caller)


async def _ping(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    return {"pong": True, "lifecycle": daemon.lifecycle.value}


async def _status(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    return await daemon.status()


async def _apply(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    path = _text(body, "path", required=False)
    return await daemon.apply(Path(path) if path else None)


async def _rollback(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    return await daemon.rollback(_text(body, "version", required=False))


async def _kill(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    reason = _text(body, "reason")
    assert reason is not None
    return await daemon.kill(_text(body, "agent_id", required=False), reason)


async def _release(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    return await daemon.release(_text(body, "agent_id", required=False))


async def _phase(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    agent_id, phase = _text(body, "agent_id"), _text(body, "phase")
    assert agent_id is not None and phase is not None
    return await daemon.set_phase(agent_id, _text(body, "session_id", required=False), phase)


async def _decision(daemon: Daemon, body: dict[str, Any], caller: Caller) -> Any:
    action_id = _text(body, "action_id")
    assert action_id is not None
    record = await find_decision(daemon, action_id)
    if record is None:
        raise NotFound(f"no record for action `{action_id}`", field="action_id")
    return record


async def find_decision(daemon: Daemon, action_id: str) -> dict[str, Any] | None:
    """The record of `action_id`. The index takes records off the hot path, so a record
    answered a moment ago may not be indexed yet: look again briefly before giving up."""
    for delay_s in (0.0, 0.005, 0.02, 0.1):
        if delay_s:
            await asyncio.sleep(delay_s)
        record = await asyncio.to_thread(daemon.decision_record, action_id)
        if record is not None:
            return record
    return None


AGENT_OPS: Final[dict[str, OpFn]] = {
    "evaluate": _evaluate, "scan_output": _scan_output, "ping": _ping,
}
CONTROL_OPS: Final[dict[str, OpFn]] = {
    "ping": _ping, "status": _status, "apply": _apply, "rollback": _rollback,
    "kill": _kill, "release": _release, "phase": _phase, "decision": _decision,
    # `stop` is the socket server's own op: it ends the process, not a daemon call
}


def op_for(op: str, table: Mapping[str, OpFn], request_id: Any) -> OpFn:
    fn = table.get(op)
    if fn is not None:
        return fn
    if op in AGENT_OPS or op in CONTROL_OPS or op == "stop":
        raise PermissionDenied(f"op `{op}` is not served on this socket", field="op",
                               request_id=request_id)
    raise UnknownOp(f"unknown op `{op}`", field="op", request_id=request_id)
