"""Every policy version the daemon has put in force, kept for `rollback`.

Each version is stored once as its IR in JSON (`<version>.fms.json`, the canonical data
form, which keeps rule lines) and listed in `versions.json` with when and from where it
was applied, newest last. A rollback is listed too, marked, so repeated rollbacks keep
stepping back (A, B, C, rollback -> B, rollback -> A) instead of toggling.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from faramesh.errors import DaemonError
from faramesh.policy.evaluator import Policy


class PolicyVersions:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._list = directory / "versions.json"

    def history(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self._list.read_text("utf-8"))
        except FileNotFoundError:
            return []
        return data if isinstance(data, list) else []

    def save(self, policy: Policy, source: str, now: datetime,
             rollback: bool = False) -> None:
        from faramesh.fpl.ir_codec.text import dump_json

        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        version = policy.version_hash
        path = self.directory / f"{version}.fms.json"
        if not path.exists():
            _write_atomic(path, dump_json(policy.ir))
        entries = self.history()
        if entries and entries[-1].get("version") == version:
            return
        entry: dict[str, Any] = {"version": version, "applied_at": now.isoformat(),
                                 "source": source}
        if rollback:
            entry["rollback"] = True
        entries.append(entry)
        _write_atomic(self._list, json.dumps(entries, indent=1) + "\n")

    def in_force_stack(self) -> list[str]:
        """The versions a rollback can step back through, the one in force last."""
        stack: list[str] = []
        for entry in self.history():
            version = str(entry.get("version", ""))
            if entry.get("rollback") and version in stack:
                while stack[-1] != version:
                    stack.pop()
            elif not stack or stack[-1] != version:
                stack.append(version)
        return stack

    def previous(self, current: str) -> str | None:
        """The version a rollback from `current` goes back to."""
        stack = self.in_force_stack()
        while stack and stack[-1] == current:
            stack.pop()
        return stack[-1] if stack else None

    def load(self, version: str) -> Policy:
        matches = [e["version"] for e in self.history()
                   if str(e.get("version", "")).startswith(version)]
        if not version or len(set(matches)) != 1:
            raise DaemonError(f"no single stored policy version starts with `{version}`")
        from faramesh.fpl.loader import load_policy_ir

        return Policy(load_policy_ir(self.directory / f"{matches[0]}.fms.json"))


def _write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename over `path`, fsync the directory: all or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
