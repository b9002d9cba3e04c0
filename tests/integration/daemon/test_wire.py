"""The one exception -> structured error table, and request-line parsing."""

from __future__ import annotations

import logging

import pytest

from faramesh.daemon import wire
from faramesh.errors import ActionError, DaemonError


def test_an_unexpected_exception_is_a_generic_internal_error_and_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="faramesh.daemon.wire"):
        error = wire.error_object(KeyError("secret internals"))
    assert error == {"code": "INTERNAL_ERROR", "message": "internal error; see the daemon log"}
    assert wire.http_status(KeyError()) == 500
    assert caplog.records and caplog.records[0].exc_info is not None


@pytest.mark.parametrize(("exc", "code", "status"), [
    (ActionError("bad", field="tool"), "ACTION_INVALID", 400),
    (DaemonError("no earlier version"), "DAEMON_UNAVAILABLE", 503),
    (wire.RequestTooLarge("big"), "REQUEST_TOO_LARGE", 413),
    (wire.NotFound("none"), "NOT_FOUND", 404),
    (wire.PermissionDenied("no"), "PERMISSION_DENIED", 403),
    (wire.UnknownOp("op"), "UNKNOWN_OP", 400),
])
def test_each_error_class_has_its_code_and_status(exc: Exception, code: str,
                                                  status: int) -> None:
    assert wire.error_object(exc)["code"] == code
    assert wire.http_status(exc) == status


def test_a_request_line_keeps_its_id_in_errors() -> None:
    with pytest.raises(wire.RequestError) as caught:
        wire.parse_request(b'{"id": "abc", "op": null}')
    assert caught.value.request_id == "abc"
    assert wire.encode_error("abc", caught.value).endswith(b"\n")
