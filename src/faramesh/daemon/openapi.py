"""The OpenAPI 3.1 description of the HTTP API, written by hand and served at /openapi.json.

A test keeps it and the app's routes in step (every route described, nothing described
that is not served). Field meanings: docs/wire-format.md and DESIGN.md section 4.
"""

from __future__ import annotations

from typing import Any, Final

_REF = "#/components/schemas/"


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF + schema}}}}


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


_ERRORS: Final = {
    "400": _answer("malformed request (REQUEST_INVALID, ACTION_INVALID)", "ErrorBody"),
    "413": _answer("body over 1 MiB (REQUEST_TOO_LARGE)", "ErrorBody"),
    "500": _answer("internal error (INTERNAL_ERROR)", "ErrorBody"),
}

_STRINGS = {"type": "string"}
_OBJECT = {"type": "object"}

_SCHEMAS: Final[dict[str, Any]] = {
    "EvaluateRequest": {
        "type": "object", "required": ["agent", "tool"], "additionalProperties": False,
        "properties": {
            "agent": {"type": "string", "maxLength": 64, "description": "agent id"},
            "tool": {"type": "string", "maxLength": 1024},
            "args": _OBJECT, "principal": _OBJECT, "http": _OBJECT,
            "session_id": {"type": "string", "maxLength": 64},
            "request_id": {"type": "string", "maxLength": 64},
            "purpose": {"type": "string", "maxLength": 1024},
            "model": {"type": "string", "maxLength": 256},
            "cost": {"type": ["number", "string"], "description": "US dollars, >= 0"},
            "delegation": {"type": "array", "items": _STRINGS,
                           "description": "delegating agents, outermost first"},
            "op": _STRINGS, "id": {},
        },
    },
    "Decision": {
        "type": "object",
        "required": ["action_id", "effect", "code", "rule_ref", "human_message",
                     "resolution", "agent_id", "tool", "mode", "latency_us"],
        "properties": {
            "action_id": {"type": "string", "description": "ULID of the decision's record"},
            "effect": {"enum": ["PERMIT", "DENY", "DEFER"],
                       "description": "what the caller must do"},
            "code": {"type": "string", "description": "docs/decision-codes.md"},
            "rule_ref": {"type": ["string", "null"], "description": "file:line"},
            "human_message": _STRINGS,
            "resolution": {"type": ["object", "null"], "description":
                           "retry_after_seconds, pending_approval + approval_id, "
                           "budget_reset + resets_at, rule_block"},
            "agent_id": {"type": ["string", "null"]},
            "tool": {"type": ["string", "null"], "description": "canonical tool name"},
            "mode": {"enum": ["enforce", "audit"]},
            "enforced_effect": {"enum": ["PERMIT", "DENY", "DEFER"],
                                "description": "audit mode: what enforcing would do"},
            "args": {"type": "object", "description": "MODIFIED: the arguments to run"},
            "authority": {"type": "string", "description": "STEP_UP_REQUIRED: approver"},
            "shadow_effect": {"enum": ["PERMIT", "DENY", "DEFER"]},
            "shadow_code": {"type": ["string", "null"]},
            "reason_code": _STRINGS,
            "warnings": {"type": "array", "items": _STRINGS},
            "latency_us": {"type": "number"},
        },
    },
    "ScanOutputRequest": {
        "type": "object", "required": ["agent", "tool", "output"],
        "properties": {"agent": _STRINGS, "tool": _STRINGS,
                       "action_id": {"type": ["string", "null"]}, "output": {}},
    },
    "ScanOutputResult": {
        "type": "object",
        "properties": {"verdict": _STRINGS, "action_id": {"type": ["string", "null"]},
                       "code": _STRINGS, "findings": {"type": "array", "items": _OBJECT},
                       "output": {}},
    },
    "Status": {"type": "object", "description": "lifecycle, policy version, settings, "
                                                "budgets, rate_limits, audit log state"},
    "Record": {"type": "object", "description": "the decision record (DPR fields)"},
    "Probe": {"type": "object", "properties": {"lifecycle": _STRINGS}},
    "Error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": _STRINGS, "message": _STRINGS, "field": _STRINGS,
                       "diagnostics": {"type": "array", "items": _OBJECT}},
    },
    "ErrorBody": {"type": "object", "required": ["error"],
                  "properties": {"error": {"$ref": _REF + "Error"}}},
}

OPENAPI: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {"title": "faramesh daemon", "version": "1",
             "description": "Decide AI agents' tool calls. docs/wire-format.md"},
    "paths": {
        "/v1/evaluate": {"post": {
            "summary": "decide one tool call",
            "requestBody": {"required": True, **_json("EvaluateRequest")},
            "responses": {"200": _answer("the decision, whatever its effect", "Decision"),
                          **_ERRORS}}},
        "/v1/scan_output": {"post": {
            "summary": "scan a tool's output",
            "requestBody": {"required": True, **_json("ScanOutputRequest")},
            "responses": {"200": _answer("the scan verdict", "ScanOutputResult"),
                          **_ERRORS}}},
        "/v1/status": {"get": {
            "summary": "the daemon's status report",
            "responses": {"200": _answer("status", "Status"), **_ERRORS}}},
        "/v1/decisions/{action_id}": {"get": {
            "summary": "one decision record",
            "parameters": [{"name": "action_id", "in": "path", "required": True,
                            "schema": _STRINGS}],
            "responses": {"200": _answer("the record", "Record"),
                          "404": _answer("no such record (NOT_FOUND)", "ErrorBody")}}},
        "/metrics": {"get": {
            "summary": "Prometheus metrics",
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": _STRINGS}}}}}},
        "/healthz": {"get": {
            "summary": "liveness: 200 while the process runs",
            "responses": {"200": _answer("alive", "Probe")}}},
        "/readyz": {"get": {
            "summary": "readiness: 200 only when READY",
            "responses": {"200": _answer("ready", "Probe"),
                          "503": _answer("starting or stopping", "Probe")}}},
        "/openapi.json": {"get": {
            "summary": "this document",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {"schema": _OBJECT}}}}}},
    },
    "components": {"schemas": _SCHEMAS},
}
