"""faramesh: decide every tool call an AI agent makes against an FPL policy.

Public API (pinned by tests/unit/test_public_api.py; adding to it is an API decision):
`load_policy(path_or_text) -> Policy`, `Policy.evaluate(action) -> Decision`.
"""

from faramesh.errors import ActionError, FarameshError, PolicyError, PolicyLoadError
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


def load_policy(path_or_text: object) -> Policy:
    """Compile a policy from a path (str or PathLike) or from policy text; raise PolicyError."""
    from faramesh.fpl.loader import load_policy as _load

    return _load(path_or_text)
