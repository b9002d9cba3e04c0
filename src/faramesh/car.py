"""The canonical action record (CAR): one tool call, normalized, whatever the transport.

Its first duty is one canonical spelling of every tool name.

Every matcher (rules, phases, rate limits, redaction, egress, delegation scopes) sees only
canonical names, so `SHELL/exec`, ` admin//delete` or a Cyrillic look-alike of `shell`
cannot slip past a deny written for the plain spelling.
"""

from __future__ import annotations

import json
import os
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, NamedTuple

from faramesh.errors import ActionError

# Characters that render as nothing and are removed: format controls (zero-width
# spaces and joiners, bidi overrides, soft hyphen) and variation selectors.
_REMOVED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


@lru_cache(maxsize=1)
def _lookalike_table() -> dict[int, str]:
    """Non-ASCII character -> the ASCII character it is confusable with (Unicode data)."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    table: dict[int, str] = {}
    # Letters and digits first, so a glyph that looks like both `l` and `|` folds to `l`.
    ascii_keys = sorted((k for k in data if len(k) == 1 and k.isascii()),
                        key=lambda k: (not k.isalnum(), k))
    for key in ascii_keys:
        for glyph in data[key]:
            c = glyph["c"]
            if len(c) == 1 and not c.isascii():
                table.setdefault(ord(c), key)
    return table


def _fold_non_ascii(name: str) -> str:
    # Case folding can decompose (`İ` -> `i` + combining dot), so fold case before the
    # second NFKC and before invisible marks are removed: the result is then a fixed point.
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    kept = [c for c in name if c.isascii() or unicodedata.category(c) not in _REMOVED_CATEGORIES]
    return "".join(kept).translate(_lookalike_table())


@lru_cache(maxsize=4096)  # agents call the same few tools over and over
def canonical_tool(raw: str) -> str | None:
    """The canonical spelling of a tool name, or None when it must be refused (NUL byte).

    NFKC, invisible characters removed, look-alikes folded, case folded, surrounding space
    trimmed, repeated `/` collapsed, leading `./` and `../` removed.
    """
    if "\x00" in raw:
        return None
    name = raw if raw.isascii() else _fold_non_ascii(raw)
    name = name.casefold()
    # Each segment is trimmed before empty ones are dropped, so `a/ /b` is `a/b` and
    # `./ ../x` is `x`: spaces cannot rebuild a `//` or a leading `..`.
    segments = [s for s in (part.strip() for part in name.split("/")) if s]
    start = 0
    while start < len(segments) and segments[start] in (".", ".."):
        start += 1
    return "/".join(segments[start:])


def canonical_pattern(raw: str) -> str:
    """Patterns get the same folding as names (a NUL in a pattern is a compile error)."""
    return canonical_tool(raw) or ""


# --- the canonical action record ----------------------------------------------------------

# Limits on one request, whatever the transport (documented in docs/wire-format.md).
MAX_DEPTH = 32  # nesting of args/principal/http
MAX_STRING = 64  # agent ids, session ids, request ids: characters
DEFAULT_SESSION = "default"  # the session of a call that names none
KNOWN_FIELDS = frozenset({"agent", "tool", "args", "session_id", "principal", "cost",
                          "request_id", "purpose", "model", "http", "delegation"})
_ACCEPTED = KNOWN_FIELDS | {"op", "id"}  # the wire's envelope fields ride along
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request, as the transport saw it (socket peer credentials, address)."""

    transport: str  # "socket" | "http" | "inprocess" | a gateway's name
    pid: int | None = None
    uid: int | None = None
    gid: int | None = None
    address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"transport": self.transport}
        if self.pid is not None:
            out["pid"] = self.pid
        if self.uid is not None:
            out["uid"] = self.uid
        if self.gid is not None:
            out["gid"] = self.gid
        if self.address is not None:
            out["address"] = self.address
        return out


class CAR(NamedTuple):
    """One tool call, normalized: every transport builds this and calls the one `decide`.

    Immutable. A NamedTuple rather than a frozen dataclass: one is built per decision, and
    a tuple is built in a fifth of the time."""

    action_id: str  # ULID, assigned at ingress; the id of the decision's record
    agent_id: str
    tool: str  # canonical tool name
    raw_tool: str  # as the caller spelled it
    args: Mapping[str, Any]
    caller: Caller
    received_at: datetime  # UTC, the daemon's clock
    session_id: str = DEFAULT_SESSION
    principal: Mapping[str, Any] = _EMPTY
    cost_usd: Decimal | None = None
    request_id: str | None = None
    purpose: str | None = None
    model: str | None = None
    http: Mapping[str, Any] = _EMPTY
    delegation: tuple[str, ...] = ()  # delegating agents, outermost first

    def action(self, **extra: Any) -> dict[str, Any]:
        """The mapping `Policy.evaluate` reads; `extra` adds `session`, `selectors`."""
        out: dict[str, Any] = {"agent": self.agent_id, "tool": self.tool, "args": self.args,
                               "principal": self.principal, "http": self.http,
                               "time": self.received_at}
        if self.model is not None:
            out["model"] = self.model
        out.update(extra)
        return out


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)  # 10 bits -> 2 characters


