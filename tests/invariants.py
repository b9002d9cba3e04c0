"""The invariants of DESIGN.md section 2, each with the tests that try to break it.

`tests/test_invariants.py` checks that every test named here exists, and that every
invariant either has tests or names the issue that builds its boundary. Add a test here
when it attacks an invariant; a renamed or deleted test then fails loudly.
"""

from __future__ import annotations

from typing import NamedTuple


class Invariant(NamedTuple):
    text: str
    tests: tuple[str, ...]  # "path/to/test_file.py::test_name"
    pending: str | None = None  # not built yet: which work builds it


INVARIANTS: dict[str, Invariant] = {
    "ingress.identity-attributed": Invariant(
        "every call is attributed to an identity (socket peer credentials, HTTP address)",
        ("tests/integration/daemon/test_socket_server.py::"
         "test_peer_credentials_are_recorded_on_the_decision",
         "tests/integration/daemon/test_http_api.py::"
         "test_http_caller_is_recorded_with_its_address",
         "tests/unit/pipeline/test_pipeline.py::"
         "test_a_permit_is_recorded_with_its_rule_and_the_caller")),
    "ingress.unresolved-identity-fails-closed": Invariant(
        "an identity that does not resolve matches no rule",
        ("tests/unit/pipeline/test_pipeline.py::"
         "test_an_unknown_agent_is_denied_before_any_state_is_touched",
         "tests/integration/daemon/test_socket_server.py::"
         "test_unknown_agent_is_denied_identity_unresolved")),
    "ingress.malformed-input-changes-nothing": Invariant(
        "malformed input gets a structured error and changes no state",
        ("tests/unit/test_car.py::test_a_malformed_request_is_refused_naming_its_field",
         "tests/unit/test_car.py::test_arguments_nested_beyond_the_limit_are_refused",
         "tests/integration/daemon/test_socket_server.py::"
         "test_malformed_request_gets_a_structured_error_and_the_connection_serves_on",
         "tests/integration/daemon/test_socket_server.py::"
         "test_a_line_over_one_mib_is_refused_and_the_connection_closed",
         "tests/integration/daemon/test_socket_server.py::"
         "test_a_client_leaving_mid_request_changes_nothing",
         "tests/integration/daemon/test_http_api.py::"
         "test_malformed_body_is_a_400_with_a_structured_error",
         "tests/integration/daemon/test_http_api.py::"
         "test_a_body_over_one_mib_is_a_413_announced_or_streamed")),
    "ingress.control-is-private": Invariant(
        "agents cannot reach control commands (kill switch, apply) through their socket",
        ("tests/integration/daemon/test_socket_server.py::"
         "test_control_ops_are_refused_on_the_agent_socket",
         "tests/integration/daemon/test_socket_server.py::"
         "test_control_socket_refuses_a_peer_of_another_user",
         "tests/integration/daemon/test_socket_server.py::test_sockets_are_created_mode_0600")),
    "broker.no-credential-before-durable-permit": Invariant(
        "no credential is released before a PERMIT for that action is durably recorded",
        (), pending="the credential broker issue"),
    "broker.scoped-credential-only": Invariant(
        "the tool receives only a scoped credential, injected at the call site",
        (), pending="the credential broker issue"),
    "wal.answered-record-survives-crash": Invariant(
        "once a decision is returned, its record survives a crash",
        ("tests/integration/test_wal_crash.py::test_every_answered_record_survives_sigkill",
         "tests/integration/daemon/test_crash.py::"
         "test_sigkill_under_load_loses_no_answered_decision_and_refills_no_budget",
         "tests/unit/audit/test_wal.py::"
         "test_fsync_mode_answers_only_after_a_flush_that_covers_the_record",
         "tests/unit/audit/test_wal.py::"
         "test_a_torn_tail_is_cut_at_the_last_good_frame_and_reported")),
    "wal.change-detected-by-verify": Invariant(
        "any later change to any record is detected by `faramesh audit verify`",
        ("tests/unit/audit/test_wal.py::test_corruption_followed_by_good_frames_is_not_repaired",
         "tests/unit/audit/test_wal.py::test_a_frame_out_of_sequence_is_refused"),
        pending="the audit issue (hash chain, signatures, verify); the WAL already refuses "
                "corrupt frames"),
    "wal.unwritable-denies": Invariant(
        "a WAL that cannot be written makes the daemon deny, never answer unrecorded",
        ("tests/unit/pipeline/test_pipeline.py::"
         "test_a_record_that_cannot_be_written_denies_the_call_in_every_mode",
         "tests/unit/audit/test_wal.py::"
         "test_a_failed_write_degrades_the_log_and_leaves_no_half_frame",
         "tests/unit/audit/test_wal.py::test_a_failed_flush_fails_every_waiting_append")),
    "modes.kill-switch-denies-in-every-mode": Invariant(
        "the kill switch denies in enforce and audit mode, from the next call, across restarts",
        ("tests/unit/pipeline/test_pipeline.py::test_the_kill_switch_denies_in_audit_mode_too",
         "tests/unit/pipeline/test_pipeline.py::"
         "test_the_kill_switch_denies_the_next_call_and_release_lifts_it",
         "tests/integration/daemon/test_crash.py::"
         "test_the_kill_switch_survives_sigkill_and_release_lifts_it")),
    "modes.not-ready-denies": Invariant(
        "a daemon that is not READY denies every call",
        ("tests/integration/daemon/test_http_api.py::"
         "test_healthz_and_readyz_follow_the_lifecycle",)),
    "fail-closed.stage-or-selector-failure": Invariant(
        "a failing stage or selector fails closed",
        ("tests/unit/pipeline/test_pipeline.py::"
         "test_a_stage_that_raises_fails_closed_and_the_call_is_still_recorded",
         "tests/unit/pipeline/test_selectors.py::test_an_unavailable_selector_denies_by_default",
         "tests/unit/pipeline/test_selectors.py::"
         "test_a_selector_that_times_out_applies_on_timeout")),
    "state.limits-never-overspent": Invariant(
        "concurrent calls never overspend a budget or a rate limit",
        ("tests/unit/pipeline/test_budget.py::test_concurrent_calls_never_spend_more_than_the_budget",
         "tests/integration/daemon/test_socket_server.py::"
         "test_concurrent_clients_never_get_more_permits_than_the_budget",
         "tests/unit/pipeline/test_rate_limit.py::"
         "test_a_call_refused_by_one_limit_takes_no_token_from_the_others")),
    "state.restart-refills-nothing": Invariant(
        "a restart never refills a budget or a bucket nor forgets a session's history",
        ("tests/integration/daemon/test_crash.py::"
         "test_sigkill_under_load_loses_no_answered_decision_and_refills_no_budget",
         "tests/integration/daemon/test_crash.py::test_a_restart_does_not_refill_a_rate_limit_bucket",
         "tests/integration/daemon/test_crash.py::test_a_sessions_history_survives_sigkill",
         "tests/unit/state/test_sqlite.py::test_a_bucket_is_not_refilled_by_save_and_load")),
}
