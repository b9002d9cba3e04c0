"""Content scanners: secrets, PII, injection and prompt injection in call arguments and tool output.

`faramesh.pipeline.pre_scan` runs them on a call's arguments before the policy decides;
`faramesh.scanners.output.scan_output` runs them on what a tool returned. Both read the
agent's `scan` blocks through `faramesh.scanners.config` (docs/scanners.md).
"""