class _RandomPool:
    """80-bit random numbers cut from one `os.urandom` read of many: a system call per id
    costs more than the rest of the id, and lets other threads take the interpreter."""

    _BYTES = 10 * 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf, self._at = b"", 0

    def take80(self) -> int:
        with self._lock:
            buf, at = self._buf, self._at
            if at >= len(buf):
                buf, at = os.urandom(self._BYTES), 0
                self._buf = buf
            self._at = at + 10
        return int.from_bytes(buf[at:at + 10], "big")

    def forget(self) -> None:
        """A forked child must not hand out its parent's numbers again."""
        self._lock = threading.Lock()
        self._buf, self._at = b"", 0


_RANDOM = _RandomPool()
os.register_at_fork(after_in_child=_RANDOM.forget)


def new_action_id(now: datetime) -> str:
    """A ULID (github.com/ulid/spec): 48 bits of Unix milliseconds, then 80 random bits,
    as 26 Crockford base32 characters, so ids sort by time. Written out here because the
    library's constructor costs ~10 µs, a tenth of a whole decision."""
    value = (int(now.timestamp() * 1000) << 80) | _RANDOM.take80()
    return "".join([_PAIRS[(value >> shift) & 0x3FF] for shift in range(120, -1, -10)])


def build_car(request: Mapping[str, Any], caller: Caller, now: datetime) -> CAR:
    """The CAR of one request object; raise ActionError naming the field at fault."""
    if not isinstance(request, Mapping):
        raise ActionError("a request is a JSON object", field="")
    if not _ACCEPTED.issuperset(request):
        unknown = sorted(str(k) for k in request if k not in _ACCEPTED)
        raise ActionError(f"unknown field `{unknown[0]}`", field=unknown[0])
    get = request.get
    agent_id = _string(request, "agent", required=True)
    raw_tool = get("tool")
    if not isinstance(raw_tool, str) or not raw_tool.strip():
        raise ActionError("`tool` must be a non-empty string", field="tool")
    if len(raw_tool) > 1024:
        raise ActionError("`tool` is longer than 1024 characters", field="tool")
    tool = canonical_tool(raw_tool)
    if not tool:
        raise ActionError("`tool` is empty or holds a NUL byte", field="tool")
    args, principal, http = _mapping(get("args"), "args"), \
        _mapping(get("principal"), "principal"), _mapping(get("http"), "http")
    session_id, request_id, purpose, model = (
        _string(request, "session_id"), _string(request, "request_id"),
        _string(request, "purpose"), _string(request, "model"))
    delegation = get("delegation")
    if delegation is None:
        chain: tuple[str, ...] = ()
    elif isinstance(delegation, list) and all(isinstance(a, str) and a for a in delegation):
        chain = tuple(delegation)
    else:
        raise ActionError("`delegation` must be a list of agent ids", field="delegation")
    cost = get("cost")
    return CAR(new_action_id(now), agent_id or "", tool, raw_tool, args, caller, now,
               session_id or DEFAULT_SESSION, principal,
               None if cost is None else _cost(cost), request_id, purpose, model, http,
               chain)


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ActionError(f"`{key}` must be an object", field=key)
    if value:
        _check_depth(value, key)
    return value


def _string(request: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = request.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ActionError(f"`{key}` must be a non-empty string", field=key)
    limit = 1024 if key == "purpose" else MAX_STRING * 4 if key == "model" else MAX_STRING
    if len(value) > limit or not value.isprintable():
        raise ActionError(f"`{key}` is longer than {limit} characters or holds a control "
                          f"character", field=key)
    return value


def _cost(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ActionError("`cost` must be a number of US dollars", field="cost")
    try:
        cost = Decimal(str(value).removeprefix("$"))
    except InvalidOperation:
        raise ActionError("`cost` must be a number of US dollars", field="cost") from None
    if not cost.is_finite() or cost < 0:
        raise ActionError("`cost` must be a finite number, zero or more", field="cost")
    return cost


def _check_depth(value: Mapping[str, Any], key: str) -> None:
    """Refuse a value with anything nested deeper than MAX_DEPTH levels (the mapping itself
    is level 1). Only containers are walked: a flat mapping is one pass over its values."""
    stack: list[tuple[Mapping[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in (node.values() if isinstance(node, Mapping) else node):
            if depth >= MAX_DEPTH:  # the child sits one level deeper than allowed
                raise ActionError(f"`{key}` nests deeper than {MAX_DEPTH} levels", field=key)
            if isinstance(child, Mapping | list):
                stack.append((child, depth + 1))
