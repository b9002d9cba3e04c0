"""Shared test configuration."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.paths import CORPUS

assert CORPUS.is_dir(), f"the FPL corpus is expected at {CORPUS}"

# Bounded, deterministic property tests: CI must stay well inside its time budget.
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
