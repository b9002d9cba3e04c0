"""The daemon killed for real: every answered decision and every state change survive.

`faramesh serve` runs as a subprocess (processes.DaemonProcess). Under load from eight
client threads it is SIGKILLed at a seeded random moment, three rounds on one data dir,
in both durabilities; then every answered decision must be in the WAL and findable, and
no budget may be refilled (DESIGN.md section 2, invariant 4; decisions/0004). The kill
switch, a rate-limit bucket and a session's history must survive a restart too.

The seed is FARAMESH_CRASH_SEED (default "faramesh"); the kill lands wherever the eight
threads are when the answer count passes the seeded threshold.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from faramesh.audit.wal import WAL
from faramesh.errors import DaemonError
from tests.integration.daemon.harness import TIMEOUT_S, ClientThreads
from tests.integration.daemon.processes import DaemonProcess

MAX_CALLS = 150  # each spender's daily budget
ROUNDS = 3
THREADS = 8
SPENDERS = [f"spender{n}" for n in range(ROUNDS)]  # one fresh budget per round

SPENDER = """
agent "{name}" {{
  default deny
  rules {{
    permit work/do
    deny files/delete reason "files are never deleted"
  }}
  budget daily {{ max_calls {max_calls}  on_exceed deny }}
}}
"""
LOAD_STACK = "".join(SPENDER.format(name=name, max_calls=MAX_CALLS) for name in SPENDERS)

STACK = """\
agent "worker" {
  default deny
  rules { permit files/read }
}

agent "bystander" {
  default deny
  rules { permit files/read }
}

agent "limited" {
  default deny
  rules { permit x }
  rate_limit "x": 5 per hour
}

agent "mailer" {
  default deny
  rules {
    deny email/send when history_sequence("db/read", "email/send") reason "read, then mail"
    permit db/read
    permit email/send
  }
}
"""
HISTORY_RULE_LINE = STACK.splitlines().index(
    '    deny email/send when history_sequence("db/read", "email/send") reason "read, then mail"'
) + 1

# What each tool of a spender may be answered under load.
EXPECTED = {"work/do": {("PERMIT", "RULE_PERMIT"), ("DENY", "BUDGET_EXCEEDED")},
            "files/delete": {("DENY", "POLICY_DENY")}}


@dataclass(frozen=True)
class Answer:
    action_id: str
    tool: str
    effect: str
    code: str


class Load(ClientThreads):
    """THREADS clients, each sending evaluate requests one after another on its own
    connection until the daemon goes away (or the block ends), recording every answer."""

    def __init__(self, daemon: DaemonProcess, agent: str, seed: str) -> None:
        self.daemon, self.agent, self.seed = daemon, agent, seed
        self.answers: list[Answer] = []
        self.errors: list[dict[str, Any]] = []  # error answers: none may come
        self.unexpected: list[BaseException] = []  # anything but losing the daemon
        self.killed = threading.Event()
        super().__init__(THREADS)

    def _client(self, n: int) -> None:
        rng = random.Random(f"{self.seed}/{n}")
        try:
            with self.daemon.agent() as client:
                while not self.stop.is_set():
                    tool = "work/do" if rng.random() < 0.5 else "files/delete"
                    try:
                        answer = client.request({"op": "evaluate", "agent": self.agent,
                                                 "tool": tool})
                    except DaemonError as exc:
                        if not self.killed.is_set():  # lost before the kill: a failure
                            self.unexpected.append(exc)
                        return  # the daemon was killed: this request got no answer
                    with self.counted:
                        if answer.get("ok"):
                            result = answer["result"]
                            self.answers.append(Answer(result["action_id"], tool,
                                                       result["effect"], result["code"]))
                        else:
                            self.errors.append(answer)
                        self.counted.notify_all()
        except BaseException as exc:
            self.unexpected.append(exc)

    def wait_for(self, count: int) -> None:
        with self.counted:
            assert self.counted.wait_for(
                lambda: len(self.answers) + len(self.errors) >= count or self.unexpected,
                TIMEOUT_S), f"fewer than {count} answers in {TIMEOUT_S}s"
        assert not self.unexpected, self.unexpected

    def kill(self) -> None:
        """SIGKILL the daemon while the clients keep sending."""
        self.killed.set()
        self.daemon.kill()


def read_wal_copy(wal_dir: Path, scratch: Path) -> dict[str, dict[str, Any]]:
    """The decision records of a stopped daemon's WAL, by action_id, read from a copy so
    that the daemon's own restart is what cuts a torn tail, if there is one."""
    copy = scratch / "wal-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(wal_dir, copy)
    wal = WAL.open(copy)
    try:
        return {r["action_id"]: r for _, r in wal.entries() if r.get("kind") == "decision"}
    finally:
        asyncio.run(wal.close())


