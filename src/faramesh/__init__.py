"""faramesh: decide every tool call an AI agent makes against an FPL policy.

Public API (pinned by tests/unit/test_public_api.py; adding to it is an API decision):
`load_policy(path_or_text) -> Policy`, `Policy.evaluate(action) -> Decision`.

Names are resolved lazily so `import faramesh` (and a CLI started once per tool call)
does not pay for the evaluator, RE2 or YAML until they are used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from faramesh.errors import ActionError, FarameshError, PolicyError, PolicyLoadError

if TYPE_CHECKING:
    from faramesh.policy.decision import Code, Decision, Effect, TraceEntry
    from faramesh.policy.evaluator import Policy

__all__ = [
    "ActionError",
    "Code",
    "Decision",
    "Effect",
    "FarameshError",
    "Policy",
    "PolicyError",
    "PolicyLoadError",
    "TraceEntry",
    "__version__",
    "load_policy",
]

__version__ = "0.1.0"

_LAZY = {
    "Code": "faramesh.policy.decision",
    "Decision": "faramesh.policy.decision",
    "Effect": "faramesh.policy.decision",
    "TraceEntry": "faramesh.policy.decision",
    "Policy": "faramesh.policy.evaluator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faramesh' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def load_policy(path_or_text: object) -> Policy:
    """Compile a policy from a path (str or PathLike, a file or a stack directory) or from
    policy text in any form (FPL, IR YAML/JSON, legacy YAML); raise PolicyError."""
    from faramesh.fpl.loader import load_policy as _load

    return _load(path_or_text)
