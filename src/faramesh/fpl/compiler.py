"""FPL text -> checked IR, in named steps: tokenize+parse, lower (fields, types, vars,
env), whole-policy checks. Every step reports into one sink; errors end in PolicyError."""

from __future__ import annotations

from collections.abc import Mapping

from faramesh.errors import PolicyError
from faramesh.fpl import ast
from faramesh.fpl.checks import check_mandatory_denies
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.lower import Lowerer
from faramesh.fpl.parser import parse_fpl
from faramesh.policy import ir


def parse_policy_text(text: str, file: str = "<policy>") -> tuple[ast.FileNode,
                                                                  DiagnosticSink]:
    sink = DiagnosticSink(file, text)
    return parse_fpl(text, file, sink), sink


def compile_fpl(text: str, file: str = "<policy>",
                env: Mapping[str, str] | None = None) -> ir.PolicyIR:
    """Compile FPL text (either dialect) to IR; raise PolicyError listing every error."""
    tree, sink = parse_policy_text(text, file)
    policy = Lowerer(file, sink, env).lower_file(tree)
    check_mandatory_denies(policy, sink)
    if sink.items:
        raise PolicyError(sink.items)
    return policy
