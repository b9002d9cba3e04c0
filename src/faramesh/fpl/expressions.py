"""Condition expressions: parse (FPL conditions and legacy `when` strings) and print.

One grammar serves both: `and`/`&&`, `or`/`||`, `not`/`!`, comparisons, `in`, `contains`,
`matches`, literals, lists, variables and built-in calls. `format_expr` prints the
canonical form that `parse_expression` reads back to an equal tree.
"""

from __future__ import annotations

import json
from decimal import Decimal

from faramesh.fpl.cursor import Cursor, ParseAbort
from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.lexer import T, Token, tokenize
from faramesh.policy import ir
from faramesh.policy.conditions import FUNCTIONS, ROOTS
from faramesh.policy.regex import RegexError, compile_regex
from faramesh.policy.values import DataSize, Duration, Money

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
WORD_OPS = ("in", "contains", "matches")
_LITERAL_WORDS: dict[str, ir.Scalar] = {"true": True, "false": False, "nil": None,
                                        "null": None}


# Words that start a new statement: a condition never continues onto a line with one.
_STATEMENT_WORDS = frozenset({"permit", "allow", "approve", "deny", "deny!", "block",
                              "reject", "defer", "shadow", "modify", "step_up", "rules",
                              "rate_limit", "redact", "budget", "phase", "agent"})
MAX_DEPTH = 64  # nesting of parentheses, `not` and lists in one condition


class ExpressionParser:
    def __init__(self, cursor: Cursor) -> None:
        self.c = cursor
        self.depth = 0

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.c.fail(self.c.peek(), "too-deep", "condition is nested too deeply",
                              f"at most {MAX_DEPTH} levels; split it into several rules")

    def parse(self) -> ir.Expr:
        return self._or()

    def _or(self) -> ir.Expr:
        items = [self._and()]
        while self.c.accept_word("or") or self.c.accept_punct("||"):
            items.append(self._and())
        return items[0] if len(items) == 1 else ir.Or(tuple(items))

    def _and(self) -> ir.Expr:
        items = [self._not()]
        while self.c.accept_word("and") or self.c.accept_punct("&&"):
            items.append(self._not())
        return items[0] if len(items) == 1 else ir.And(tuple(items))

    def _not(self) -> ir.Expr:
        if self.c.accept_word("not") or self.c.accept_punct("!"):
            self._enter()
            inner = self._not()
            self.depth -= 1
            return ir.Not(inner)
        return self._comparison()

    def _comparison(self) -> ir.Expr:
        left = self._term()
        tok = self.c.peek()
        if tok.is_punct(*COMPARE_OPS):
            self.c.next()
            return ir.Compare(tok.text, left, self._term())
        if tok.is_word("not") and self.c.peek(1).is_word("in"):
            self.c.next()
            self.c.next()
            return ir.Not(ir.Compare("in", left, self._collection()))
        if tok.is_word(*WORD_OPS):
            self.c.next()
            if tok.text == "in":
                return ir.Compare("in", left, self._collection())
            right = self._term()
            if tok.text == "matches":
                self._check_regex(right, tok)
            return ir.Compare(tok.text, left, right)
        return left

    def _collection(self) -> ir.Expr:
        tok = self.c.peek()
        right = self._term()
        if isinstance(right, ir.Lit):
            raise self.c.fail(tok, "type", "`in` needs a list or a variable on its right",
                              'write `x in ["a", "b"]`')
        return right

    def _check_regex(self, right: ir.Expr, op: Token) -> None:
        if isinstance(right, ir.Lit):
            if not isinstance(right.value, str):
                raise self.c.fail(op, "type", "`matches` needs a string pattern",
                                  'write `cmd matches "^rm "`')
            try:
                compile_regex(right.value)
            except RegexError as exc:
                raise self.c.fail(op, "bad-regex", f"invalid regular expression: {exc}",
                                  "the RE2 syntax applies; look-around and back-references "
                                  "are not supported") from None

    def _term(self) -> ir.Expr:
        tok = self.c.peek()
        before = self.c.tokens[self.c.pos - 1] if self.c.pos else tok
        if tok.line > before.line and (tok.kind is not T.WORD or tok.text in _STATEMENT_WORDS):
            # the condition broke off at the end of a line; say so there
            raise self.c.fail(before, "syntax", f"expected a value after {before.describe()}",
                              "complete the condition on this line")
        if tok.is_punct("("):
            self.c.next()
            self._enter()
            inner = self._or()
            self.c.expect_punct(")")
            self.depth -= 1
            return inner
        if tok.is_punct("["):
            return self._list()
        if tok.kind is T.STRING:
            self.c.next()
            return ir.Lit(tok.text)
        if tok.kind in (T.NUMBER, T.MONEY, T.DURATION, T.SIZE):
            self.c.next()
            return ir.Lit(tok.value)  # type: ignore[arg-type]
        if tok.kind is T.WORD and tok.text not in ("and", "or", "not"):
            self.c.next()
            if tok.text in _LITERAL_WORDS:
                return ir.Lit(_LITERAL_WORDS[tok.text])
            if self.c.peek().is_punct("("):
                return self._call(tok)
            if "*" in tok.text or tok.text.endswith(".") or ".." in tok.text:
                raise self.c.fail(tok, "syntax", f"`{tok.text}` is not a variable",
                                  "variables are dotted names such as `args.amount`")
            return ir.Var(tuple(tok.text.split(".")))
        raise self.c.expected("a value, variable or `(`",
                              'conditions compare values: `amount < $50`, `x in ["a"]`')

    def _list(self) -> ir.Expr:
        self.c.expect_punct("[")
        self._enter()
        items: list[ir.Expr] = []
        while not self.c.peek().is_punct("]"):
            items.append(self._term())
            if not self.c.accept_punct(","):
                break
        self.c.expect_punct("]", "`,` or `]`")
        self.depth -= 1
        return ir.ListLit(tuple(items))

    def _call(self, name: Token) -> ir.Expr:
        if name.text not in FUNCTIONS:
            raise self.c.fail(name, "unknown-function", f"unknown function `{name.text}`",
                              "available: " + ", ".join(sorted(FUNCTIONS)))
        self.c.expect_punct("(")
        args: list[ir.Expr] = []
        kwargs: list[tuple[str, ir.Expr]] = []
        while not self.c.peek().is_punct(")"):
            tok = self.c.peek()
            if tok.kind is T.WORD and self.c.peek(1).is_punct("="):
                self.c.next()
                self.c.next()
                kwargs.append((tok.text, self._or()))
            elif tok.kind is T.WORD and ("/" in tok.text or "*" in tok.text):
                self.c.next()  # a tool pattern written bare: session.sum(stripe/refund.amount)
                args.append(ir.Lit(tok.text))
            else:
                args.append(self._or())
            if not self.c.accept_punct(","):
                break
        self.c.expect_punct(")", "`,` or `)`")
        return ir.Call(name.text, tuple(args), tuple(kwargs))


