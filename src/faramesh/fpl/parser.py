"""FPL parser: tokens -> syntax tree, for both dialects at once.

The parser decides only shape; what is allowed where, and value types, are checked when
lowering to the IR. After an error it skips to the next line (or past the offending
block) and goes on, so one pass reports every error in the file.
"""

from __future__ import annotations

from collections.abc import Callable

from faramesh.fpl import ast, schema
from faramesh.fpl.cursor import Cursor, ParseAbort
from faramesh.fpl.diagnostics import DiagnosticSink, Span
from faramesh.fpl.expressions import ExpressionParser
from faramesh.fpl.lexer import T, Token, tokenize
from faramesh.policy.ir import EFFECT_ALIASES

EFFECT_WORDS = frozenset(EFFECT_ALIASES) | {"deny!"}
CLAUSE_WORDS = frozenset({"reason", "notify", "reeval", "host", "method", "path",
                          "authority", "reason_code", "id"})
CONDITION_WORDS = ("if", "when")
RATE_WINDOWS = ("second", "minute", "hour", "day")
# Settings whose value is every word on the rest of the line.
MULTI_WORD_KEYS = frozenset({"scope"})
# ...which ends early at a word that names a field, so one line can hold several settings.
_FIELD_NAMES = frozenset(k for b in schema.BLOCKS.values() for k in b.fields)
MAX_BLOCK_DEPTH = 16
MAX_LIST_DEPTH = 16
_SCALAR_KINDS = {T.STRING: "string", T.NUMBER: "number", T.MONEY: "money",
                 T.DURATION: "duration", T.SIZE: "size"}


def parse_fpl(text: str, file: str, sink: DiagnosticSink) -> ast.FileNode:
    comments: list[tuple[int, str]] = []
    tokens = tokenize(text, sink, comments=comments)
    return Parser(tokens, sink, comments).parse_file()


