"""IR -> FPL text in the `governance.fms` dialect (`faramesh convert --to fpl`).

Builds a syntax tree from the IR and prints it with the formatter, so converted text is
canonical. Compiling the result gives back an equal IR (property-tested).
"""

from __future__ import annotations

from decimal import Decimal

from faramesh.errors import FarameshError
from faramesh.fpl import ast
from faramesh.fpl.diagnostics import Span
from faramesh.fpl.formatter import format_file
from faramesh.policy import ir
from faramesh.policy.values import DIGITS, DataSize, Duration, Money, parse_duration

_NO_SPAN = Span("<emit>", 0, 0)
_WINDOW_WORDS = {"1s": "second", "1m": "minute", "1h": "hour", "1d": "day"}


class EmitError(FarameshError):
    """The IR holds something FPL text cannot express yet."""

    code = "NOT_EXPRESSIBLE"


def ir_to_fpl(policy: ir.PolicyIR) -> str:
    body: list[ast.Statement] = []
    for imp in policy.imports:
        body.append(ast.ImportNode(imp.source, imp.alias, _NO_SPAN))
    for block in policy.blocks:
        if block.kind == "manifest":
            body.append(ast.ManifestNode(_manifest_words(block), _NO_SPAN))
        else:
            body.append(_block(block))
    for agent in policy.agents:
        statements = _agent_body(agent)
        if agent.agent_id == ir.ANY_AGENT:
            body.extend(statements)
        else:
            body.append(ast.BlockNode("agent", agent.agent_id, True, statements, _NO_SPAN))
    return format_file(ast.FileNode(body))


def _manifest_words(block: ir.Block) -> list[str]:
    f = dict(block.fields)
    if f.get("verb") == "orchestrator":
        return ["orchestrator", str(f["orchestrator"]), "undeclared", str(f["undeclared"])]
    words = ["grant", str(f["orchestrator"]), "to", str(f["target"]), "max", str(f["max"])]
    return [*words, "approval"] if f.get("approval") else words


def scalar(value: ir.BlockValue) -> ast.Value:
    """The syntax for one IR value."""
    if isinstance(value, tuple):
        return ast.ListValue([scalar(v) for v in value], _NO_SPAN)
    if isinstance(value, bool):
        return ast.Scalar("bool", value, "true" if value else "false", _NO_SPAN)
    if isinstance(value, str):
        return ast.Scalar("string", value, value, _NO_SPAN)
    if isinstance(value, Money):
        return ast.Scalar("money", value, str(value), _NO_SPAN)
    if isinstance(value, Duration):
        return ast.Scalar("duration", value, value.text, _NO_SPAN)
    if isinstance(value, DataSize):
        return ast.Scalar("size", value, value.text, _NO_SPAN)
    if isinstance(value, Decimal):
        text = format(value, "f")
        return ast.Scalar("number", value, text if "." in text else text + ".0", _NO_SPAN)
    if isinstance(value, int):
        return ast.Scalar("number", value, str(value), _NO_SPAN)
    raise EmitError(f"cannot write the value `{value!r}` as FPL")


def _setting(key: str, value: ir.BlockValue) -> ast.Setting:
    return ast.Setting(key, scalar(value), "=", _NO_SPAN)


def _block(block: ir.Block) -> ast.BlockNode:
    body: list[ast.Statement] = [_setting(k, v) for k, v in block.fields]
    return ast.BlockNode(block.kind, block.name, True, body, _NO_SPAN)


