"""Every policy version the daemon has put in force, kept for `rollback`.

Each version is stored once as its IR in JSON (`<version>.fms.json`, the canonical data
form, which keeps rule lines) and listed in `versions.json` with when and from where it
was applied, newest last.
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
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._list = directory / "versions.json"

    def history(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self._list.read_text("utf-8"))
        except FileNotFoundError:
            return []
        return data if isinstance(data, list) else []

    def save(self, policy: Policy, source: str, now: datetime) -> None:
        from faramesh.fpl.ir_codec.text import dump_json

        version = policy.version_hash
        path = self.directory / f"{version}.fms.json"
        if not path.exists():
            _write_atomic(path, dump_json(policy.ir))
        entries = self.history()
        if entries and entries[-1].get("version") == version:
            return
        entries.append({"version": version, "applied_at": now.isoformat(), "source": source})
        _write_atomic(self._list, json.dumps(entries, indent=1) + "\n")

    def previous(self, current: str) -> str | None:
        """The version in force before the current one became so."""
        versions = [e.get("version") for e in self.history()]
        while versions and versions[-1] == current:
            versions.pop()
        return str(versions[-1]) if versions else None

    def load(self, version: str) -> Policy:
        matches = [e["version"] for e in self.history()
                   if str(e.get("version", "")).startswith(version)]
        if not version or len(set(matches)) != 1:
            raise DaemonError(f"no single stored policy version starts with `{version}`")
        from faramesh.fpl.loader import load_policy_ir

        return Policy(load_policy_ir(self.directory / f"{matches[0]}.fms.json"))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