def spent_calls(daemon: DaemonProcess, agent: str) -> int:
    status = daemon.control_call("status")
    (entry,) = [a for a in status["agents"] if a["agent_id"] == agent]
    (daily,) = [b for b in entry["budgets"] if b["budget_id"] == "daily"]
    count: int = daily["spent_calls"]
    return count


def permits_until_exhausted(daemon: DaemonProcess, agent: str) -> int:
    """Call the budgeted tool until BUDGET_EXCEEDED (at most MAX_CALLS + 1 calls)."""
    permits = 0
    with daemon.agent() as client:
        for _ in range(MAX_CALLS + 1):
            result = client.call("evaluate", agent=agent, tool="work/do")
            if result["code"] == "BUDGET_EXCEEDED":
                assert result["effect"] == "DENY"
                return permits
            assert (result["effect"], result["code"]) == ("PERMIT", "RULE_PERMIT"), result
            permits += 1
    raise AssertionError(f"{agent} got more than {MAX_CALLS} permits after the restart")


@pytest.mark.parametrize("durability", ["fsync", "os"])
def test_sigkill_under_load_loses_no_answered_decision_and_refills_no_budget(
        durability: str, tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("FARAMESH_CRASH_SEED", "faramesh") + durability)
    answered: dict[str, Answer] = {}  # every answer of every round
    with DaemonProcess(LOAD_STACK, durability=durability) as daemon:
        daemon.start()
        assert daemon.control_call("status")["durability"] == durability
        for round_, agent in enumerate(SPENDERS):
            kill_after = rng.randint(100, 400)
            with Load(daemon, agent, seed=f"{rng.random()}") as load:
                load.wait_for(kill_after)
                load.kill()
            assert not load.unexpected, load.unexpected
            assert load.errors == []
            assert len(load.answers) >= kill_after
            for answer in load.answers:
                assert (answer.effect, answer.code) in EXPECTED[answer.tool], answer
            permits_before = sum(a.effect == "PERMIT" for a in load.answers)
            answered.update((a.action_id, a) for a in load.answers)

            # (a) on disk: every answered decision, as answered (read while stopped).
            records = read_wal_copy(daemon.wal_dir, tmp_path)
            for answer in load.answers:
                record = records.get(answer.action_id)
                assert record is not None, f"round {round_}: answered {answer} not in the WAL"
                assert (record["agent_id"], record["tool"], record["answered_effect"],
                        record["code"]) == (agent, answer.tool, answer.effect, answer.code)
            permit_records = sum(r["agent_id"] == agent and r["answered_effect"] == "PERMIT"
                                 for r in records.values())
            assert permits_before <= permit_records <= MAX_CALLS

            # (c) the log reopens: the daemon starts on the killed daemon's files.
            daemon.start()

            # (a) again, through the daemon: every answer of every round so far.
            with daemon.control() as control:
                for answer in answered.values():
                    record = control.call("decision", action_id=answer.action_id)
                    assert (record["action_id"], record["answered_effect"],
                            record["code"]) == (answer.action_id, answer.effect, answer.code)

            # (b) the budget is not refilled: what was spent stays spent.
            spent = spent_calls(daemon, agent)
            assert spent >= permit_records >= permits_before
            permits_after = permits_until_exhausted(daemon, agent)
            assert spent + permits_after == MAX_CALLS
            assert permits_before + permits_after <= MAX_CALLS
            for earlier in SPENDERS[:round_]:  # exhausted budgets stay exhausted
                assert spent_calls(daemon, earlier) == MAX_CALLS
                assert daemon.evaluate(earlier, "work/do")["code"] == "BUDGET_EXCEEDED"

        assert daemon.terminate() == 0
        # Every start got to READY and nothing was logged as an error.
        entries = [json.loads(line) for line in daemon.log().splitlines()
                   if line.startswith("{")]
        assert [e["message"] for e in entries].count("ready") == daemon.starts == ROUNDS + 1
        assert [e for e in entries if e["level"] in ("error", "critical")] == []
        # The clean stop leaves an intact, gapless log holding every answered decision.
        wal = WAL.open(daemon.wal_dir)
        try:
            assert wal.recovery.reason is None
            sequences, ids = [], set()
            for sequence, record in wal.entries():
                sequences.append(sequence)
                ids.add(record.get("action_id"))
        finally:
            asyncio.run(wal.close())
        assert sequences == list(range(1, len(sequences) + 1))
        assert ids >= answered.keys()
    effects = Counter(a.effect for a in answered.values())
    assert effects["PERMIT"] > 0 and effects["DENY"] > 0


