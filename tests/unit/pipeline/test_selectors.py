"""Selectors: external lookups fetched over real loopback HTTP (and file://), cached,
bounded by their timeout, and failing to their declared effect."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.unit.pipeline.harness import Harness


class _Accounts(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps({"tier": "gold", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def accounts() -> Iterator[str]:
    _Accounts.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accounts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/accounts"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A listening socket that never answers: every fetch from it times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


def policy(source: str, extra: str = "") -> str:
    return f"""
agent "bot" {{
  rules {{ permit refund when selectors.account.tier == "gold" }}
  selector account {{ source "{source}"  cache 30s  timeout 300ms {extra} }}
}}
"""


def test_a_selector_value_is_read_by_conditions_and_sent_the_agent(accounts: str) -> None:
    h = Harness(policy(accounts))
    assert h.code("bot", "refund") == "RULE_PERMIT"
    assert _Accounts.hits == 1


def test_a_cached_value_is_reused_within_its_period_and_refetched_after(
        accounts: str) -> None:
    h = Harness(policy(accounts))
    for seconds in (0, 10, 29):
        assert h.code("bot", "refund", at=timedelta(seconds=seconds)) == "RULE_PERMIT"
    assert _Accounts.hits == 1
    h.code("bot", "refund", at=timedelta(seconds=31))
    assert _Accounts.hits == 2


def test_a_file_source_is_read(tmp_path: Path) -> None:
    data = tmp_path / "account.json"
    data.write_text('{"tier": "silver"}')
    assert Harness(policy(data.as_uri())).code("bot", "refund") == "DEFAULT_DENY"


def test_an_unavailable_selector_denies_by_default(tmp_path: Path) -> None:
    missing = (tmp_path / "missing.json").as_uri()
    assert Harness(policy(missing)).code("bot", "refund") == "SELECTOR_UNAVAILABLE"


def test_on_unavailable_permit_goes_on_without_the_value(tmp_path: Path) -> None:
    missing = (tmp_path / "missing.json").as_uri()
    h = Harness(policy(missing, "on_unavailable permit"))
    assert h.code("bot", "refund") == "DEFAULT_DENY"  # the condition reads nothing


def test_a_selector_that_times_out_applies_on_timeout(silent: str) -> None:
    h = Harness(policy(silent, "on_unavailable deny  on_timeout defer"))
    outcome = h.decide("bot", "refund")
    assert (outcome.decision.effect.value, outcome.decision.code.value) == \
        ("DEFER", "SELECTOR_UNAVAILABLE")