class Parser:
    def __init__(self, tokens: list[Token], sink: DiagnosticSink,
                 comments: list[tuple[int, str]]) -> None:
        self.c = Cursor(tokens, sink)
        self.sink = sink
        self._comments = comments
        self._next_comment = 0
        self._depth = 0

    # --- comments ----------------------------------------------------------------------

    def _comments_before(self, line: int) -> list[str]:
        """Comments above `line`; an empty entry stands for a blank line between them."""
        out: list[str] = []
        last = None
        while self._next_comment < len(self._comments) and \
                self._comments[self._next_comment][0] < line:
            at, text = self._comments[self._next_comment]
            if last is not None and at - last > 1:
                out.append("")
            out.append(text)
            last = at
            self._next_comment += 1
        if last is not None and line - last > 1 and line < 10**9:
            out.append("")
        return out

    def _first_comment_line(self, line: int) -> int:
        """The line where a statement's leading comments (or the statement) begin."""
        if self._next_comment < len(self._comments) and \
                self._comments[self._next_comment][0] < line:
            return self._comments[self._next_comment][0]
        return line

    # --- structure ---------------------------------------------------------------------

    def parse_file(self) -> ast.FileNode:
        body = self._statements(closing=False)
        return ast.FileNode(body, self._comments_before(10**9))

    def _statements(self, closing: bool) -> list[ast.Statement]:
        body: list[ast.Statement] = []
        while True:
            tok = self.c.peek()
            if tok.kind is T.EOF or (closing and tok.is_punct("}")):
                return body
            if tok.is_punct("}"):
                self.c.fail(tok, "syntax", "unexpected `}`", "remove it or open a block first")
                self.c.next()
                continue
            if tok.is_punct(";", ","):
                self.c.next()
                continue
            first_line = self._first_comment_line(tok.line)
            previous = self.c.tokens[self.c.pos - 1].line if self.c.pos else first_line
            comments = self._comments_before(tok.line)
            try:
                stmt = self._statement()
            except ParseAbort:
                self._recover(tok.line)
                continue
            stmt.comments = comments
            stmt.blank_before = bool(body) and first_line - previous > 1
            body.append(stmt)

    def _recover(self, line: int) -> None:
        depth = 0
        while not self.c.at_end():
            tok = self.c.peek()
            if tok.is_punct("{"):
                depth += 1
            elif tok.is_punct("}"):
                if depth == 0:
                    return
                depth -= 1
                if depth == 0:
                    self.c.next()
                    return
            elif depth == 0 and tok.line > line:
                return
            self.c.next()

    def _span(self, tok: Token) -> Span:
        return self.c.span(tok)

    def _statement(self) -> ast.Statement:
        tok = self.c.peek()
        if tok.kind is not T.WORD:
            raise self.c.expected("a rule, a setting or a block",
                                  "statements start with a word such as `agent`, "
                                  "`permit` or `default`")
        after = self.c.peek(1)
        if tok.text in EFFECT_WORDS and not after.is_punct("=", ":"):
            return self._rule()
        keyword_statements: dict[str, Callable[[], ast.Statement]] = {
            "rate_limit": self._rate_limit, "redact": self._redact, "import": self._import,
            "manifest": self._manifest, "var": self._var}
        if tok.text in keyword_statements and not after.is_punct("=", ":", "{"):
            return keyword_statements[tok.text]()
        if after.is_punct("{") or (after.kind in (T.STRING, T.WORD)
                                   and self.c.peek(2).is_punct("{")):
            return self._block()
        return self._setting()

    def _block(self) -> ast.BlockNode:
        kw = self.c.next()
        name: str | None = None
        quoted = False
        if not self.c.peek().is_punct("{"):
            name_tok = self.c.next()
            name, quoted = name_tok.text, name_tok.kind is T.STRING
        self.c.expect_punct("{")
        if self._depth >= MAX_BLOCK_DEPTH:
            raise self.c.fail(kw, "too-deep", "blocks are nested too deeply",
                              f"at most {MAX_BLOCK_DEPTH} levels")
        self._depth += 1
        try:
            body = self._statements(closing=True)
        finally:
            self._depth -= 1
        trailing = self._comments_before(self.c.peek().line)
        while trailing and not trailing[-1]:
            trailing.pop()
        if not self.c.accept_punct("}"):
            raise self.c.fail(kw, "unclosed-block", f"`{kw.text}` block is never closed",
                              "add the missing `}`")
        return ast.BlockNode(kw.text, name, quoted, body, self._span(kw), trailing=trailing)

    def _setting(self) -> ast.Setting:
        key = self.c.next()
        sep = ""
        if (s := self.c.accept_punct("=", ":")) is not None:
            sep = s.text
        if self.c.peek().is_punct("}") or self.c.at_end() or \
                (self.c.peek().line > key.line and not sep and
                 not self.c.peek().is_punct("[")):
            raise self.c.fail(key, "missing-value", f"`{key.text}` needs a value",
                              f"write `{key.text} = <value>`")
        value = self._value(multi_word=key.text in MULTI_WORD_KEYS)
        return ast.Setting(key.text, value, sep, self._span(key))

    def _var(self) -> ast.VarNode:
        kw = self.c.next()
        name = self.c.next()
        if name.kind is not T.WORD:
            raise self.c.fail(name, "syntax", f"expected a variable name, found "
                              f"{name.describe()}", "write `var name = value`")
        sep = ""
        if (s := self.c.accept_punct("=", ":")) is not None:
            sep = s.text
        return ast.VarNode(name.text, self._value(), sep, self._span(kw))

    # --- values ------------------------------------------------------------------------

    def _value(self, multi_word: bool = False, depth: int = 0) -> ast.Value:
        tok = self.c.peek()
        if tok.is_punct("["):
            if depth >= MAX_LIST_DEPTH:
                raise self.c.fail(tok, "too-deep", "lists are nested too deeply",
                                  f"at most {MAX_LIST_DEPTH} levels")
            self.c.next()
            items: list[ast.Value] = []
            while not self.c.peek().is_punct("]"):
                if self.c.at_end():
                    raise self.c.fail(tok, "unclosed-list", "list is never closed",
                                      "add the missing `]`")
                items.append(self._value(depth=depth + 1))
                if not self.c.accept_punct(","):
                    break
            self.c.expect_punct("]", "`,` or `]`")
            return ast.ListValue(items, self._span(tok))
        if tok.kind in _SCALAR_KINDS:
            self.c.next()
            value = tok.text if tok.kind is T.STRING else tok.value
            return ast.Scalar(_SCALAR_KINDS[tok.kind], value, tok.text, self._span(tok))
        if tok.kind is T.WORD:
            self.c.next()
            if tok.text == "env" and self.c.peek().is_punct("("):
                self.c.next()
                name = self.c.next()
                if name.kind is not T.STRING:
                    raise self.c.fail(name, "syntax", "`env` needs a quoted variable name",
                                      'write `env("NAME")`')
                self.c.expect_punct(")")
                return ast.EnvCall(name.text, self._span(tok))
            if tok.text in ("true", "false"):
                return ast.Scalar("bool", tok.text == "true", tok.text, self._span(tok))
            first = ast.Scalar("word", tok.text, tok.text, self._span(tok))
            if not multi_word:
                return first
            words = [first]
            while (nxt := self.c.peek()).kind is T.WORD and nxt.line == tok.line and \
                    nxt.text not in _FIELD_NAMES and not self.c.peek(1).is_punct("=", ":"):
                self.c.next()
                words.append(ast.Scalar("word", nxt.text, nxt.text, self._span(nxt)))
            return words[0] if len(words) == 1 else ast.Words(words, self._span(tok))
        raise self.c.expected("a value", 'values are strings ("x"), numbers, money ($5), '
                              "durations (15m), sizes (10mb), names or [lists]")

    # --- statements with their own shape -----------------------------------------------

    def _pattern(self, after: Token) -> tuple[str, bool]:
        tok = self.c.peek()
        if tok.kind is T.STRING or (tok.kind is T.WORD and tok.line == after.line):
            self.c.next()
            return tok.text, tok.kind is T.STRING
        raise self.c.fail(after, "missing-pattern",
                          f"`{after.text}` needs a tool pattern",
                          f"write `{after.text} stripe/refund` or `{after.text} shell/*`")

    def _rule(self) -> ast.RuleNode:
        effect = self.c.next()
        pattern, quoted = self._pattern(effect)
        rule = ast.RuleNode(effect.text, pattern, quoted, None, "if", None, [],
                            self._span(effect))
        while True:
            tok = self.c.peek()
            if tok.is_word(*CONDITION_WORDS) and not self.c.peek(1).is_punct("=", ":"):
                self.c.next()
                if rule.condition is not None:
                    raise self.c.fail(tok, "duplicate-clause", "a rule has one condition",
                                      "join conditions with `and` / `or`")
                rule.cond_keyword = tok.text
                rule.cond_span = self._span(self.c.peek())
                rule.condition = ExpressionParser(self.c).parse()
            elif tok.is_word("set", "unset") and rule.effect == "modify":
                self.c.next()
                target = self.c.next()
                if target.kind not in (T.WORD, T.STRING):
                    raise self.c.fail(target, "syntax", f"`{tok.text}` needs an argument path",
                                      "write `set args.amount = 100` or `unset args.card`")
                value: ast.Value = ast.Scalar("bool", True, "true", self._span(tok))
                if tok.text == "set":
                    self.c.expect_punct("=", "`=` and the new value")
                    value = self._value()
                rule.clauses.append(ast.Clause(tok.text, value, False, self._span(tok),
                                               target.text))
            elif tok.is_word(*CLAUSE_WORDS):
                self.c.next()
                colon = self.c.accept_punct(":", "=") is not None
                rule.clauses.append(ast.Clause(tok.text, self._value(), colon,
                                               self._span(tok)))
            else:
                return rule

    def _rate_limit(self) -> ast.RateLimitNode:
        kw = self.c.next()
        pattern, _ = self._pattern(kw)
        self.c.accept_punct(":", "=")
        count = self.c.next()
        if count.kind is not T.NUMBER or not isinstance(count.value, int) or count.value < 1:
            raise self.c.fail(count, "type", "a rate limit needs a whole number of calls",
                              'write `rate_limit "stripe/*": 30 per minute`')
        self.c.accept_word("per")
        self.c.accept_punct("/")
        window = self.c.next()
        if not (window.is_word(*RATE_WINDOWS) or window.kind is T.DURATION):
            raise self.c.fail(window, "type", f"unknown rate window {window.describe()}",
                              "use second, minute, hour, day or a duration such as `10s`")
        return ast.RateLimitNode(pattern, count.value, window.text.lower(), self._span(kw))

    def _redact(self) -> ast.RedactNode:
        kw = self.c.next()
        pattern, quoted = self._pattern(kw)
        if self.c.accept_word("args", "fields"):
            self.c.accept_punct(":", "=")
        value = self._value()
        items = value.items if isinstance(value, ast.ListValue) else [value]
        fields = []
        for item in items:
            if not isinstance(item, ast.Scalar) or item.kind not in ("string", "word"):
                raise self.c.fail(kw, "type", "redact takes a list of argument names",
                                  'write `redact stripe/charge args: ["card.number"]`')
            fields.append(str(item.value))
        return ast.RedactNode(pattern, quoted, fields, self._span(kw))

    def _import(self) -> ast.ImportNode:
        kw = self.c.next()
        src = self.c.next()
        if src.kind not in (T.STRING, T.WORD):
            raise self.c.fail(src, "syntax", "`import` needs a source",
                              'write `import "./shared.fms" as shared`')
        alias = None
        if self.c.accept_word("as"):
            alias_tok = self.c.next()
            if alias_tok.kind not in (T.STRING, T.WORD):
                raise self.c.fail(alias_tok, "syntax", "`as` needs a name",
                                  'write `import "./shared.fms" as shared`')
            alias = alias_tok.text
        return ast.ImportNode(src.text, alias, self._span(kw))

    def _manifest(self) -> ast.ManifestNode:
        kw = self.c.next()
        words = []
        while not self.c.at_end() and self.c.peek().line == kw.line and \
                not self.c.peek().is_punct("}"):
            words.append(self.c.next().text)
        return ast.ManifestNode(words, self._span(kw))
