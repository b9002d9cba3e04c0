"""Plain data -> IR: `data_to_ir` reads each record as `RECORDS` says, conditions with the
FPL condition parser; it never raises and records every problem, located, in the sink."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.expressions import parse_expression, resolve_names
from faramesh.fpl.ir_checks import check_ir
from faramesh.fpl.ir_codec.records import (
    _RESERVED_WORDS,
    _VAR_NAME,
    FORMAT_VERSION,
    NESTED,
    RECORDS,
    TOP_KEYS,
    WHAT,
    Mark,
    Path,
)
from faramesh.fpl.ir_codec.values import _BAD, _bad, _describe, _shown, _ValueReader
from faramesh.policy import ir
from faramesh.policy.conditions import ROOTS
from faramesh.policy.regex import RegexError, compile_regex


def data_to_ir(data: object, file: str, sink: DiagnosticSink,
               marks: Mapping[Path, Mark] | None = None) -> ir.PolicyIR | None:
    """The IR that `data` describes, or None when errors were recorded in `sink`.

    `marks` maps paths into `data` to where they were written (the loaders fill it), so
    errors, and the origins of records without a `line`, point into the file. A policy
    read without errors is then checked as FPL text is (`check_ir`): block schemas, field
    types, required parts, ids declared twice.
    """
    before = len(sink.items)
    reader = _Reader(file, sink, marks)
    try:
        policy = reader.policy(data)
    except RecursionError:
        reader.error((), "too-deep", "the policy is nested too deeply")
        return None
    if policy is not None and len(sink.items) == before:
        check_ir(policy, sink, reader.locate if marks else None)
    return policy if len(sink.items) == before else None



class _Reader(_ValueReader):
    # --- conditions ----------------------------------------------------------------------

    def variables(self, value: object, path: Path) -> dict[str, ir.Scalar] | None:
        m = self.mapping(value, path, "`vars`")
        out: dict[str, ir.Scalar] = {}
        for name, raw in (m or {}).items():
            if not _VAR_NAME.fullmatch(name) or name in ROOTS or name in _RESERVED_WORDS:
                self.error((*path, name), "bad-var", f"`{_shown(name)}` cannot name a var",
                           "use a plain name that is not a variable root such as `args`",
                           key=True)
                continue
            v = self.setting_value(raw, (*path, name))
            if isinstance(v, tuple):
                self.error((*path, name), "type", "a var holds one value, not a list")
            elif v is not _BAD:
                out[name] = v
        return out

    def condition(self, text: str, variables: dict[str, ir.Scalar] | None,
                  path: Path) -> Any:
        line, column = self.where(path)
        before = len(self.sink.items)
        try:
            expr = parse_expression(text, self.sink, line, column)
        except RecursionError:
            self.error(path, "too-deep", "the condition is nested too deeply")
            return _BAD
        except (ValueError, ArithmeticError):  # the lexer on digits such as `¹`
            self.error(path, "bad-literal", "the condition holds a number that cannot be "
                       "read", "write digits 0-9")
            return _BAD
        if expr is None or len(self.sink.items) > before:
            return _BAD
        expr = resolve_names(expr, variables or {})
        self.check_operands(expr, path)
        return expr if len(self.sink.items) == before else _BAD

    def check_operands(self, expr: ir.Expr, path: Path) -> None:
        """What the parser checks on literals, for values that came in through `vars`."""
        children: tuple[ir.Expr, ...] = ()
        if isinstance(expr, ir.Compare):
            right = expr.right
            if expr.op == "in" and isinstance(right, ir.Lit):
                self.error(path, "type", "`in` needs a list or a variable on its right",
                           'write `x in ["a", "b"]`')
            elif expr.op == "matches" and isinstance(right, ir.Lit):
                if not isinstance(right.value, str):
                    self.error(path, "type", "`matches` needs a string pattern")
                else:
                    try:
                        compile_regex(right.value)
                    except RegexError as exc:
                        self.error(path, "bad-regex", f"invalid regular expression: {exc}")
            children = (expr.left, expr.right)
        elif isinstance(expr, ir.And | ir.Or | ir.ListLit):
            children = expr.items
        elif isinstance(expr, ir.Not):
            children = (expr.item,)
        elif isinstance(expr, ir.Call):
            children = (*expr.args, *(v for _, v in expr.kwargs))
        for child in children:
            self.check_operands(child, path)

    # --- records -------------------------------------------------------------------------

    def policy(self, data: object) -> ir.PolicyIR | None:
        m = self.mapping(data, (), "the policy", TOP_KEYS)
        if m is None:
            return None
        version = m.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION or isinstance(version, bool):
            self.error(("version",), "bad-version", f"unsupported format version: "
                       f"{_describe(version)}", f"this version reads `version: {FORMAT_VERSION}`")
        source = self.name(m["source"], ("source",)) if m.get("source") is not None else None
        self.source = source if isinstance(source, str) else self.file
        parts = {key: self.items(m, key, (), self.reader(NESTED[key])) if m.get(key)
                 is not None else () for key in ("imports", "blocks", "agents")}
        return ir.PolicyIR(parts["agents"], parts["blocks"], parts["imports"], self.source)

    def reader(self, cls: type[Any]) -> Callable[[Any, Path], Any]:
        return lambda value, path: self.record(cls, value, path)

    def record(self, cls: type[Any], value: object, path: Path) -> Any:
        spec = RECORDS[cls]
        keys = [f.key for f in spec] + (["vars"] if cls is ir.Rule else []) + ["line"]
        m = self.mapping(value, path, WHAT[cls], keys, [f.key for f in spec if f.required])
        if m is None:
            return None
        kwargs: dict[str, Any] = {}
        for f in spec:
            raw, sub = m.get(f.key), (*path, f.key)
            if raw is None and f.required:
                kwargs[f.attr] = self.reject(raw, sub, f"a value for `{f.key}`")
            elif raw is None:
                kwargs[f.attr] = _ABSENT.get(f.kind)
            elif f.kind == "effect":
                kwargs["mandatory"] = isinstance(raw, str) and raw.strip().lower() == "deny!"
                kwargs[f.attr] = ir.RuleEffect.DENY if kwargs["mandatory"] else \
                    self.effect(raw, sub)
            elif f.kind == "condition":
                variables = self.variables(m["vars"], (*path, "vars")) \
                    if m.get("vars") is not None else None
                text = self.text(raw, sub)
                kwargs[f.attr] = text if text is _BAD else self.condition(text, variables, sub)
            elif f.kind in ("list", "tools"):
                read = self.tool if f.kind == "tools" else self.reader(NESTED[f.key])
                kwargs[f.attr] = self.items(m, f.key, path, read)
            else:
                kwargs[f.attr] = _READ[f.kind](self, raw, sub)
        kwargs["origin"] = self.origin(m, path)
        if _bad(*kwargs.values()):
            return None
        return self.place(cls(**kwargs), path)

    def tool(self, value: object, path: Path) -> ir.ToolDecl | None:
        if isinstance(value, str):
            name = self.pattern(value, path)
            return None if name is _BAD else self.place(ir.ToolDecl(name), path)
        m = self.mapping(value, path, "a tool (a name, or a mapping with `name`, `tags` and "
                         "`cost`)", ("name", "tags", "cost"), ("name",))
        if m is None:
            return None
        name = self.pattern(m["name"], (*path, "name"))
        tags = self.texts(m["tags"], (*path, "tags")) if m.get("tags") is not None else ()
        cost = self.money(m["cost"], (*path, "cost")) if m.get("cost") is not None else None
        return None if _bad(name, tags, cost) else \
            self.place(ir.ToolDecl(name, tags, cost), path)


# What an absent key means, by kind (None for the rest).
_ABSENT: dict[str, object] = {"default": ir.RuleEffect.DENY, "exceed": ir.RuleEffect.DENY,
                              **dict.fromkeys(("list", "tools", "patterns", "texts",
                                               "settings", "modify"), ())}
_READ: dict[str, Callable[[_Reader, object, Path], Any]] = {
    "name": _Reader.name, "text": _Reader.text, "ceiling": _Reader.ceiling,
    "pattern": _Reader.pattern, "patterns": _Reader.patterns, "count": _Reader.count,
    "duration": _Reader.duration, "money": _Reader.money, "ratio": _Reader.ratio,
    "default": lambda r, v, p: r.effect(v, p, ir.DEFAULT_EFFECTS),
    "exceed": lambda r, v, p: r.effect(v, p, ir.DEFAULT_EFFECTS),
    "texts": _Reader.texts, "settings": lambda r, v, p: r.pairs(v, p, r.setting_value),
    "modify": _Reader.modify_args,
}

