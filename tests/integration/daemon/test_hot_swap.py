"""Hot swap under load: `apply` changes the policy in force between two requests, never
inside one, and a policy that does not compile changes nothing.

Four client threads evaluate continuously while the control socket applies two versions
that decide `tool/flip` differently, ten times in turn, then a broken one. Each answer is
checked against the versions that could have been in force while it was in flight (an
apply that has returned is in force for every request sent after it), and its WAL record
must name one of those versions and carry that version's decision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon.harness import TIMEOUT_S, ClientThreads, Running, write_stack

APPLIES = 10
THREADS = 4
PER_VERSION = 40  # answers to wait for after each apply, so every version serves some

VERSION = """\
runtime {{
  durability = "os"
  http_listen = "off"
}}

agent "swapper" {{
  default deny
  rules {{
    permit files/read
    {flip} tool/flip
  }}
}}
"""
PERMITS, DENIES = VERSION.format(flip="permit"), VERSION.format(flip="deny")
DECIDES = {PERMITS: ("PERMIT", "RULE_PERMIT"), DENIES: ("DENY", "POLICY_DENY")}
BROKEN = 'agent "swapper" {\n  rules { permit }\n}\n'


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """The stack the conftest's `running` daemon serves: the permitting version."""
    return write_stack(tmp_path / "stack", PERMITS)


@dataclass(frozen=True)
class Sample:
    sent: float  # time.monotonic() before the request was sent
    received: float  # ... and once its answer was read
    tool: str
    answer: dict[str, Any]


@dataclass(frozen=True)
class Applied:
    started: float
    returned: float
    version: str  # the policy version in force once it returned


class Load(ClientThreads):
    """THREADS clients sending evaluate requests back to back until the block ends."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.samples: list[Sample] = []
        self.failures: list[BaseException] = []
        super().__init__(THREADS)

    def _client(self, n: int) -> None:
        try:
            with self.running.agent() as client:
                calls = 0
                while not self.stop.is_set():
                    calls += 1
                    tool = "files/read" if (calls + n) % 5 == 0 else "tool/flip"
                    sent = time.monotonic()
                    answer = client.request({"op": "evaluate", "agent": "swapper",
                                             "tool": tool})
                    sample = Sample(sent, time.monotonic(), tool, answer)
                    with self.counted:
                        self.samples.append(sample)
                        self.counted.notify_all()
        except BaseException as exc:
            with self.counted:
                self.failures.append(exc)
                self.counted.notify_all()

    def wait_for_more(self, count: int) -> None:
        with self.counted:
            target = len(self.samples) + count
            assert self.counted.wait_for(
                lambda: len(self.samples) >= target or self.failures, TIMEOUT_S), \
                f"fewer than {count} answers in {TIMEOUT_S}s"
        assert not self.failures, self.failures


def in_force(applied: list[Applied], sample: Sample) -> set[str]:
    """The versions that may have decided `sample`: from the last apply that returned
    before it was sent to the last apply that started before its answer came back."""
    first = max(i for i, a in enumerate(applied) if a.returned < sample.sent)
    last = max(i for i, a in enumerate(applied) if a.started < sample.received)
    return {a.version for a in applied[first:last + 1]}


def test_applies_under_load_take_effect_between_requests_and_fail_none(
        running: Running, tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    files = {PERMITS: versions / "permits.fms", DENIES: versions / "denies.fms"}
    for text, path in files.items():
        path.write_text(text, "utf-8")
    (versions / "broken.fms").write_text(BROKEN, "utf-8")

    with running.control() as control:
        initial = control.call("status")["policy"]["version"]
        applied = [Applied(float("-inf"), float("-inf"), initial)]
        decides = {initial: DECIDES[PERMITS]}
        with Load(running) as load:
            load.wait_for_more(PER_VERSION)
            for n in range(APPLIES):
                text = DENIES if n % 2 == 0 else PERMITS
                started = time.monotonic()
                result = control.call("apply", path=str(files[text]))
                applied.append(Applied(started, time.monotonic(), result["policy_version"]))
                assert result["changed"] is True
                assert result["previous_version"] == applied[-2].version
                assert decides.setdefault(result["policy_version"], DECIDES[text]) == \
                    DECIDES[text]
                load.wait_for_more(PER_VERSION)

            refused = control.request({"op": "apply", "path": str(versions / "broken.fms")})
            refused_at = time.monotonic()
            load.wait_for_more(PER_VERSION)
        assert not load.failures, load.failures
        assert control.call("status")["policy"]["version"] == applied[-1].version

    assert refused["ok"] is False
    assert refused["error"]["code"] == "POLICY_INVALID"
    assert [(d["file"].endswith("broken.fms"), d["line"])
            for d in refused["error"]["diagnostics"]] == [(True, 2)]

    # No request failed, and each answer is what a version in force while it was in
    # flight decides; its record names that version.
    records = {r["action_id"]: r for _, r in running.daemon.wal.entries()
               if r.get("kind") == "decision"}
    for sample in load.samples:
        assert sample.answer.get("ok") is True, sample
        result = sample.answer["result"]
        possible = in_force(applied, sample)
        got = (result["effect"], result["code"])
        if sample.tool == "files/read":
            assert got == ("PERMIT", "RULE_PERMIT"), sample
        else:
            assert got in {decides[v] for v in possible}, (sample, possible)
        record = records[result["action_id"]]
        assert record["policy_version"] in possible, (sample, possible)
        assert (record["answered_effect"], record["code"]) == got
        if sample.tool == "tool/flip":
            assert decides[record["policy_version"]] == got

    flips = [s for s in load.samples if s.tool == "tool/flip"]
    assert {s.answer["result"]["effect"] for s in flips} == {"PERMIT", "DENY"}
    # Every apply served requests of its own, and the last (not the broken one) is the
    # one in force for every request sent after it returned.
    for k, version in enumerate(applied[1:], start=1):
        end = applied[k + 1].started if k + 1 < len(applied) else float("inf")
        own = [s for s in flips if version.returned < s.sent and s.received < end]
        assert own, f"apply {k} served no request on its own"
        assert {(s.answer["result"]["effect"], s.answer["result"]["code"]) for s in own} \
            == {decides[version.version]}
    after_broken = [s for s in flips if s.sent > refused_at]
    assert after_broken
    assert {s.answer["result"]["effect"] for s in after_broken} == \
        {decides[applied[-1].version][0]}
