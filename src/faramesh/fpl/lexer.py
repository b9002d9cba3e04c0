"""FPL lexer: source text -> tokens, shared by both dialects and by legacy `when` strings.

Never raises: a character it cannot read becomes an ERROR token and a diagnostic, so the
parser can go on and report every problem in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.policy.values import (
    CURRENCY_SYMBOLS,
    DIGITS,
    DURATION_UNITS_S,
    SIZE_UNITS_B,
    is_ascii_number,
    parse_duration,
    parse_money,
    parse_size,
)


class T(Enum):
    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    MONEY = "money"
    DURATION = "duration"
    SIZE = "size"
    PUNCT = "punct"
    ERROR = "error"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: T
    text: str  # the source text (for STRING: the decoded value)
    line: int
    column: int
    length: int
    value: object = None  # decoded literal value for NUMBER/MONEY/DURATION/SIZE

    def is_word(self, *words: str) -> bool:
        return self.kind is T.WORD and (not words or self.text in words)

    def is_punct(self, *puncts: str) -> bool:
        return self.kind is T.PUNCT and self.text in puncts

    def describe(self) -> str:
        if self.kind is T.EOF:
            return "end of input"
        if self.kind is T.STRING:
            return f'string "{self.text}"'
        return f"`{self.text}`"


PUNCT2 = ("==", "!=", "<=", ">=", "&&", "||")
PUNCT1 = "{}[](),:=<>!;"
_WORD_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_*")
_WORD_CHARS = _WORD_START | set("0123456789./-")
# JSON's escapes, plus \' and \0; the formatter writes strings as JSON does.
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", '"': '"',
            "'": "'", "\\": "\\", "0": "\0"}


def _is_word_char(c: str, start: bool) -> bool:
    if c in (_WORD_START if start else _WORD_CHARS):
        return True
    return not c.isascii() and (c.isalnum() or (c.isprintable() and not c.isspace()))


def tokenize(text: str, sink: DiagnosticSink, line: int = 1, column: int = 1,
             comments: list[tuple[int, str]] | None = None) -> list[Token]:
    """All tokens of `text`, ending with EOF. Errors go to `sink`; comments, with their
    line, to `comments` when given (the formatter keeps them)."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    line_start = -(column - 1)

    def col(at: int) -> int:
        return at - line_start + 1

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            line_start = i + 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            start = i
            while i < n and text[i] != "\n":
                i += 1
            if comments is not None:
                comments.append((line, text[start:i].rstrip()))
            continue
        start = i
        if c in "\"'":
            value, i, ok, newlines = _read_string(text, i)
            if not ok:
                sink.error(sink.span(line, col(start)), "unterminated-string",
                           "unterminated string", "close it with a matching quote")
                tokens.append(Token(T.ERROR, text[start:i], line, col(start), i - start))
            else:
                tokens.append(Token(T.STRING, value, line, col(start), i - start))
            if newlines:
                line += newlines
                line_start = text.rfind("\n", start, i) + 1
            continue
        if c in CURRENCY_SYMBOLS or c in DIGITS:
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            raw = text[i:j].rstrip(".")
            j = i + len(raw)
            tokens.append(_number_token(raw, line, col(i), sink))
            i = j
            continue
        if c == "-" and i + 1 < n and text[i + 1] in DIGITS:  # words never start with `-`
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            tokens.append(_number_token(text[i:j], line, col(i), sink))
            i = j
            continue
        if _is_word_char(c, start=True):
            j = i + 1
            while j < n and _is_word_char(text[j], start=False):
                j += 1
            word = text[i:j]
            if word == "deny" and text.startswith("!", j) and not text.startswith("!=", j):
                word, j = "deny!", j + 1
            tokens.append(Token(T.WORD, word, line, col(i), j - i))
            i = j
            continue
        two = text[i:i + 2]
        if two in PUNCT2:
            tokens.append(Token(T.PUNCT, two, line, col(i), 2))
            i += 2
            continue
        if c in PUNCT1:
            tokens.append(Token(T.PUNCT, c, line, col(i), 1))
            i += 1
            continue
        sink.error(sink.span(line, col(i)), "unexpected-character",
                   f"unexpected character `{c!r}`"[:60],
                   "remove it; strings go in double quotes")
        tokens.append(Token(T.ERROR, c, line, col(i), 1))
        i += 1
    tokens.append(Token(T.EOF, "", line, col(i), 1))
    return tokens


def _read_string(text: str, i: int) -> tuple[str, int, bool, int]:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    newlines = 0
    while j < len(text):
        c = text[j]
        if c == quote:
            return "".join(out), j + 1, True, newlines
        if c == "\n":
            return "".join(out), j, False, newlines
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            if nxt == "u" and j + 6 <= len(text):
                try:
                    out.append(chr(int(text[j + 2:j + 6], 16)))
                    j += 6
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            j += 2
            continue
        out.append(c)
        j += 1
    return "".join(out), j, False, newlines


def _number_token(raw: str, line: int, column: int, sink: DiagnosticSink) -> Token:
    cleaned = raw.replace("_", "")
    if cleaned[:1] in CURRENCY_SYMBOLS or (cleaned[-3:].isalpha() and len(cleaned) > 3
                                           and cleaned[-3:].isupper()):
        money = parse_money(cleaned)
        if money is not None:
            return Token(T.MONEY, raw, line, column, len(raw), money)
    digits = cleaned.lstrip("-")
    if is_ascii_number(digits):
        if "." in digits:
            from decimal import Decimal
            return Token(T.NUMBER, raw, line, column, len(raw), Decimal(cleaned))
        return Token(T.NUMBER, raw, line, column, len(raw), int(cleaned))
    lower = cleaned.lower()
    unit = lower.lstrip("0123456789.")
    if unit in DURATION_UNITS_S and (d := parse_duration(lower)) is not None:
        return Token(T.DURATION, raw, line, column, len(raw), d)
    if unit in SIZE_UNITS_B and (s := parse_size(lower)) is not None:
        return Token(T.SIZE, raw, line, column, len(raw), s)
    sink.error(sink.span(line, column, len(raw)), "bad-literal", f"cannot read `{raw}`",
               "write a number (`12`, `0.8`), money (`$50`), a duration (`15m`, `24h`) "
               "or a size (`10mb`)")
    return Token(T.ERROR, raw, line, column, len(raw))
