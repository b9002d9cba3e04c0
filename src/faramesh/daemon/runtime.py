"""Runtime settings: the policy's `runtime` block, then command-line overrides.

Relative paths are taken from the stack directory, so a directory holding one
`governance.fms` is all `faramesh serve --dir DIR` needs. Defaults: data under
`DIR/.faramesh/`, the agent socket `faramesh.sock` and the control socket
`control.sock` in it, HTTP on 127.0.0.1:7790, enforce mode, fsync durability, the
embedded SQLite state backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faramesh.errors import DaemonError
from faramesh.policy.ir import PolicyIR

DEFAULT_HTTP = "127.0.0.1:7790"
EMBEDDED_BACKENDS = ("sqlite", "memory")


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    stack_dir: Path
    data_dir: Path
    wal_dir: Path
    socket: Path
    control_socket: Path
    http_listen: str | None  # "host:port"; None: no HTTP API
    mode: str = "enforce"
    durability: str = "fsync"
    backend: str = "sqlite"
    cold_start_deny_window_s: float = 0.0
    flush_interval_s: float = 0.005  # durability "os": the longest a record waits for fsync
    snapshot_interval_s: float = 30.0

    @property
    def http_host_port(self) -> tuple[str, int] | None:
        if self.http_listen is None:
            return None
        host, _, port = self.http_listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    def to_dict(self) -> dict[str, Any]:
        return {"stack_dir": str(self.stack_dir), "data_dir": str(self.data_dir),
                "wal_dir": str(self.wal_dir), "socket": str(self.socket),
                "control_socket": str(self.control_socket), "http_listen": self.http_listen,
                "mode": self.mode, "durability": self.durability, "backend": self.backend,
                "cold_start_deny_window_s": self.cold_start_deny_window_s,
                "flush_interval_s": self.flush_interval_s}


def settings_for(policy: PolicyIR, stack_dir: Path, **overrides: Any) -> RuntimeSettings:
    """The settings of a stack; `overrides` (non-None values) win over the policy."""
    block = next((b for b in policy.blocks if b.kind == "runtime"), None)

    def get(key: str) -> Any:
        value = overrides.get(key)
        if value is None and block is not None:
            value = block.get(key)
        return value

    def path(value: Any, default: Path) -> Path:
        if value is None:
            return default
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else stack_dir / p

    stack_dir = stack_dir.resolve()
    data_dir = path(get("data_dir"), stack_dir / ".faramesh")
    window = get("cold_start_deny_window")
    http = get("http_listen")
    settings = RuntimeSettings(
        stack_dir=stack_dir, data_dir=data_dir,
        wal_dir=path(get("wal_dir"), data_dir / "wal"),
        socket=path(get("socket"), data_dir / "faramesh.sock"),
        control_socket=path(get("control_socket"), data_dir / "control.sock"),
        http_listen=None if http in ("off", "") else str(http or DEFAULT_HTTP),
        mode=str(get("mode") or "enforce"), durability=str(get("durability") or "fsync"),
        backend=str(get("backend") or "sqlite"),
        cold_start_deny_window_s=float(getattr(window, "seconds", window or 0)))
    if settings.backend not in EMBEDDED_BACKENDS:
        raise DaemonError(f"state backend `{settings.backend}` is not available in this "
                          f"version; use `sqlite` (default) or `memory`")
    if settings.http_listen is not None:
        host, _ = settings.http_host_port or ("", 0)
        if host not in ("127.0.0.1", "::1", "localhost") and not overrides.get("http_public"):
            raise DaemonError(f"http_listen `{settings.http_listen}` is not loopback; the "
                              f"HTTP API has no authentication yet")
    return settings
