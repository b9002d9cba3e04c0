"""Hypothesis strategies for policy IR values and the actions they decide.

Tool names and patterns share a small alphabet of segments so that patterns match often,
and conditions read arguments that actions sometimes give and sometimes leave out. Every
generated IR is valid: canonical patterns, resolved variables, valid regular expressions,
and it passes `check_ir`: blocks stand where `faramesh.fpl.schema` allows them, with its
fields and value types; ids are unique; rules, budgets and rate limits are complete.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from faramesh.fpl import schema
from faramesh.fpl.lower import STANDARD_BUDGETS
from faramesh.policy import ir
from faramesh.policy.values import DataSize, Duration, Money, parse_duration, parse_size

SEGMENTS = ("stripe", "refund", "charge", "shell", "exec", "fs", "read", "write")
SOURCES = ("governance.fms", "<policy>")
OTHER_FILE = "lib/common.fpl"
AGENT_IDS = ("payments-bot", "ops", "reader", ir.ANY_AGENT)
PHASE_NAMES = ("explore", "build", "ship")
DURATION_TEXTS = ("15m", "1.5h", "250ms", "30s", "7d", "2w", "24h", "0.5s")
SIZE_TEXTS = ("10mb", "1kib", "512b", "2gb")
REGEXES = ("^/etc", r"rm\s+-rf", "[0-9]+", "(?i)secret", "a|b", "")
WORDS = ("usd", "eur", "admin", "/etc/passwd", "refund", "ops", "15m", "1.5", "$5", "")
ARG_PATHS = (("args", "amount"), ("args", "currency"), ("args", "path"), ("args", "items"),
             ("args", "count"), ("args", "flag"), ("args", "user", "name"))
OTHER_PATHS = (("principal", "role"), ("principal", "groups"), ("session", "purpose"),
               ("time", "hour"), ("time", "weekday"), ("tool",), ("agent",), ("model",),
               ("host",), ("method",), ("selectors", "env"))
NAMES = ("ops", "finance", "vault", "fsync", "local", "researcher")
# Agent-level blocks the IR keeps as records of their own (rules, budgets, ...).
RECORD_BLOCKS = frozenset({"rules", "budget", "phase", "delegate", "tool"})
AGENT_BLOCK_KINDS = tuple(sorted(schema.AGENT_BLOCKS - RECORD_BLOCKS))
TOP_BLOCK_KINDS = tuple(sorted(schema.TOP_BLOCKS - {"agent"}))
AGENT_SETTING_KEYS = tuple(sorted(schema.AGENT_SETTINGS.keys() - {"default"}))
OPEN_FIELD_KEYS = ("x", "region", "critical.sla_seconds", "max_calls_per_day")
TIMES = ("2026-03-02T10:30:00+00:00", "2026-03-07T23:59:59+00:00", "2026-01-01T00:00:00Z")


# --- names and patterns ------------------------------------------------------------------


@cache
def tool_names() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map("/".join)


@cache
def patterns() -> st.SearchStrategy[str]:
    segment = st.sampled_from((*SEGMENTS, "*", "*", "**", "re*", "*e"))
    globbed = st.lists(segment, min_size=1, max_size=3).map("/".join)
    return st.one_of(st.just("*"), tool_names(), globbed)


# --- values ------------------------------------------------------------------------------


@cache
def money() -> st.SearchStrategy[Money]:
    amounts = st.decimals(min_value=0, max_value=10_000, places=2).map(Decimal.copy_abs)
    return st.builds(Money, amounts, st.sampled_from(("USD", "EUR", "GBP", "JPY")))


@cache
def durations() -> st.SearchStrategy[Duration]:
    return st.sampled_from([d for t in DURATION_TEXTS if (d := parse_duration(t))])


@cache
def sizes() -> st.SearchStrategy[DataSize]:
    return st.sampled_from([s for t in SIZE_TEXTS if (s := parse_size(t))])


@cache
def scalars() -> st.SearchStrategy[ir.Scalar]:
    """Every kind of literal, with text that looks like other kinds and control characters."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(-1000, 10**6), st.integers(),
        st.decimals(min_value=-1000, max_value=1000, places=2),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(WORDS), st.text(max_size=6),
        money(), durations(), sizes())