def test_the_kill_switch_survives_sigkill_and_release_lifts_it() -> None:
    with DaemonProcess(STACK) as daemon:
        daemon.start()
        assert daemon.evaluate("worker", "files/read")["code"] == "RULE_PERMIT"
        killed = daemon.control_call("kill", agent_id="worker", reason="drill 42")
        assert killed == {"ok": True, "command": "kill", "agent_id": "worker",
                          "reason": "drill 42"}
        assert daemon.evaluate("worker", "files/read")["code"] == "KILL_SWITCH"

        daemon.kill()
        daemon.start()
        result = daemon.evaluate("worker", "files/read")
        assert (result["effect"], result["code"]) == ("DENY", "KILL_SWITCH")
        assert daemon.evaluate("bystander", "files/read")["code"] == "RULE_PERMIT"
        status = daemon.control_call("status")
        assert [(k["agent_id"], k["reason"]) for k in status["kill_switch"]] == \
            [("worker", "drill 42")]

        assert daemon.control_call("release", agent_id="worker")["command"] == "release"
        assert daemon.evaluate("worker", "files/read")["code"] == "RULE_PERMIT"

        daemon.kill()  # the release is durable too
        daemon.start()
        assert daemon.evaluate("worker", "files/read")["code"] == "RULE_PERMIT"
        assert daemon.control_call("status")["kill_switch"] == []


def test_a_restart_does_not_refill_a_rate_limit_bucket() -> None:
    with DaemonProcess(STACK) as daemon:
        daemon.start()
        for _ in range(5):
            assert daemon.evaluate("limited", "x")["code"] == "RULE_PERMIT"
        assert daemon.evaluate("limited", "x")["code"] == "RATE_EXCEEDED"

        assert daemon.terminate() == 0
        daemon.start()
        result = daemon.evaluate("limited", "x")
        assert (result["effect"], result["code"]) == ("DENY", "RATE_EXCEEDED")
        assert result["resolution"]["retry_after_seconds"] > 0
        (limited,) = [a for a in daemon.control_call("status")["agents"]
                      if a["agent_id"] == "limited"]
        assert [(r["pattern"], r["capacity"]) for r in limited["rate_limits"]] == [("x", 5)]
        assert limited["rate_limits"][0]["tokens"] < 1


def test_a_sessions_history_survives_sigkill() -> None:
    with DaemonProcess(STACK) as daemon:
        daemon.start()
        # The rule needs the history: mail alone is permitted, mail after a read is not.
        assert daemon.evaluate("mailer", "email/send", session_id="alone")["effect"] == \
            "PERMIT"
        assert daemon.evaluate("mailer", "db/read", session_id="s1")["effect"] == "PERMIT"

        daemon.kill()
        daemon.start()
        result = daemon.evaluate("mailer", "email/send", session_id="s1")
        assert (result["effect"], result["code"]) == ("DENY", "POLICY_DENY")
        assert result["rule_ref"].endswith(f"governance.fms:{HISTORY_RULE_LINE}")
        assert daemon.evaluate("mailer", "email/send", session_id="s2")["effect"] == \
            "PERMIT"
