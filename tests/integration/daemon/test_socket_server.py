"""The agent and control sockets: decisions, structured errors, limits, credentials."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from faramesh.daemon.wire import MAX_LINE
from tests.integration.daemon.harness import (
    TIMEOUT_S,
    Running,
    read_answers,
    read_until_closed,
)


def evaluate(running: Running, agent: str, tool: str, **fields: Any) -> dict[str, Any]:
    with running.agent() as client:
        return client.call("evaluate", agent=agent, tool=tool, **fields)


def test_permit_deny_defer_each_answer_their_code(running: Running) -> None:
    cases = {"files/read": ("PERMIT", "RULE_PERMIT"), "files/delete": ("DENY", "POLICY_DENY"),
             "payments/send": ("DEFER", "POLICY_DEFER"), "other/x": ("DENY", "DEFAULT_DENY")}
    for tool, (effect, code) in cases.items():
        result = evaluate(running, "worker", tool)
        assert (result["effect"], result["code"]) == (effect, code), tool
        assert result["action_id"] and result["agent_id"] == "worker"


def test_rate_limit_answers_rate_exceeded_past_its_rate(running: Running) -> None:
    with running.agent() as client:
        codes = [client.call("evaluate", agent="limited", tool="search/query")["code"]
                 for _ in range(4)]
    assert codes == ["RULE_PERMIT"] * 3 + ["RATE_EXCEEDED"]


def test_budget_answers_budget_exceeded_past_max_calls(running: Running) -> None:
    with running.agent() as client:
        results = [client.call("evaluate", agent="budgeted", tool="reports/make")
                   for _ in range(4)]
    assert [r["effect"] for r in results] == ["PERMIT"] * 3 + ["DENY"]
    assert results[3]["code"] == "BUDGET_EXCEEDED"


def test_unknown_agent_is_denied_identity_unresolved(running: Running) -> None:
    result = evaluate(running, "ghost", "files/read")
    assert (result["effect"], result["code"]) == ("DENY", "IDENTITY_UNRESOLVED")


@pytest.mark.parametrize(("line", "code", "field"), [
    (b"{not json", "REQUEST_INVALID", None),
    (b"[1, 2]", "REQUEST_INVALID", None),
    (b'{"id": 7, "op": 3}', "REQUEST_INVALID", "op"),
    (b'{"id": 7, "op": "launch"}', "UNKNOWN_OP", "op"),
    (b'{"id": 7, "op": "evaluate", "agent": 5, "tool": "files/read"}', "ACTION_INVALID",
     "agent"),
    (b'{"id": 7, "op": "evaluate", "agent": "worker", "tool": "t", "args": "x"}',
     "ACTION_INVALID", "args"),
    (b'{"id": 7, "op": "evaluate", "agent": "worker", "tool": "t", "cost": -1}',
     "ACTION_INVALID", "cost"),
    (b'{"id": 7, "op": "evaluate", "agent": "worker", "tool": "t", "bogus": 1}',
     "ACTION_INVALID", "bogus"),
])
def test_malformed_request_gets_a_structured_error_and_the_connection_serves_on(
        running: Running, line: bytes, code: str, field: str | None) -> None:
    with running.raw() as sock:
        sock.sendall(line + b"\n" + b'{"id": "after", "op": "ping"}\n')
        error, after = read_answers(sock, 2)
    assert error["ok"] is False
    assert error["error"]["code"] == code
    assert error["error"].get("field") == field
    if line.startswith(b'{"id": 7'):
        assert error["id"] == 7
    assert after == {"id": "after", "ok": True, "result": {"pong": True,
                                                           "lifecycle": "READY"}}


@pytest.mark.parametrize("newline", [b"", b"\n"])
def test_a_line_over_one_mib_is_refused_and_the_connection_closed(
        running: Running, newline: bytes) -> None:
    with running.raw() as sock:
        sock.sendall(b'{"id": 1, "op": "ping"}\n')
        # the daemon may close before reading it all
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"x" * (MAX_LINE + 10) + newline)
        data = read_until_closed(sock)
    answers = [orjson.loads(line) for line in data.splitlines()]
    assert answers[0]["result"]["pong"] is True
    assert answers[1]["error"]["code"] == "REQUEST_TOO_LARGE"
    assert len(answers) == 2
    assert evaluate(running, "worker", "files/read")["code"] == "RULE_PERMIT"


def test_pipelined_requests_are_answered_in_order(running: Running) -> None:
    lines = b"".join(orjson.dumps({"id": i, "op": "evaluate", "agent": "worker",
                                   "tool": "files/read" if i % 2 else "files/delete"}) + b"\n"
                     for i in range(200))
    with running.raw() as sock:
        sock.sendall(lines)
        answers = read_answers(sock, 200)
    assert [a["id"] for a in answers] == list(range(200))
    assert {a["result"]["code"] for a in answers[1::2]} == {"RULE_PERMIT"}
    assert {a["result"]["code"] for a in answers[0::2]} == {"POLICY_DENY"}


def test_a_client_leaving_mid_request_changes_nothing(running: Running) -> None:
    with running.raw() as sock:  # half a request, then gone: never decided
        sock.sendall(b'{"op": "evaluate", "agent": "budgeted", "tool": "reports/ma')
    with running.raw() as sock:  # a whole request, then gone before the answer
        sock.sendall(b'{"op": "evaluate", "agent": "worker", "tool": "files/read"}\n')
        sock.shutdown(socket.SHUT_RDWR)
    with running.agent() as client:
        codes = [client.call("evaluate", agent="budgeted", tool="reports/make")["code"]
                 for _ in range(4)]
    assert codes == ["RULE_PERMIT"] * 3 + ["BUDGET_EXCEEDED"]


def test_two_thousand_idle_connections_leave_the_daemon_serving(running: Running) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    idle: list[socket.socket] = []
    try:
        for _ in range(2000):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle.append(sock)
            sock.connect(str(running.agent_path))
        assert evaluate(running, "worker", "files/read")["code"] == "RULE_PERMIT"
        with running.raw() as sock:  # and an idle one still answers when it speaks
            idle[0].sendall(b'{"id": 1, "op": "ping"}\n')
            idle[0].settimeout(TIMEOUT_S)
            assert read_answers(idle[0], 1)[0]["ok"] is True
            sock.sendall(b'{"id": 2, "op": "ping"}\n')
            assert read_answers(sock, 1)[0]["id"] == 2
    finally:
        for sock in idle:
            sock.close()


def test_concurrent_clients_never_get_more_permits_than_the_budget(running: Running) -> None:
    permits: list[int] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with running.agent() as c:
                results = [c.call("evaluate", agent="hammered", tool="work/do")
                           for _ in range(20)]
            permits.append(sum(r["effect"] == "PERMIT" for r in results))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT_S)
    assert not errors
    assert len(permits) == 8
    assert sum(permits) == 40  # max_calls: never more, and no permit lost either


def test_peer_credentials_are_recorded_on_the_decision(running: Running) -> None:
    action_id = evaluate(running, "worker", "files/read")["action_id"]
    with running.control() as control:
        record = control.call("decision", action_id=action_id)
    assert record["action_id"] == action_id
    assert record["caller"] == {"transport": "socket", "pid": os.getpid(),
                                "uid": os.getuid(), "gid": os.getgid()}


def test_unknown_decision_is_not_found(running: Running) -> None:
    with running.control() as control:
        answer = control.request({"op": "decision", "action_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"})
    assert answer["error"]["code"] == "NOT_FOUND"


def test_sockets_are_created_mode_0600(running: Running) -> None:
    for path in (running.agent_path, running.control_path):
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600


@pytest.mark.parametrize("op", ["status", "apply", "rollback", "kill", "release", "phase",
                                "decision", "stop"])
def test_control_ops_are_refused_on_the_agent_socket(running: Running, op: str) -> None:
    with running.agent() as client:
        answer = client.request({"op": op, "agent_id": "worker", "reason": "r",
                                 "phase": "p", "action_id": "x"})
    assert answer["error"]["code"] == "PERMISSION_DENIED"
    assert evaluate(running, "worker", "files/read")["code"] == "RULE_PERMIT"


def test_control_socket_kills_and_releases_an_agent(running: Running) -> None:
    with running.control() as control:
        control.call("kill", agent_id="worker", reason="incident")
        assert evaluate(running, "worker", "files/read")["code"] == "KILL_SWITCH"
        control.call("release", agent_id="worker")
    assert evaluate(running, "worker", "files/read")["code"] == "RULE_PERMIT"


def test_apply_of_a_broken_policy_is_policy_invalid_and_keeps_the_one_in_force(
        running: Running, tmp_path: Path) -> None:
    broken = tmp_path / "broken.fms"
    broken.write_text('agent "worker" {\n  default deny\n  budget daily { max 500 }\n}\n',
                      encoding="utf-8")
    with running.control() as control:
        answer = control.request({"op": "apply", "path": str(broken)})
        assert control.call("status")["lifecycle"] == "READY"
    error = answer["error"]
    assert error["code"] == "POLICY_INVALID"
    assert error["diagnostics"][0]["line"] == 3
    assert evaluate(running, "worker", "files/read")["code"] == "RULE_PERMIT"


def test_a_control_field_of_the_wrong_type_is_request_invalid(running: Running) -> None:
    with running.control() as control:
        answer = control.request({"op": "kill", "agent_id": 7, "reason": "r"})
    assert (answer["error"]["code"], answer["error"]["field"]) == ("REQUEST_INVALID",
                                                                   "agent_id")


def test_scan_output_answers_a_verdict(running: Running) -> None:
    with running.agent() as client:
        result = client.call("scan_output", agent="worker", tool="files/read",
                             output="hello", action_id=None)
    assert "verdict" in result


def test_a_stale_socket_file_is_replaced_and_a_live_one_kept(stack: Path) -> None:
    first = Running(stack)
    first.agent_path.parent.mkdir(exist_ok=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(first.agent_path))  # bound, never listening: nothing answers
    stale.close()
    first.start()
    try:
        second = Running(stack, socket=str(first.agent_path), data_dir=str(stack / "d2"))
        with pytest.raises(Exception, match="already answers"):
            second.start()
        second.stop()
        assert evaluate(first, "worker", "files/read")["code"] == "RULE_PERMIT"
    finally:
        first.stop()


def test_idle_connections_are_closed_after_the_idle_timeout(stack: Path) -> None:
    served = Running(stack, idle_timeout_s=0.2).start()
    try:
        with served.raw() as sock:
            assert read_until_closed(sock) == b""  # bounded by the socket timeout
    finally:
        served.stop()


def test_connections_past_the_limit_are_closed_at_once(stack: Path) -> None:
    served = Running(stack, max_connections=3).start()
    try:
        held = [served.raw() for _ in range(3)]
        for sock in held:  # each accepted and registered before the next one
            sock.sendall(b'{"op": "ping"}\n')
            read_answers(sock, 1)
        with served.raw() as extra:
            answer = orjson.loads(read_until_closed(extra))
        assert answer["error"]["code"] == "TOO_MANY_CONNECTIONS"
        held.pop().close()
    finally:
        for sock in held:
            sock.close()
        served.stop()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_control_socket_refuses_a_peer_of_another_user(running: Running) -> None:
    # Defence in depth: even with the file's mode opened up, the uid check refuses.
    os.chmod(running.control_path, 0o666)
    os.chmod(running.control_path.parent, 0o755)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become `nobody`, connect, report what the daemon says
        status = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(TIMEOUT_S)
            sock.connect(str(running.control_path))
            os.write(write_end, read_until_closed(sock))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert orjson.loads(answer)["error"]["code"] == "PERMISSION_DENIED"