def parse_expression(text: str, sink: DiagnosticSink, line: int = 1,
                     column: int = 1) -> ir.Expr | None:
    """Parse a whole string as one condition (legacy `when:` strings, YAML `when`)."""
    before = len(sink.items)
    cursor = Cursor(tokenize(text, sink, line, column), sink)
    try:
        expr = ExpressionParser(cursor).parse()
        if not cursor.at_end():
            raise cursor.expected("an operator or the end of the condition",
                                  "join conditions with `and` / `or` (or `&&` / `||`)")
    except ParseAbort:
        return None
    return expr if len(sink.items) == before else None


# --- printing --------------------------------------------------------------------------

_PRECEDENCE = {ir.Or: 1, ir.And: 2, ir.Not: 3}


def format_literal(value: ir.Scalar) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text if "." in text else text + ".0"
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, Money | Duration | DataSize):
        return str(value)
    return str(value)


def format_expr(expr: ir.Expr, parent: int = 0) -> str:
    """Canonical text of a condition; parentheses only where precedence needs them."""
    if isinstance(expr, ir.Lit):
        return format_literal(expr.value)
    if isinstance(expr, ir.ListLit):
        return "[" + ", ".join(format_expr(i) for i in expr.items) + "]"
    if isinstance(expr, ir.Var):
        return ".".join(expr.path)
    if isinstance(expr, ir.Call):
        parts = [format_expr(a) for a in expr.args]
        parts += [f"{k}={format_expr(v)}" for k, v in expr.kwargs]
        return f"{expr.name}({', '.join(parts)})"
    if isinstance(expr, ir.Compare):
        text = f"{format_expr(expr.left, 4)} {expr.op} {format_expr(expr.right, 4)}"
        return f"({text})" if parent == 4 else text
    level = _PRECEDENCE[type(expr)]
    if isinstance(expr, ir.Not):
        text = "not " + format_expr(expr.item, level)
    else:
        joiner = " or " if isinstance(expr, ir.Or) else " and "
        text = joiner.join(format_expr(i, level + 1 if i.__class__ is expr.__class__
                                       else level) for i in expr.items)
    return f"({text})" if level < parent or (parent == 4) else text


def resolve_names(expr: ir.Expr, variables: dict[str, ir.Scalar] | None = None) -> ir.Expr:
    """Give every variable its full path: a declared `var` becomes its value, a built-in
    root (`args`, `principal`, `session`, `time`, `host`, ...) stays, and any other bare
    name means the argument of that name (`amount` is `args.amount`)."""
    known = variables or {}

    def resolve(leaf: ir.Lit | ir.Var) -> ir.Expr:
        if isinstance(leaf, ir.Lit):
            return leaf
        head = leaf.path[0]
        if len(leaf.path) == 1 and head in known:
            return ir.Lit(known[head])
        return leaf if head in ROOTS else ir.Var(("args", *leaf.path))
    return ir.map_leaves(expr, resolve)
