"""The HTTP API: a Starlette app over the same op table as the sockets (daemon/wire.py).

POST /v1/evaluate and /v1/scan_output take the request object as their JSON body; the
decision comes back with 200 whatever its effect. Errors are `{"error": {...}}` with the
status of wire.http_status. The routes are described in daemon/openapi.py (served at
/openapi.json) and docs/wire-format.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faramesh.car import Caller
from faramesh.daemon import wire
from faramesh.daemon.lifecycle import Lifecycle
from faramesh.daemon.openapi import OPENAPI

if TYPE_CHECKING:
    from faramesh.daemon.core import Daemon
    from faramesh.daemon.metrics import Metrics

log = logging.getLogger(__name__)

JSON = "application/json"
Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(wire.dumps(body), status_code=status, media_type=JSON)


def error_response(exc: BaseException) -> Response:
    return json_response({"error": wire.error_object(exc)}, wire.http_status(exc))


def _caller(request: Request) -> Caller:
    client = request.client
    address = f"{client.host}:{client.port}" if client is not None else None
    return Caller("http", address=address)


async def read_json(request: Request) -> dict[str, Any]:
    """The body as one JSON object, refusing more than MAX_LINE bytes whether announced
    (Content-Length) or streamed (chunked, or a lying header)."""
    too_large = wire.RequestTooLarge(f"a request body is at most {wire.MAX_LINE} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > wire.MAX_LINE:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > wire.MAX_LINE:
            raise too_large
    return wire.parse_body(bytes(body))


def create_app(daemon: Daemon, metrics: Metrics | None = None) -> Starlette:
    def op_endpoint(op: str, *, body: bool) -> Endpoint:
        run = wire.AGENT_OPS.get(op) or wire.CONTROL_OPS[op]

        async def endpoint(request: Request) -> Response:
            try:
                fields = await read_json(request) if body else dict(request.path_params)
                return json_response(await run(daemon, fields, _caller(request)))
            except Exception as exc:  # the ingress edge: every failure is structured
                return error_response(exc)

        endpoint.__name__ = op
        return endpoint

    async def metrics_endpoint(request: Request) -> Response:
        if metrics is None:
            return error_response(wire.NotFound("metrics are not enabled"))
        status: dict[str, Any] | None = None
        if daemon.lifecycle is Lifecycle.READY:
            try:
                status = await daemon.status()
            except Exception:  # a scrape must not fail for a status gap
                log.exception("status for /metrics failed; budget gauges are stale")
        metrics.refresh(daemon.lifecycle, status)
        return Response(metrics.render(), media_type=metrics.content_type)

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok", "lifecycle": daemon.lifecycle.value})

    async def readyz(request: Request) -> Response:
        ready = daemon.ready
        return json_response({"ready": ready, "lifecycle": daemon.lifecycle.value},
                             200 if ready else 503)

    async def openapi(request: Request) -> Response:
        return json_response(OPENAPI)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error = wire.NotFound("no such route") if exc.status_code == 404 else \
            wire.RequestError(f"{request.method} is not served on {request.url.path}")
        return json_response({"error": wire.error_object(error)}, exc.status_code)

    routes = [
        Route("/v1/evaluate", op_endpoint("evaluate", body=True), methods=["POST"]),
        Route("/v1/scan_output", op_endpoint("scan_output", body=True), methods=["POST"]),
        Route("/v1/status", op_endpoint("status", body=False), methods=["GET"]),
        Route("/v1/decisions/{action_id}", op_endpoint("decision", body=False),
              methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
