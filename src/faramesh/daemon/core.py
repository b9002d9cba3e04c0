"""The daemon: one object holding the policy in force, the state, the WAL and the pipeline.

Every ingress (unix socket, HTTP, later the gateways) calls `evaluate` / `scan_output`
with the request object and the caller it saw; control commands (`apply`, `kill`,
`rollback`, phases) come over the control socket. State changes made by control commands
are written to the WAL like decisions, so a restart replays them: a kill switch is never
lifted by a restart, a budget never refilled.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faramesh.audit.index import RecordIndex
from faramesh.audit.wal import WAL
from faramesh.car import CAR, Caller, build_car
from faramesh.daemon.lifecycle import Lifecycle
from faramesh.daemon.runtime import RuntimeSettings, settings_for
from faramesh.daemon.versions import PolicyVersions
from faramesh.errors import ActionError, ControlError, DaemonError
from faramesh.pipeline.call import Env, Settings
from faramesh.pipeline.outcome import Outcome
from faramesh.pipeline.pipeline import Pipeline
from faramesh.pipeline.selectors import SelectorCache
from faramesh.policy.decision import Code, Decision, Effect
from faramesh.policy.evaluator import Policy
from faramesh.scanners.output import scan_output
from faramesh.state.memory import MemoryState
from faramesh.state.protocol import StateOp
from faramesh.state.sqlite import load_snapshot, snapshot_bytes, write_snapshot

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    def __init__(self, stack: Path, *, clock: Clock = utc_now, **overrides: Any) -> None:
        self.stack = stack
        self.clock = clock
        self.overrides = overrides
        self.lifecycle = Lifecycle.STARTING
        self.started_at = clock()
        self.ready_at: datetime | None = None
        self.settings: RuntimeSettings | None = None
        self.pipeline: Pipeline | None = None
        self.metrics: Any = None  # daemon.metrics.Metrics, set by `serve`
        self.policy_source = str(stack)  # where the policy in force came from
        self.state: MemoryState | None = None
        self.wal: WAL | None = None
        self._index: RecordIndex | None = None
        self._versions: PolicyVersions | None = None
        self._lock_fd: int | None = None
        self._snapshot_task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """STARTING -> INITIALIZING -> READY. Raises FarameshError when it cannot start
        (bad policy, a second daemon on the same data dir, an unreadable WAL)."""
        try:
            policy = await asyncio.to_thread(lambda: Policy(_load_ir(self.stack)))
            stack_dir = self.stack if self.stack.is_dir() else self.stack.parent
            settings = self.settings = settings_for(policy.ir, stack_dir, **self.overrides)
            _private_dir(settings.data_dir)
            self._lock_fd = _take_lock(settings.data_dir / "daemon.lock")
            self.lifecycle = Lifecycle.INITIALIZING
            # Restoring reads files: off the loop, so the listeners answer DAEMON_NOT_READY.
            state, wal, index = await asyncio.to_thread(self._restore, settings)
            self._versions = PolicyVersions(settings.data_dir / "policies")
            env = Env(state=state, log=wal,
                      settings=Settings(mode=settings.mode), clock=self.clock,
                      selectors=SelectorCache(), dpr=index)
            self.pipeline = Pipeline(env, policy)
            await self._record_policy(policy, source=str(self.stack))
            if settings.backend == "sqlite":
                self._snapshot_task = asyncio.create_task(
                    self._snapshots(settings.data_dir / "state.db"))
            self.lifecycle = Lifecycle.READY
            self.ready_at = self.clock()
        except BaseException:
            self.lifecycle = Lifecycle.HALT
            await self._release()
            raise

    def _restore(self, settings: RuntimeSettings) -> tuple[MemoryState, WAL, RecordIndex]:
        """State from the last snapshot plus the ops of every later WAL record; the record
        index brought up to the WAL."""
        state, seq = (load_snapshot(settings.data_dir / "state.db")
                      if settings.backend == "sqlite" else (MemoryState(), 0))
        self.state = state
        wal = self.wal = WAL.open(settings.wal_dir, durability=settings.durability,
                                  flush_interval_s=settings.flush_interval_s)
        index = self._index = RecordIndex(settings.data_dir / "records.db")
        replayed = list(wal.entries())
        for sequence, record in replayed:
            if sequence > seq:
                for op in record.get("state_ops", ()):
                    state.apply(op)
        index.catch_up(replayed)
        return state, wal, index

    async def stop(self) -> None:
        if self.lifecycle is Lifecycle.HALT:
            return
        self.lifecycle = Lifecycle.HALT
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
        if self.state is not None and self.settings and self.settings.backend == "sqlite":
            await self._snapshot(self.settings.data_dir / "state.db")
        await self._release()

    async def _release(self) -> None:
        if self.wal is not None:
            await self.wal.close()
            self.wal = None
        if self._index is not None:
            await asyncio.to_thread(self._index.close)
            self._index = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def _snapshots(self, path: Path) -> None:
        assert self.settings is not None
        while True:
            await asyncio.sleep(self.settings.snapshot_interval_s)
            try:
                await self._snapshot(path)
            except OSError:
                log.exception("state snapshot failed; the WAL still holds every change")

    async def _snapshot(self, path: Path) -> None:
        assert self.state is not None and self.wal is not None
        data = snapshot_bytes(self.state, self.wal.last_sequence)
        await asyncio.to_thread(write_snapshot, path, data)

    # --- decisions -----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Deciding: READY and past the cold-start window."""
        return self._not_ready() is None

    def _not_ready(self) -> str | None:
        if self.lifecycle is not Lifecycle.READY:
            return f"daemon is {self.lifecycle.value.lower()}"
        assert self.settings is not None and self.ready_at is not None
        window = self.settings.cold_start_deny_window_s
        if window and (self.clock() - self.ready_at).total_seconds() < window:
            return f"daemon is in its cold-start window ({window:g}s)"
        return None

    async def evaluate(self, request: Mapping[str, Any], caller: Caller) -> Outcome:
        """Decide one request object. Raises ActionError (nothing recorded, no state
        changed) when the request is malformed; answers DAEMON_NOT_READY until READY."""
        now = self.clock()
        car = build_car(request, caller, now)
        why = self._not_ready()
        if why is not None or self.pipeline is None:
            decision = Decision(Effect.DENY, Code.DAEMON_NOT_READY, None,
                                why or "daemon is starting", (), car.agent_id, car.tool)
            outcome = Outcome(car.action_id, decision, Effect.DENY,
                              self.settings.mode if self.settings else "enforce",
                              {"retry_after_seconds": 1})
            if self.metrics is not None:
                self.metrics.observe_decision(outcome)
            return outcome
        return await self.decide(car)

    async def decide(self, car: CAR) -> Outcome:
        assert self.pipeline is not None
        outcome = await self.pipeline.decide(car)
        if self.metrics is not None:  # after the answer is written: off the caller's wait
            asyncio.get_running_loop().call_soon(self.metrics.observe_decision, outcome)
        return outcome

    async def scan_output(self, request: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        """Scan a tool's result; the outcome is recorded, linked to `action_id`."""
        if self._not_ready() is not None or self.pipeline is None:
            return {"verdict": "denied", "code": Code.DAEMON_NOT_READY.value, "findings": []}
        agent_id, tool = request.get("agent"), request.get("tool")
        if not isinstance(agent_id, str) or not isinstance(tool, str):
            raise ActionError("`agent` and `tool` must be strings", field="agent")
        if "output" not in request:
            raise ActionError("`output` is required", field="output")
        action_id = request.get("action_id")
        policy = self.pipeline.policy
        agent = policy.agents.get(agent_id)
        result = scan_output(agent, tool, request["output"])
        await self._append({"kind": "scan_output", "action_id": action_id,
                            "agent_id": agent_id, "tool": tool, "verdict": result.verdict,
                            "findings": [f.to_dict() for f in result.findings],
                            "caller": caller.to_dict()})
        return {"verdict": result.verdict, "action_id": action_id,
                "findings": [f.to_dict() for f in result.findings],
                "output": result.output}

    # --- control -------------------------------------------------------------------------

    async def _append(self, record: dict[str, Any]) -> int:
        if self.wal is None:
            raise DaemonError("daemon is not running")
        record.setdefault("time", self.clock().isoformat())
        seq = await self.wal.append(record)
        if self._index is not None:
            self._index.submit(seq, record)
        return seq

    async def _control(self, command: str, ops: list[StateOp | None],
                       **fields: Any) -> dict[str, Any]:
        record = {"kind": "control", "command": command, **fields,
                  "state_ops": [op for op in ops if op is not None]}
        await self._append(record)
        return {"ok": True, "command": command, **fields}

    def _require_ready(self) -> tuple[MemoryState, Pipeline]:
        if self.state is None or self.pipeline is None:
            raise DaemonError("daemon is not ready")
        return self.state, self.pipeline

    async def kill(self, agent_id: str | None, reason: str) -> dict[str, Any]:
        state, _ = self._require_ready()
        mutation = await state.kill_switch.engage(agent_id, reason, self.clock())
        return await self._control("kill", [mutation.op], agent_id=agent_id, reason=reason)

    async def release(self, agent_id: str | None) -> dict[str, Any]:
        state, _ = self._require_ready()
        mutation = await state.kill_switch.release(agent_id, self.clock())
        return await self._control("release", [mutation.op], agent_id=agent_id)

    async def set_phase(self, agent_id: str, session_id: str | None,
                        phase: str) -> dict[str, Any]:
        state, pipeline = self._require_ready()
        agent = pipeline.policy.agents.get(agent_id)
        if agent is None:
            raise ControlError(f"agent `{agent_id}` is not declared by the policy in force")
        if phase not in agent.phases and phase not in agent.phase_exits:
            raise ControlError(f"agent `{agent_id}` has no phase `{phase}`")
        mutation = await state.sessions.set_phase(agent_id, session_id, phase, self.clock())
        return await self._control("phase", [mutation.op], agent_id=agent_id,
                                   session_id=session_id, phase=phase)

    async def apply(self, source: Path | None = None) -> dict[str, Any]:
        """Compile the stack (or `source`) and put it in force atomically. A policy that
        does not compile raises PolicyError and leaves the one in force untouched."""
        _, pipeline = self._require_ready()
        path = source or self.stack
        policy = await asyncio.to_thread(lambda: Policy(_load_ir(path)))
        return await self._swap(pipeline, policy, str(path))

    async def rollback(self, version: str | None) -> dict[str, Any]:
        _, pipeline = self._require_ready()
        assert self._versions is not None
        target = self._versions.previous(pipeline.policy.version_hash) if version is None \
            else version
        if target is None:
            raise ControlError("no earlier policy version to roll back to")
        policy = await asyncio.to_thread(self._versions.load, target)
        return await self._swap(pipeline, policy, f"rollback:{policy.version_hash}",
                                rollback=True)

    async def _swap(self, pipeline: Pipeline, policy: Policy, source: str, *,
                    rollback: bool = False) -> dict[str, Any]:
        previous = pipeline.policy.version_hash
        if policy.version_hash == previous:
            return {"ok": True, "changed": False, "policy_version": previous}
        await self._record_policy(policy, source=source, previous=previous, rollback=rollback)
        pipeline.swap(policy)
        self.policy_source = source
        return {"ok": True, "changed": True, "policy_version": policy.version_hash,
                "previous_version": previous}

    async def _record_policy(self, policy: Policy, *, source: str,
                             previous: str | None = None, rollback: bool = False) -> None:
        """Keep the version for rollback and record that it is in force from now on."""
        assert self._versions is not None
        await asyncio.to_thread(self._versions.save, policy, source, self.clock(), rollback)
        await self._append({"kind": "policy", "policy_version": policy.version_hash,
                            "previous_version": previous, "source": source})

    # --- reading -------------------------------------------------------------------------

    def decision_record(self, action_id: str) -> dict[str, Any] | None:
        return self._index.get(action_id) if self._index is not None else None

    async def status(self) -> dict[str, Any]:
        from faramesh.daemon.status import build_status  # the status report's own module

        return await build_status(self)


def _load_ir(path: Path) -> Any:
    from faramesh.fpl.loader import load_stack

    return load_stack(path)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _take_lock(path: Path) -> int:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DaemonError(f"another daemon is running on {path.parent}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd

