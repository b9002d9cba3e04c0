"""The intermediate representation every policy form compiles to.

`governance.fms`, `.fpl`, the IR's YAML/JSON encodings and the runtime's legacy YAML all
lower to these frozen records; the evaluator, the formatter and the converters read only
these. Conditions are kept as an expression tree (`Expr`) so they can be printed back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from faramesh.policy.values import DataSize, Duration, Money


class RuleEffect(StrEnum):
    """What a rule does when it matches. The decision maps these onto PERMIT/DENY/DEFER."""

    PERMIT = "permit"
    DENY = "deny"
    DEFER = "defer"
    SHADOW = "shadow"
    MODIFY = "modify"
    STEP_UP = "step_up"


EFFECT_ALIASES: dict[str, RuleEffect] = {
    "permit": RuleEffect.PERMIT, "allow": RuleEffect.PERMIT, "approve": RuleEffect.PERMIT,
    "deny": RuleEffect.DENY, "block": RuleEffect.DENY, "reject": RuleEffect.DENY,
    "defer": RuleEffect.DEFER, "shadow": RuleEffect.SHADOW, "modify": RuleEffect.MODIFY,
    "step_up": RuleEffect.STEP_UP,
}
DEFAULT_EFFECTS = (RuleEffect.PERMIT, RuleEffect.DENY, RuleEffect.DEFER)

Scalar = str | int | float | bool | Decimal | Money | Duration | DataSize | None


# --- condition expressions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    value: Scalar


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Var:
    """A variable path: ("args", "amount"), ("principal", "groups"), ("time", "hour")."""

    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >= in contains matches
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A built-in function: purpose('x'), history_sequence(...), session.sum(...)."""

    name: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...] = ()


Expr = Lit | ListLit | Var | Compare | And | Or | Not | Call


# --- policy structure ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a construct was written; `ref` (file:line) is what decisions show."""

    file: str = "<policy>"
    line: int = 0
    column: int = 0

    @property
    def ref(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Rule:
    effect: RuleEffect
    pattern: str  # canonical tool glob
    condition: Expr | None = None
    mandatory: bool = False  # `deny!`
    reason: str | None = None
    reason_code: str | None = None
    notify: str | None = None
    reeval: str | None = None
    rule_id: str | None = None
    host: str | None = None
    method: str | None = None
    path: str | None = None
    modify_args: tuple[tuple[str, Any], ...] = ()
    authority: str | None = None
    origin: Origin = field(default_factory=Origin, compare=False)


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    tools: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    duration: Duration | None = None
    next: str | None = None
    origin: Origin = field(default_factory=Origin, compare=False)


@dataclass(frozen=True, slots=True)
class RateLimit:
    pattern: str
    count: int
    window: Duration
    origin: Origin = field(default_factory=Origin, compare=False)


@dataclass(frozen=True, slots=True)
class Budget:
    budget_id: str  # `daily`, `session`, or a custom id
    max: Money | None = None
    daily: Money | None = None
    max_calls: int | None = None
    warn_at: Decimal | None = None
    on_exceed: RuleEffect = RuleEffect.DENY
    window: Duration | None = None
    origin: Origin = field(default_factory=Origin, compare=False)


@dataclass(frozen=True, slots=True)
class Redaction:
    pattern: str
    fields: tuple[str, ...]
    origin: Origin = field(default_factory=Origin, compare=False)


@dataclass(frozen=True, slots=True)
class Delegation:
    target_agent: str
    scope: str | None = None
    ttl: Duration | None = None
    ceiling: str | None = None  # an effect name or `inherited`
    origin: Origin = field(default_factory=Origin, compare=False)


BlockValue = Scalar | tuple["BlockValue", ...]


@dataclass(frozen=True, slots=True)
class Block:
    """A settings block checked against its schema: egress, session, selector, runtime, ..."""

    kind: str
    name: str | None
    fields: tuple[tuple[str, BlockValue], ...]
    origin: Origin = field(default_factory=Origin, compare=False)

    def get(self, key: str, default: BlockValue = None) -> BlockValue:
        for k, v in self.fields:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class ToolDecl:
    """A declared tool (a pattern) with tags, which lint checks patterns against, and the
    cost in US dollars a permitted call to it charges its budgets (pipeline/budget.py)."""

    name: str
    tags: tuple[str, ...] = ()
    cost: Money | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str  # ANY_AGENT for flat top-level rules
    default: RuleEffect = RuleEffect.DENY
    rules: tuple[Rule, ...] = ()
    phases: tuple[Phase, ...] = ()
    rate_limits: tuple[RateLimit, ...] = ()
    budgets: tuple[Budget, ...] = ()
    redactions: tuple[Redaction, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    blocks: tuple[Block, ...] = ()
    settings: tuple[tuple[str, BlockValue], ...] = ()  # model, framework, ...
    tools: tuple[ToolDecl, ...] = ()
    origin: Origin = field(default_factory=Origin, compare=False)


ANY_AGENT = "*"


@dataclass(frozen=True, slots=True)
class Import:
    source: str
    alias: str | None
    origin: Origin = field(default_factory=Origin, compare=False)


@dataclass(frozen=True, slots=True)
class PolicyIR:
    agents: tuple[Agent, ...]
    blocks: tuple[Block, ...] = ()  # runtime, provider, identity, trust, system, ...
    imports: tuple[Import, ...] = ()
    source: str = field(default="<policy>", compare=False)


def map_leaves(expr: Expr, leaf: Callable[[Lit | Var], Expr]) -> Expr:
    """The same expression with every literal and variable replaced by `leaf(it)`."""
    if isinstance(expr, Lit | Var):
        return leaf(expr)
    if isinstance(expr, ListLit):
        return ListLit(tuple(map_leaves(i, leaf) for i in expr.items))
    if isinstance(expr, Compare):
        return Compare(expr.op, map_leaves(expr.left, leaf), map_leaves(expr.right, leaf))
    if isinstance(expr, And | Or):
        return type(expr)(tuple(map_leaves(i, leaf) for i in expr.items))
    if isinstance(expr, Not):
        return Not(map_leaves(expr.item, leaf))
    return Call(expr.name, tuple(map_leaves(a, leaf) for a in expr.args),
                tuple((k, map_leaves(v, leaf)) for k, v in expr.kwargs))


def any_node(expr: Expr, test: Callable[[Expr], bool]) -> bool:
    """Whether `test` holds for `expr` or any expression inside it."""
    if test(expr):
        return True
    if isinstance(expr, Compare):
        return any_node(expr.left, test) or any_node(expr.right, test)
    if isinstance(expr, And | Or | ListLit):
        return any(any_node(i, test) for i in expr.items)
    if isinstance(expr, Not):
        return any_node(expr.item, test)
    if isinstance(expr, Call):
        return any(any_node(e, test) for e in (*expr.args, *(v for _, v in expr.kwargs)))
    return False
