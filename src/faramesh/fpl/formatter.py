"""`faramesh fmt`: print a syntax tree back as canonical FPL text.

Canonical means: two-space indentation, one statement per line, one space around
operators, a blank line between top-level blocks, comments kept above the statement they
preceded, and each construct in the dialect the user wrote it in. Formatting is
idempotent and never changes meaning (both are property-tested).
"""

from __future__ import annotations

import json
import re

from faramesh.fpl import ast
from faramesh.fpl.expressions import format_expr

MAX_WIDTH = 100
INDENT = "  "
_BARE_WORD = re.compile(r"[A-Za-z_*][A-Za-z0-9_./*-]*")
_RESERVED = frozenset({"if", "when", "and", "or", "not", "in", "true", "false", "nil",
                       "null", "per", "as", "args"})


def format_file(tree: ast.FileNode) -> str:
    lines: list[str] = []
    previous: ast.Statement | None = None
    for stmt in tree.body:
        if previous is not None and (_is_big(stmt) or _is_big(previous) or
                                     stmt.blank_before):
            lines.append("")
        _statement(stmt, 0, lines)
        previous = stmt
    if tree.trailing:
        if lines:
            lines.append("")
        lines.extend(tree.trailing)
        while lines and not lines[-1]:
            lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _word_or_string(text: str, quoted: bool) -> str:
    if quoted or not _BARE_WORD.fullmatch(text) or text in _RESERVED or text == "deny":
        return _string(text)
    return text


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _value(value: ast.Value) -> str:
    if isinstance(value, ast.Scalar):
        if value.kind == "string":
            return _string(str(value.value))
        if value.kind == "bool":
            return "true" if value.value else "false"
        return value.text
    if isinstance(value, ast.ListValue):
        return "[" + ", ".join(_value(i) for i in value.items) + "]"
    if isinstance(value, ast.Words):
        return " ".join(_value(i) for i in value.items)
    return f"env({_string(value.name)})"


def _statement(stmt: ast.Statement, depth: int, out: list[str]) -> None:
    pad = INDENT * depth
    out.extend(pad + c if c else "" for c in stmt.comments)
    if isinstance(stmt, ast.BlockNode):
        head = stmt.keyword
        if stmt.name is not None:
            head += " " + _word_or_string(stmt.name, stmt.name_quoted)
        if not stmt.body and not stmt.trailing:
            out.append(f"{pad}{head} {{}}")
            return
        out.append(f"{pad}{head} {{")
        prev: ast.Statement | None = None
        for child in stmt.body:
            if prev is not None and (_is_big(child) or _is_big(prev) or child.blank_before):
                out.append("")
            _statement(child, depth + 1, out)
            prev = child
        out.extend(pad + INDENT + c if c else "" for c in stmt.trailing)
        out.append(pad + "}")
    elif isinstance(stmt, ast.Setting):
        sep = {"": " ", "=": " = ", ":": ": "}[stmt.sep]
        out.append(f"{pad}{stmt.key}{sep}{_value(stmt.value)}")
    elif isinstance(stmt, ast.VarNode):
        sep = {"": " ", "=": " = ", ":": ": "}[stmt.sep]
        out.append(f"{pad}var {stmt.name}{sep}{_value(stmt.value)}")
    elif isinstance(stmt, ast.RuleNode):
        _rule(stmt, pad, out)
    elif isinstance(stmt, ast.RateLimitNode):
        out.append(f"{pad}rate_limit {_string(stmt.pattern)}: {stmt.count} per {stmt.window}")
    elif isinstance(stmt, ast.RedactNode):
        fields = ", ".join(_string(f) for f in stmt.fields)
        out.append(f"{pad}redact {_word_or_string(stmt.pattern, stmt.pattern_quoted)} "
                   f"args: [{fields}]")
    elif isinstance(stmt, ast.ImportNode):
        alias = f" as {_word_or_string(stmt.alias, False)}" if stmt.alias else ""
        out.append(f"{pad}import {_string(stmt.source)}{alias}")
    elif isinstance(stmt, ast.ManifestNode):
        out.append(f"{pad}manifest " + " ".join(stmt.words))


def _is_big(stmt: ast.Statement) -> bool:
    return isinstance(stmt, ast.BlockNode) and bool(stmt.body)


def _rule(rule: ast.RuleNode, pad: str, out: list[str]) -> None:
    head = f"{rule.effect} {_word_or_string(rule.pattern, rule.pattern_quoted)}"
    parts: list[str] = []
    if rule.condition is not None:
        parts.append(f"{rule.cond_keyword} {format_expr(rule.condition)}")
    for clause in rule.clauses:
        if clause.key == "set":
            parts.append(f"set {_word_or_string(str(clause.target), False)} = "
                         f"{_value(clause.value)}")
        elif clause.key == "unset":
            parts.append(f"unset {_word_or_string(str(clause.target), False)}")
        else:
            sep = ": " if clause.colon else " "
            parts.append(f"{clause.key}{sep}{_value(clause.value)}")
    one_line = " ".join([head, *parts])
    if len(pad) + len(one_line) <= MAX_WIDTH:
        out.append(pad + one_line)
        return
    out.append(pad + head)
    out.extend(pad + INDENT * 2 + p for p in parts)