@cache
def block_values() -> st.SearchStrategy[ir.BlockValue]:
    return st.recursive(scalars(), lambda inner: st.lists(inner, max_size=3).map(tuple),
                        max_leaves=6)


@cache
def data_values() -> st.SearchStrategy[Any]:
    """`modify_args` values: JSON-like data, plus tuples and keys that look like tags."""
    keys = st.sampled_from(("a", "b", "string", "map", "tuple", "float"))
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.lists(inner, max_size=3).map(tuple),
                                st.dictionaries(keys, inner, max_size=3)),
        max_leaves=6)


def field_pairs(values: st.SearchStrategy[Any],
                min_size: int = 0) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    keys = st.sampled_from(("allow", "deny", "mode", "max_duration", "on", "x"))
    return st.lists(st.tuples(keys, values), min_size=min_size, max_size=3).map(tuple)


@cache
def texts() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(WORDS), st.text(max_size=6))


@cache
def typed_values(kind: str, allowed: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Values of one schema type, as lowering gives them (`allowed`: the type's enum)."""
    words = st.sampled_from(allowed or NAMES)
    return {
        schema.STRING: texts(), schema.WORD: words,
        schema.EFFECT: st.sampled_from([e.value for e in ir.DEFAULT_EFFECTS]),
        schema.MONEY: money(), schema.DURATION: durations(), schema.SIZE: sizes(),
        schema.INT: st.integers(0, 10**6),
        schema.NUMBER: st.one_of(st.integers(0, 10**6), st.decimals(
            min_value=0, max_value=1000, places=2).map(Decimal.copy_abs)),
        schema.RATIO: st.decimals(min_value=0, max_value=1, places=2).map(Decimal.copy_abs),
        schema.BOOL: st.booleans(),
        schema.STRINGS: st.lists(texts(), max_size=3).map(tuple),
        schema.WORDS: st.lists(words, min_size=1, max_size=3).map(tuple),
        schema.ANY: block_values(),
    }[kind]


# --- conditions --------------------------------------------------------------------------


@cache
def variables() -> st.SearchStrategy[ir.Var]:
    return st.sampled_from([ir.Var(p) for p in (*ARG_PATHS, *ARG_PATHS, *OTHER_PATHS)])


@cache
def literals() -> st.SearchStrategy[ir.Lit]:
    return st.builds(ir.Lit, scalars())


def _text(values: tuple[str, ...]) -> st.SearchStrategy[ir.Lit]:
    return st.sampled_from(values).map(ir.Lit)


@cache
def calls() -> st.SearchStrategy[ir.Expr]:
    """Each built-in function, alone or compared with a number."""
    tools = _text(("stripe/refund", "stripe/*", "shell/exec", "fs/**"))
    windows = st.one_of(durations().map(ir.Lit), st.integers(0, 3600).map(ir.Lit))
    number = st.one_of(st.integers(-1, 10).map(ir.Lit), money().map(ir.Lit))
    counted = st.one_of(
        st.builds(lambda: ir.Call("args_array_len", (ir.Lit("items"),))),
        st.builds(lambda: ir.Call("len", (ir.Var(("args", "items")),))),
        st.builds(lambda w, t: ir.Call("session.count", (t,), (("window", w),)), windows,
                  tools),
        st.builds(lambda target, w, t: ir.Call("session.sum", (target,),
                                               (("window", w), ("tool", t))),
                  _text(("args.amount", "stripe/refund.amount")), windows, tools))
    boolean = st.one_of(
        st.builds(lambda p: ir.Call("purpose", (p,)), _text(("refunds", "billing"))),
        st.builds(lambda ts: ir.Call("history_sequence", tuple(ts)),
                  st.lists(tools, min_size=1, max_size=3)),
        st.builds(lambda t, w: ir.Call("history_contains_within", (t, w)), tools, windows),
        st.builds(lambda g: ir.Call("args_array_any_match", (ir.Lit("items"), g)),
                  _text(("*.exe", "stripe/*", "a*"))))
    compared = st.builds(ir.Compare, st.sampled_from(("<", "<=", ">", ">=", "==", "!=")),
                         counted, number)
    return st.one_of(boolean, compared)


@cache
def comparisons() -> st.SearchStrategy[ir.Expr]:
    operand = st.one_of(variables(), literals())
    items = st.lists(st.one_of(literals(), variables()), max_size=3).map(
        lambda xs: ir.ListLit(tuple(xs)))
    return st.one_of(
        st.builds(ir.Compare, st.sampled_from(("==", "!=", "<", "<=", ">", ">=")),
                  operand, operand),
        st.builds(lambda left, right: ir.Compare("in", left, right), operand,
                  st.one_of(items, variables())),
        st.builds(lambda left, right: ir.Compare("contains", left, right),
                  st.one_of(variables(), items), operand),
        st.builds(lambda left, right: ir.Compare("matches", left, right), variables(),
                  st.one_of(_text(REGEXES), variables())))


@cache
def conditions() -> st.SearchStrategy[ir.Expr]:
    atoms = st.one_of(comparisons(), comparisons(), calls(), variables(), literals())

    def combine(inner: st.SearchStrategy[ir.Expr]) -> st.SearchStrategy[ir.Expr]:
        several = st.lists(inner, min_size=2, max_size=3).map(tuple)
        return st.one_of(several.map(ir.And), several.map(ir.Or), inner.map(ir.Not),
                         st.builds(lambda e, b: ir.Compare("==", e, ir.Lit(b)), inner,
                                   st.booleans()))
    return st.recursive(atoms, combine, max_leaves=4)


# --- policy structure --------------------------------------------------------------------


@cache
def origins(source: str = SOURCES[0]) -> st.SearchStrategy[ir.Origin]:
    """Whole-line origins: the encodings keep a construct's file and line."""
    return st.builds(ir.Origin, st.sampled_from((source, source, OTHER_FILE)),
                     st.integers(1, 500))


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@cache
def _text_field() -> st.SearchStrategy[str | None]:
    return _opt(st.one_of(st.sampled_from(("too large", "ops", "finance-lead")),
                          st.text(max_size=8)))


@st.composite
def rules(draw: st.DrawFn, source: str = SOURCES[0]) -> ir.Rule:
    written = draw(st.sampled_from([*ir.RuleEffect, "permit", "permit", "deny!", "deny!"]))
    mandatory = written == "deny!"
    effect = ir.RuleEffect.DENY if mandatory else ir.RuleEffect(written)
    # `modify` rewrites at least one argument and only `modify` does; `step_up` names who
    # may approve.
    modify = draw(field_pairs(data_values(), min_size=1)) \
        if effect is ir.RuleEffect.MODIFY else ()
    authority = draw(st.one_of(st.just("finance-lead"), st.text(min_size=1, max_size=8))) \
        if effect is ir.RuleEffect.STEP_UP else draw(_text_field())
    return ir.Rule(
        effect, draw(patterns()), draw(_opt(conditions())), mandatory,
        reason=draw(_text_field()), reason_code=draw(_opt(st.just("LIMIT"))),
        notify=draw(_text_field()), reeval=draw(_opt(st.just("5m"))),
        rule_id=draw(_opt(st.just("r1"))), host=draw(_opt(st.just("api.stripe.com"))),
        method=draw(_opt(st.sampled_from(("GET", "POST")))),
        path=draw(_opt(st.just("/v1/charges"))),
        modify_args=tuple((k if k != "x" else "args.user.name", v) for k, v in modify),
        authority=authority, origin=draw(origins(source)))


@st.composite
def blocks(draw: st.DrawFn, source: str = SOURCES[0], top: bool = False) -> ir.Block:
    """A block of a kind that may stand there (in an agent, or at the top level), with
    fields of its schema; open blocks (provider, ambient, ...) take any field and value."""
    kind = draw(st.sampled_from((*TOP_BLOCK_KINDS, "manifest") if top else AGENT_BLOCK_KINDS))
    if kind == "manifest":
        return draw(manifests(source))
    spec = schema.BLOCKS[kind]
    names = st.sampled_from(("local", "vault"))
    name = None if spec.named is False else draw(names if spec.named else _opt(names))
    keys = draw(st.lists(st.sampled_from(sorted(spec.fields)), max_size=3, unique=True)) \
        if spec.fields else []
    fields = [(k, draw(typed_values(spec.fields[k], schema.ENUMS.get((kind, k), ()))))
              for k in keys]
    if spec.open:
        extra = [k for k in OPEN_FIELD_KEYS if k not in spec.fields]
        fields += draw(st.lists(st.tuples(st.sampled_from(extra), block_values()),
                                max_size=3, unique_by=lambda kv: kv[0]))
    return ir.Block(kind, name, tuple(fields), draw(origins(source)))


@st.composite
def manifests(draw: st.DrawFn, source: str = SOURCES[0]) -> ir.Block:
    """`manifest` lines as lowering gives them."""
    orchestrator = draw(st.sampled_from(NAMES))
    fields: tuple[tuple[str, ir.BlockValue], ...]
    if draw(st.booleans()):
        fields = (("verb", "orchestrator"), ("orchestrator", orchestrator),
                  ("undeclared", draw(st.sampled_from(("deny", "defer")))))
    else:
        fields = (("verb", "grant"), ("orchestrator", orchestrator),
                  ("target", draw(st.sampled_from(NAMES))), ("max", draw(st.integers(0, 99))),
                  ("approval", draw(st.booleans())))
    return ir.Block("manifest", None, fields, draw(origins(source)))


@st.composite
def budgets(draw: st.DrawFn, source: str = SOURCES[0]) -> ir.Budget:
    """A budget with at least one limit; a custom id (`weekly`) says how long it lasts."""
    budget_id = draw(st.sampled_from(("daily", "session", "weekly")))
    limits = draw(st.lists(st.sampled_from(("max", "daily", "max_calls")), min_size=1,
                           unique=True))
    window = draw(durations() if budget_id not in STANDARD_BUDGETS else _opt(durations()))
    return ir.Budget(budget_id, draw(money()) if "max" in limits else None,
                     draw(money()) if "daily" in limits else None,
                     draw(st.integers(0, 1000)) if "max_calls" in limits else None,
                     draw(_opt(st.decimals(min_value=0, max_value=1, places=2))),
                     draw(st.sampled_from(ir.DEFAULT_EFFECTS)), window, draw(origins(source)))


@st.composite
def agents(draw: st.DrawFn, agent_id: str | None = None,
           source: str = SOURCES[0]) -> ir.Agent:
    def few(strategy: st.SearchStrategy[Any], n: int = 2,
            unique_by: Any = None) -> tuple[Any, ...]:
        return tuple(draw(st.lists(strategy, max_size=n, unique_by=unique_by)))

    # One agent in four works in phases: a phase hides every tool it does not list.
    names = draw(st.sampled_from(((), (), (), ("explore",), ("explore", "ship"))))
    phases = tuple(ir.Phase(name, few(patterns()), few(rules(source)), draw(_opt(durations())),
                            draw(_opt(st.sampled_from(PHASE_NAMES))), draw(origins(source)))
                   for name in names)
    return ir.Agent(
        agent_id if agent_id is not None else draw(st.sampled_from(AGENT_IDS)),
        draw(st.sampled_from(ir.DEFAULT_EFFECTS)),
        tuple(draw(st.lists(rules(source), max_size=4))),
        phases,
        few(st.builds(ir.RateLimit, patterns(), st.integers(1, 100), durations(),
                      origins(source))),
        few(budgets(source), unique_by=lambda b: b.budget_id),
        few(st.builds(ir.Redaction, patterns(),
                      st.lists(st.sampled_from(("card.number", "ssn", "token")),
                               min_size=1, max_size=2).map(tuple), origins(source))),
        few(st.builds(ir.Delegation, st.sampled_from(AGENT_IDS), _opt(patterns()),
                      _opt(durations()), _opt(st.sampled_from(("permit", "deny", "defer",
                                                               "inherited"))),
                      origins(source)), unique_by=lambda d: d.target_agent),
        few(blocks(source), unique_by=lambda b: (b.kind, b.name)),
        # A setting may repeat, as in FPL; its values are text.
        tuple(draw(st.lists(st.tuples(st.sampled_from(AGENT_SETTING_KEYS), texts()),
                            max_size=3))),
        few(st.builds(ir.ToolDecl, tool_names(),
                      st.lists(st.sampled_from(("risk:high", "payments")),
                               max_size=2).map(tuple),
                      _opt(money().map(lambda m: Money(m.amount)))),  # costs are in USD
            unique_by=lambda t: t.name),
        draw(origins(source)))


@st.composite
def policies(draw: st.DrawFn) -> ir.PolicyIR:
    source = draw(st.sampled_from(SOURCES))
    ids = draw(st.lists(st.sampled_from(AGENT_IDS), min_size=1, max_size=2, unique=True))
    imports = draw(st.lists(st.builds(ir.Import, st.sampled_from(("./lib.fpl",
                                                                  "shared/common.fms")),
                                      _opt(st.just("lib")), origins(source)), max_size=2))
    return ir.PolicyIR(tuple(draw(agents(agent_id=i, source=source)) for i in ids),
                       tuple(draw(st.lists(blocks(source, top=True), max_size=2))),
                       tuple(imports),
                       source)


# --- actions -----------------------------------------------------------------------------


def _spellings(name: str) -> st.SearchStrategy[str]:
    """The name as an agent might send it: exact, shouted, padded or with a doubled `/`."""
    return st.sampled_from((name, name, name.upper(), f" {name} ", name.replace("/", "//")))


def actions(policy: ir.PolicyIR) -> st.SearchStrategy[dict[str, Any]]:
    agent_ids = [a.agent_id for a in policy.agents] * 4 + ["stranger"]
    phase_names = sorted({p.name for a in policy.agents for p in a.phases}) or ["none"]
    amounts = st.one_of(st.integers(-5, 10_000), st.floats(-5, 10_000), st.just("50"))
    args = st.fixed_dictionaries({}, optional={
        "amount": amounts, "currency": st.sampled_from(("usd", "eur", "USD")),
        "path": st.sampled_from(("/etc/passwd", "/tmp/x", "secret.txt")),
        "items": st.lists(st.sampled_from(("a.exe", "b", "stripe/refund")), max_size=3),
        "count": st.integers(0, 20), "flag": st.booleans(),
        "user": st.fixed_dictionaries({}, optional={"name": st.sampled_from(("ann", "bo"))})})
    history = st.lists(st.fixed_dictionaries(
        {"tool": tool_names()}, optional={"time": st.sampled_from(TIMES),
                                          "args": st.fixed_dictionaries({"amount": amounts})}),
        max_size=3)
    session = st.fixed_dictionaries({}, optional={
        "purpose": st.sampled_from(("refunds", "billing")), "history": history,
        "phase": st.sampled_from(phase_names)})
    principal = st.fixed_dictionaries({}, optional={
        "role": st.sampled_from(("admin", "ops")),
        "groups": st.lists(st.sampled_from(("ops", "finance")), max_size=2)})
    return st.fixed_dictionaries(
        {"tool": tool_names().flatmap(_spellings), "agent": st.sampled_from(agent_ids),
         "time": st.sampled_from(TIMES)},  # a fixed time: both evaluations see one clock
        optional={"args": args, "session": session, "principal": principal,
                  "model": st.sampled_from(("gpt-4.1", "claude")),
                  "selectors": st.fixed_dictionaries({"env": st.sampled_from(("prod",))}),
                  "http": st.fixed_dictionaries({"host": st.just("api.stripe.com"),
                                                 "method": st.sampled_from(("GET", "POST"))})})


# --- comparison --------------------------------------------------------------------------


def strict(value: object) -> object:
    """A comparison key over every field (origins and source included) that tells value
    types apart: `1`, `1.0`, `Decimal(1)` and `True` are all different here. An origin
    counts by file and line, what a decision's `rule_ref` shows."""
    if isinstance(value, ir.Origin):
        return ("Origin", value.file, value.line)
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(strict(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, strict(v)) for k, v in value.items()))
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple((f.name, strict(getattr(value, f.name))) for f in fields(value)))
    return (type(value).__name__, value)