def _agent_body(agent: ir.Agent) -> list[ast.Statement]:
    out: list[ast.Statement] = [ast.Setting("default", _word(agent.default.value), "",
                                            _NO_SPAN)]
    out += [_setting(k, v) for k, v in agent.settings]
    for tool in agent.tools:
        fields: list[tuple[str, ir.BlockValue]] = [("tags", tool.tags or None),
                                                   ("cost", tool.cost)]
        out.append(ast.BlockNode("tool", tool.name, True,
                                 [_setting(k, v) for k, v in fields if v is not None],
                                 _NO_SPAN))
    if agent.rules:
        out.append(ast.BlockNode("rules", None, False, [rule_node(r) for r in agent.rules],
                                 _NO_SPAN))
    for phase in agent.phases:
        body: list[ast.Statement] = []
        if phase.duration is not None:
            body.append(_setting("duration", phase.duration))
        if phase.next is not None:
            body.append(_setting("next", phase.next))
        if phase.tools:
            body.append(_setting("tools", phase.tools))
        if phase.rules:
            body.append(ast.BlockNode("rules", None, False,
                                      [rule_node(r) for r in phase.rules], _NO_SPAN))
        out.append(ast.BlockNode("phase", phase.name, True, body, _NO_SPAN))
    for limit in agent.rate_limits:
        window = _WINDOW_WORDS.get(limit.window.text, limit.window.text)
        out.append(ast.RateLimitNode(limit.pattern, limit.count, window, _NO_SPAN))
    for redaction in agent.redactions:
        out.append(ast.RedactNode(redaction.pattern, True, list(redaction.fields), _NO_SPAN))
    for budget in agent.budgets:
        fields = [("max", budget.max), ("daily", budget.daily), ("max_calls", budget.max_calls),
                  ("warn_at", budget.warn_at), ("on_exceed", budget.on_exceed.value),
                  ("window", budget.window)]
        out.append(ast.BlockNode("budget", budget.budget_id, True,
                                 [_setting(k, v) for k, v in fields if v is not None],
                                 _NO_SPAN))
    for d in agent.delegations:
        fields = [("scope", d.scope), ("ttl", d.ttl), ("ceiling", d.ceiling)]
        out.append(ast.BlockNode("delegate", d.target_agent, True,
                                 [_setting(k, v) for k, v in fields if v is not None],
                                 _NO_SPAN))
    out += [_block(b) for b in agent.blocks]
    return out


def _word(text: str) -> ast.Scalar:
    return ast.Scalar("word", text, text, _NO_SPAN)


def _reeval(text: str) -> ast.Scalar:
    if text in ("true", "false"):
        return ast.Scalar("bool", text == "true", text, _NO_SPAN)
    if parse_duration(text) is not None and text[:1] in DIGITS:
        return ast.Scalar("duration", parse_duration(text), text, _NO_SPAN)
    return ast.Scalar("string", text, text, _NO_SPAN)


def rule_node(rule: ir.Rule) -> ast.RuleNode:
    clauses = []
    for path, value in rule.modify_args:
        if value is None:
            clauses.append(ast.Clause("unset", scalar(True), False, _NO_SPAN, path))
        elif isinstance(value, dict) or (isinstance(value, list | tuple) and
                                         any(isinstance(v, dict | list) for v in value)):
            raise EmitError(f"the `modify` rule at {rule.origin.ref} sets `{path}` to a "
                            "nested object, which FPL text cannot express; keep this policy "
                            "in YAML or JSON form")
        else:
            clauses.append(ast.Clause("set", scalar(tuple(value) if isinstance(value, list)
                                                    else value), False, _NO_SPAN, path))
    for key, value in (("reason", rule.reason), ("reason_code", rule.reason_code),
                       ("notify", rule.notify), ("id", rule.rule_id), ("host", rule.host),
                       ("method", rule.method), ("path", rule.path),
                       ("authority", rule.authority)):
        if value is not None:
            clauses.append(ast.Clause(key, ast.Scalar("string", value, value, _NO_SPAN),
                                      False, _NO_SPAN))
    if rule.reeval is not None:
        clauses.append(ast.Clause("reeval", _reeval(rule.reeval), False, _NO_SPAN))
    effect = "deny!" if rule.mandatory else rule.effect.value
    return ast.RuleNode(effect, rule.pattern, False, rule.condition, "if", None, clauses,
                        _NO_SPAN)
