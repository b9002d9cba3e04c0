"""A cursor over tokens with the error helpers both parsers share."""

from __future__ import annotations

from faramesh.fpl.diagnostics import DiagnosticSink, Span
from faramesh.fpl.lexer import T, Token


class ParseAbort(Exception):
    """Unwinds to the nearest recovery point after an error has been recorded."""


class Cursor:
    def __init__(self, tokens: list[Token], sink: DiagnosticSink) -> None:
        self.tokens = tokens
        self.pos = 0
        self.sink = sink

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        if tok.kind is not T.EOF:
            self.pos += 1
        return tok

    def at_end(self) -> bool:
        return self.peek().kind is T.EOF

    def span(self, tok: Token) -> Span:
        return self.sink.span(tok.line, tok.column, tok.length)

    def fail(self, tok: Token, code: str, message: str, hint: str | None = None) -> ParseAbort:
        if tok.kind is not T.ERROR:  # the lexer already reported error tokens
            self.sink.error(self.span(tok), code, message, hint)
        return ParseAbort()

    def expected(self, what: str, hint: str | None = None) -> ParseAbort:
        tok = self.peek()
        return self.fail(tok, "syntax", f"expected {what}, found {tok.describe()}", hint)

    def accept_punct(self, *puncts: str) -> Token | None:
        if self.peek().is_punct(*puncts):
            return self.next()
        return None

    def accept_word(self, *words: str) -> Token | None:
        if self.peek().is_word(*words):
            return self.next()
        return None

    def expect_punct(self, punct: str, what: str | None = None) -> Token:
        tok = self.accept_punct(punct)
        if tok is None:
            raise self.expected(what or f"`{punct}`", f"insert `{punct}` here")
        return tok
