"""The HTTP API on a real uvicorn server on loopback: the same decisions as the socket,
structured errors, probes, metrics, and the OpenAPI document kept in step with the app."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from faramesh.daemon.core import Daemon
from faramesh.daemon.http_api import create_app
from faramesh.daemon.openapi import OPENAPI
from faramesh.daemon.wire import MAX_LINE
from tests.integration.daemon.harness import TIMEOUT_S, Running, decision


@pytest.fixture
def http(running: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT_S) as client:
        yield client


def test_socket_and_http_give_the_same_decision(running: Running,
                                                http: httpx.Client) -> None:
    requests: list[dict[str, Any]] = [
        {"agent": "worker", "tool": "files/read", "args": {"path": "/a"}},
        {"agent": "worker", "tool": "FILES//Delete"},
        {"agent": "worker", "tool": "payments/send", "session_id": "s1"},
        {"agent": "ghost", "tool": "files/read"},
    ]
    with running.agent() as client:
        for request in requests:
            over_socket = client.call("evaluate", **request)
            answer = http.post("/v1/evaluate", json=request)
            assert answer.status_code == 200
            assert decision(answer.json()) == decision(over_socket)


def test_http_caller_is_recorded_with_its_address(http: httpx.Client) -> None:
    action_id = http.post("/v1/evaluate", json={"agent": "worker",
                                                "tool": "files/read"}).json()["action_id"]
    answer = http.get(f"/v1/decisions/{action_id}")
    assert answer.status_code == 200
    caller = answer.json()["caller"]
    assert caller["transport"] == "http"
    assert caller["address"].startswith("127.0.0.1:")


@pytest.mark.parametrize(("body", "code", "field"), [
    (b"{oops", "REQUEST_INVALID", None),
    (b'"just a string"', "REQUEST_INVALID", None),
    (b'{"agent": ["x"], "tool": "files/read"}', "ACTION_INVALID", "agent"),
    (b'{"agent": "worker"}', "ACTION_INVALID", "tool"),
])
def test_malformed_body_is_a_400_with_a_structured_error(
        http: httpx.Client, body: bytes, code: str, field: str | None) -> None:
    answer = http.post("/v1/evaluate", content=body,
                       headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"].get("field") == field
    assert http.get("/healthz").status_code == 200


def test_a_body_over_one_mib_is_a_413_announced_or_streamed(http: httpx.Client) -> None:
    big = b'{"agent": "worker", "tool": "files/read", "args": {"x": "' + \
        b"a" * MAX_LINE + b'"}}'
    announced = http.post("/v1/evaluate", content=big)
    assert announced.status_code == 413
    assert announced.json()["error"]["code"] == "REQUEST_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for start in range(0, len(big), 1 << 16):
            yield big[start:start + (1 << 16)]

    streamed = http.post("/v1/evaluate", content=chunks())
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "REQUEST_TOO_LARGE"
    ok = http.post("/v1/evaluate", json={"agent": "worker", "tool": "files/read"})
    assert ok.json()["code"] == "RULE_PERMIT"


def test_unknown_decision_and_unknown_route_are_structured_404s(http: httpx.Client) -> None:
    missing = http.get("/v1/decisions/01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    nowhere = http.get("/v2/nothing")
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["code"] == "NOT_FOUND"
    wrong_method = http.get("/v1/evaluate")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "REQUEST_INVALID"


def test_metrics_count_decisions_by_agent_effect_and_code(http: httpx.Client) -> None:
    for tool in ("files/read", "files/read", "files/delete"):
        http.post("/v1/evaluate", json={"agent": "worker", "tool": tool})
    http.post("/v1/evaluate", json={"agent": "no-such-agent-1", "tool": "x"})
    text = http.get("/metrics").text
    assert 'faramesh_decisions_total{agent="worker",code="RULE_PERMIT",effect="PERMIT"} 2.0' \
        in text
    assert 'faramesh_decisions_total{agent="worker",code="POLICY_DENY",effect="DENY"} 1.0' \
        in text
    assert 'agent="_unresolved",code="IDENTITY_UNRESOLVED"' in text
    assert "no-such-agent-1" not in text
    assert 'faramesh_decision_latency_seconds_count 4.0' in text
    assert 'faramesh_stage_latency_seconds_count{stage="policy"}' in text
    assert "faramesh_ready 1.0" in text


def test_metrics_show_budget_spend_and_rate_limit_tokens(http: httpx.Client) -> None:
    for agent, tool in (("budgeted", "reports/make"), ("limited", "search/query")):
        http.post("/v1/evaluate", json={"agent": agent, "tool": tool})
    text = http.get("/metrics").text
    assert 'faramesh_budget_calls{agent="budgeted",budget="daily"} 1.0' in text
    assert 'faramesh_rate_limit_tokens{agent="limited",limit="search/query"}' in text


def test_status_reports_the_lifecycle(http: httpx.Client) -> None:
    answer = http.get("/v1/status")
    assert answer.status_code == 200
    assert answer.json()["lifecycle"] == "READY"


def test_healthz_and_readyz_follow_the_lifecycle(stack: Path) -> None:
    served = Running(stack)
    listening, gate = threading.Event(), threading.Event()
    real_start = served.service.daemon.start

    async def gated_start() -> None:  # listeners are up; hold the daemon in STARTING
        listening.set()
        await asyncio.to_thread(gate.wait, TIMEOUT_S)
        await real_start()

    served.service.daemon.start = gated_start  # type: ignore[method-assign]
    starting = asyncio.run_coroutine_threadsafe(served.service.start(), served.loop)
    try:
        assert listening.wait(TIMEOUT_S)
        with httpx.Client(base_url=served.base_url, timeout=TIMEOUT_S) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 503
            early = http.post("/v1/evaluate", json={"agent": "worker", "tool": "files/read"})
            assert (early.json()["effect"], early.json()["code"]) == ("DENY",
                                                                      "DAEMON_NOT_READY")
            with served.agent() as client:
                assert client.call("evaluate", agent="worker",
                                   tool="files/read")["code"] == "DAEMON_NOT_READY"
            assert "faramesh_ready 0.0" in http.get("/metrics").text
            gate.set()
            starting.result(TIMEOUT_S)
            assert http.get("/readyz").status_code == 200
    finally:
        gate.set()
        served.stop()


def _app_routes(stack: Path) -> set[tuple[str, str]]:
    app = create_app(Daemon(stack))
    found = set()
    for route in app.routes:
        assert isinstance(route, Route)
        found |= {(route.path, m.lower()) for m in route.methods or () if m != "HEAD"}
    return found


def test_openapi_describes_every_route_and_only_those(stack: Path) -> None:
    described = {(path, method) for path, item in OPENAPI["paths"].items()
                 for method in item}
    assert described == _app_routes(stack)
    assert OPENAPI["openapi"].startswith("3.1")


def test_openapi_is_served(http: httpx.Client) -> None:
    assert http.get("/openapi.json").json() == OPENAPI
