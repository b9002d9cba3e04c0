"""Stored policy versions: every version put in force can be rolled back to, unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from faramesh.daemon.versions import PolicyVersions
from faramesh.errors import DaemonError
from faramesh.fpl.loader import load_policy

NOW = datetime(2026, 11, 25, tzinfo=UTC)
V1 = 'agent "a" {\n  rules { permit x }\n}\n'
V2 = 'agent "a" {\n  rules { deny x }\n}\n'


def test_a_stored_version_loads_back_with_the_same_hash_and_decisions(tmp_path: Path) -> None:
    versions = PolicyVersions(tmp_path / "policies")
    policy = load_policy(V1)
    versions.save(policy, "governance.fms", NOW)
    loaded = versions.load(policy.version_hash[:12])
    assert loaded.version_hash == policy.version_hash
    action = {"agent": "a", "tool": "x"}
    assert loaded.evaluate(action)[:3] == policy.evaluate(action)[:3]


def test_previous_is_the_version_in_force_before_the_current_one(tmp_path: Path) -> None:
    versions = PolicyVersions(tmp_path / "policies")
    one, two = load_policy(V1), load_policy(V2)
    for p in (one, two, two):
        versions.save(p, "src", NOW)
    assert [e["version"] for e in versions.history()] == [one.version_hash, two.version_hash]
    assert versions.previous(two.version_hash) == one.version_hash
    assert PolicyVersions(tmp_path / "empty").previous(one.version_hash) is None


def test_an_unknown_or_ambiguous_version_is_refused(tmp_path: Path) -> None:
    versions = PolicyVersions(tmp_path / "policies")
    versions.save(load_policy(V1), "src", NOW)
    with pytest.raises(DaemonError):
        versions.load("ffffffff")
    with pytest.raises(DaemonError):
        versions.load("")


def test_repeated_rollbacks_keep_stepping_back(tmp_path: Path) -> None:
    versions = PolicyVersions(tmp_path / "policies")
    a, b, c = (load_policy(f'agent "a" {{\n  rules {{ permit {t} }}\n}}\n') for t in "xyz")
    for p in (a, b, c):
        versions.save(p, "src", NOW)
    assert versions.previous(c.version_hash) == b.version_hash
    versions.save(b, "rollback", NOW, rollback=True)
    assert versions.previous(b.version_hash) == a.version_hash
    versions.save(a, "rollback", NOW, rollback=True)
    assert versions.previous(a.version_hash) is None
