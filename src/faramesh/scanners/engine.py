"""Walk a JSON value, run the scanners a plan selects, and report hits with their paths.

The common case is a call with nothing to find, so that path is short: gather the
strings (and integers, where card numbers hide), join them with NUL bytes and run one
RE2 search for the union of every selected detector. Only when it matches do we walk
again, string by string and detector by detector, to say which detector fired where.

Work is bounded: at most `MAX_SCAN_CHARS` characters are scanned per value, and the
walk stops after `MAX_HITS` hits. What is left is not scanned: each scanner of the plan
reports one `scan_truncated` hit for the whole value (path: the root), so a deny scanner
fails closed and a redact scanner masks the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import re2

from faramesh.policy.regex import compile_regex, compile_search
from faramesh.scanners import injection, pii, prompt_injection, secrets
from faramesh.scanners.detector import Action, Detector, Finding, mask

MAX_SCAN_CHARS = 1 << 20  # 1 MiB of characters per call's arguments or per tool output
TRUNCATED = "scan_truncated"
MAX_MATCHES = 256  # candidate matches examined per string and detector
MAX_HITS = 1024  # hits per value; past it, the rest of the value is reported unscanned
_BATCH_CHARS = 1 << 15  # leaves searched together before they are searched one by one
# An integer can only be a card number (13+ digits): shorter ones are not worth a string.
_SHORT_INT = 10**12

_SET_OPTIONS = re2.Options()
_SET_OPTIONS.log_errors = False

SCANNERS: dict[str, tuple[Detector, ...]] = {
    secrets.SCANNER: secrets.DETECTORS,
    pii.SCANNER: pii.DETECTORS,
    injection.SCANNER: injection.DETECTORS,
    prompt_injection.SCANNER: prompt_injection.DETECTORS,
}

Path = tuple[object, ...]  # the root, then mapping keys and list indexes


@dataclass(frozen=True, slots=True)
class Active:
    """One scanner as it applies to one tool: its action and its scope."""

    scanner: str
    action: Action
    fields: tuple[tuple[str, ...], ...] = ()  # path prefixes (`*` = any segment); () = all
    allow: Callable[[str], bool] | None = None  # exempt values
    rule_ref: str | None = None  # the `scan` block that set this, None for a default

    def covers(self, path: Path) -> bool:
        return not self.fields or any(_prefix(f, path) for f in self.fields)


@dataclass(frozen=True, slots=True)
class Plan:
    """The scanners that run for one tool in one place, and their compiled searches."""

    active: tuple[Active, ...]
    prefilter: Callable[[str], bool]  # does any selected detector match?
    which: Callable[[str], frozenset[str]]  # which detectors match (may be empty on error)


def make_plan(active: tuple[Active, ...]) -> Plan:
    scanners = tuple(sorted({a.scanner for a in active}))
    return Plan(active, _union(scanners), _set(scanners))


@dataclass(frozen=True, slots=True)
class Hit:
    finding: Finding
    segments: Path  # from the root, e.g. ("args", "card", "number")
    span: tuple[int, int] | None  # characters of the string; None: the whole value
    rule_ref: str | None


def _prefix(field: tuple[str, ...], path: Path) -> bool:
    if len(field) > len(path):
        return False
    return all(f in ("*", str(p)) for f, p in zip(field, path, strict=False))


@lru_cache(maxsize=64)
def _union(scanners: tuple[str, ...]) -> Callable[[str], bool]:
    if not scanners:
        return lambda _text: False
    # Without groups the binding asks RE2 for the match span only, which its DFA finds
    # alone; a group (even with never_capture) makes it run the slower NFA over the match.
    patterns = [d.pattern.replace("(?P<v>", "(?:") for s in scanners for d in SCANNERS[s]]
    return compile_search("|".join(f"(?:{p})" for p in patterns))


@lru_cache(maxsize=64)
def _set(scanners: tuple[str, ...]) -> Callable[[str], frozenset[str]]:
    """One RE2 pass naming every detector that matches somewhere in a text."""
    detectors = [d for s in scanners for d in SCANNERS[s]]
    regex_set = re2.Set.SearchSet(_SET_OPTIONS)
    for detector in detectors:
        regex_set.Add(detector.pattern)
    regex_set.Compile()

    def which(text: str) -> frozenset[str]:
        # The stubs say `bool | None`; the binding returns the indexes or None.
        indexes = cast("list[int] | None", regex_set.Match(text)) or ()
        return frozenset(detectors[i].detector_id for i in indexes)
    return which


def path_text(segments: Path) -> str:
    return ".".join(str(s) for s in segments)


def scan(plan: Plan, root: str, value: object) -> list[Hit]:
    """Every hit of the plan's scanners in `value`; [] fast when there is none."""
    if not plan.active:
        return []
    texts, total = _strings(value)
    if not texts or (total <= MAX_SCAN_CHARS and not plan.prefilter("\x00".join(texts))):
        return []
    return _scan_each(plan, root, value)


