"""The FPL syntax tree: what was written, in order, with comments, before any checking.

One tree serves both dialects; small flags record the spelling the user chose (`if` or
`when`, `reason "x"` or `reason: "x"`, `key = value` or `key value`, quoted names) so
that `fmt` reprints a file in its own dialect. Conditions are `ir.Expr` trees whose
variables are not yet resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faramesh.fpl.diagnostics import Span
from faramesh.policy import ir


@dataclass(slots=True)
class Scalar:
    """One literal or bare word: kind is string, number, money, duration, size, word."""

    kind: str
    value: object
    text: str  # canonical source text
    span: Span


@dataclass(slots=True)
class ListValue:
    items: list[Value]
    span: Span


@dataclass(slots=True)
class EnvCall:
    name: str
    span: Span


@dataclass(slots=True)
class Words:
    """Several bare words on one line (`scope refund read_charge`)."""

    items: list[Scalar]
    span: Span


Value = Scalar | ListValue | EnvCall | Words


@dataclass(slots=True)
class Setting:
    key: str
    value: Value
    sep: str  # "", "=" or ":" as written
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class Clause:
    """A rule clause after the pattern: reason, notify, reeval, host, method, path, ..."""

    key: str
    value: Value
    colon: bool
    span: Span
    target: str | None = None  # the argument path of `set PATH = VALUE` / `unset PATH`


@dataclass(slots=True)
class RuleNode:
    effect: str  # as written: permit, allow, deny!, ...
    pattern: str
    pattern_quoted: bool
    condition: ir.Expr | None
    cond_keyword: str  # "if" or "when"
    cond_span: Span | None
    clauses: list[Clause]
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class RateLimitNode:
    pattern: str
    count: int
    window: str  # second, minute, hour, day or a duration literal
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class RedactNode:
    pattern: str
    pattern_quoted: bool
    fields: list[str]
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class ImportNode:
    source: str
    alias: str | None
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class ManifestNode:
    words: list[str]
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class VarNode:
    name: str
    value: Value
    sep: str
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)


@dataclass(slots=True)
class BlockNode:
    keyword: str
    name: str | None
    name_quoted: bool
    body: list[Statement]
    span: Span
    comments: list[str] = field(default_factory=list)
    blank_before: bool = False  # a blank line preceded it in the source (fmt keeps one)
    trailing: list[str] = field(default_factory=list)  # comments before the closing brace


Statement = (Setting | RuleNode | RateLimitNode | RedactNode | ImportNode | ManifestNode
             | VarNode | BlockNode)


@dataclass(slots=True)
class FileNode:
    body: list[Statement]
    trailing: list[str] = field(default_factory=list)
