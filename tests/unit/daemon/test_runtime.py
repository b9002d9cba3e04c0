"""Runtime settings: the policy's `runtime` block, relative to the stack directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from faramesh.daemon.runtime import settings_for
from faramesh.errors import DaemonError
from faramesh.fpl.loader import load_policy_ir


def test_a_bare_stack_gets_embedded_defaults_under_its_directory(tmp_path: Path) -> None:
    s = settings_for(load_policy_ir('agent "a" { rules { permit x } }'), tmp_path)
    assert s.data_dir == tmp_path.resolve() / ".faramesh"
    assert s.socket == s.data_dir / "faramesh.sock"
    assert (s.mode, s.durability, s.backend, s.http_listen) == \
        ("enforce", "fsync", "sqlite", "127.0.0.1:7790")


def test_runtime_paths_are_relative_to_the_stack_and_flags_override(tmp_path: Path) -> None:
    ir = load_policy_ir('runtime { mode = "audit"  data_dir = "state"  durability = "os"'
                        '  http_listen = "127.0.0.1:0"  cold_start_deny_window = "2s" }\n'
                        'agent "a" { rules { permit x } }')
    s = settings_for(ir, tmp_path, mode="enforce", socket="/tmp/f.sock")
    assert s.data_dir == tmp_path.resolve() / "state"
    assert s.wal_dir == s.data_dir / "wal"
    assert (s.mode, s.durability, str(s.socket)) == ("enforce", "os", "/tmp/f.sock")
    assert s.http_host_port == ("127.0.0.1", 0)
    assert s.cold_start_deny_window_s == 2.0


@pytest.mark.parametrize("runtime", ['backend = "postgres"', 'http_listen = "0.0.0.0:80"'])
def test_settings_the_daemon_cannot_honour_are_refused(tmp_path: Path, runtime: str) -> None:
    ir = load_policy_ir(f"runtime {{ {runtime} }}\nagent \"a\" {{ rules {{ permit x }} }}")
    with pytest.raises(DaemonError):
        settings_for(ir, tmp_path)