def _strings(value: object) -> tuple[list[str], int]:
    """The strings (and long integers) in `value`, any order, and their total length.

    The hot path of every call: concrete types are checked before the Mapping ABC,
    whose isinstance check is the slow one.
    """
    texts: list[str] = []
    total = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            texts.append(node)
            total += len(node)
            if total > MAX_SCAN_CHARS:
                break  # the slow path will scan up to the cap and report the rest
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, int):
            if not isinstance(node, bool) and not -_SHORT_INT < node < _SHORT_INT:
                texts.append(str(node))
        elif isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, tuple):
            stack.extend(node)
    return texts, total


def _leaves(root: str, value: object) -> Iterator[tuple[Path, str]]:
    """(path, text) of every string and long integer, in document order, lazily (the
    walk stops where the scan stops, however large the value)."""
    stack: list[Iterator[tuple[Path, object]]] = [iter((((root,), value),))]
    while stack:
        for path, node in stack[-1]:
            if isinstance(node, str):
                yield path, node
            elif isinstance(node, Mapping | list | tuple):
                stack.append(_children(path, node))
                break
            elif isinstance(node, int) and not isinstance(node, bool) and \
                    not -_SHORT_INT < node < _SHORT_INT:
                yield path, str(node)
        else:
            stack.pop()


def _children(path: Path, node: Mapping[object, object] | list[object] | tuple[object, ...]
              ) -> Iterator[tuple[Path, object]]:
    pairs = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, child in pairs:
        yield (*path, key), child


def _scan_each(plan: Plan, root: str, value: object) -> list[Hit]:
    """Leaves are searched in batches of `_BATCH_CHARS` (one search for a clean batch),
    and one by one in a batch that matches."""
    hits: list[Hit] = []
    budget = MAX_SCAN_CHARS
    batch: list[tuple[Path, str, list[Active]]] = []
    size = 0
    for path, text in _leaves(root, value):
        scoped = [a for a in plan.active if a.covers(path)]
        if not scoped:
            continue
        scanned = _encodable(text[:budget])
        budget -= len(scanned)
        batch.append((path, scanned, scoped))
        size += len(scanned)
        cut = len(scanned) < len(text)
        if size >= _BATCH_CHARS or cut:
            if not _scan_batch(plan, batch, hits) or cut:
                return hits + _truncated(plan, root)
            batch, size = [], 0
    if not _scan_batch(plan, batch, hits):
        hits.extend(_truncated(plan, root))
    return hits


def _scan_batch(plan: Plan, batch: list[tuple[Path, str, list[Active]]],
                hits: list[Hit]) -> bool:
    """Add the batch's hits; False when `MAX_HITS` stopped it before its end."""
    if not batch or not plan.prefilter("\x00".join(text for _, text, _ in batch)):
        return True
    for path, text, scoped in batch:
        if len(hits) >= MAX_HITS:
            return False
        if text and plan.prefilter(text):
            # The set names the detectors to run; if it names none (its DFA ran out of
            # memory), every detector runs, since the prefilter did match.
            named = plan.which(text)
            for active in scoped:
                hits.extend(_detect(active, path, text, named))
    return True


def _truncated(plan: Plan, root: str) -> list[Hit]:
    """The rest of the value is not scanned: one hit per scanner for all of it."""
    return [Hit(Finding(a.scanner, TRUNCATED, root, "", a.action), (root,), None, a.rule_ref)
            for a in plan.active]


def _encodable(text: str) -> str:
    """The text with lone surrogates (legal in JSON, not in UTF-8) as `?`: same offsets."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _detect(active: Active, path: Path, text: str, named: frozenset[str]) -> list[Hit]:
    hits: list[Hit] = []
    for detector in SCANNERS[active.scanner]:
        if detector.detector_id in named or (
                not named and compile_search(detector.pattern)(text)):
            hits.extend(_matches(active, detector, path, text))
    return hits


def _matches(active: Active, detector: Detector, path: Path, text: str) -> list[Hit]:
    """The detector's hits in one string. Past `MAX_MATCHES` candidates the whole string
    is one hit (span None): the cost stays bounded and nothing is left unredacted."""
    hits: list[Hit] = []
    program = compile_regex(detector.pattern)
    group = program.groupindex.get("v")
    for n, match in enumerate(program.finditer(text)):
        if n == MAX_MATCHES:
            finding = Finding(active.scanner, detector.detector_id, path_text(path),
                              mask(text, 0), active.action)
            return [Hit(finding, path, None, active.rule_ref)]
        start, end = match.span()
        if start == end:
            continue
        matched = text[start:end]
        secret = matched if group is None else (match.group(group) or "")
        shown = detector.reveal if group is None else match.start(group) - start
        if detector.check is not None and not detector.check(secret):
            continue
        if active.allow is not None and (active.allow(matched) or active.allow(secret)
                                         or active.allow(text)):
            continue
        finding = Finding(active.scanner, detector.detector_id, path_text(path),
                          mask(matched, shown), active.action)
        hits.append(Hit(finding, path, (start, end), active.rule_ref))
    return hits
