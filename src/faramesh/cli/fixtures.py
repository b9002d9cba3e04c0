"""Policy test fixtures: the YAML format `faramesh test` reads (docs/policy-testing.md).

A fixture is read with the positions of its YAML nodes, so a malformed fixture is
reported at its file:line:column like a policy error; then each case is evaluated and
compared with what it expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from faramesh.cli.edge import EXIT_FAILED, CliError
from faramesh.fpl.diagnostics import Diagnostic, Span
from faramesh.policy.context import parse_time
from faramesh.policy.decision import Code, Decision, Effect
from faramesh.policy.evaluator import Policy

ACTION_KEYS = ("agent", "tool", "args", "principal", "session", "time", "model")
MAPPING_KEYS = frozenset({"args", "principal", "session"})
CASE_KEYS = ("name", *ACTION_KEYS, "expect")
EXPECT_KEYS = ("effect", "code", "rule", "reason_code")
TOP_KEYS = ("policy", "defaults", "cases")
EFFECTS = tuple(e.value for e in Effect)
CODES = frozenset(c.value for c in Code)

Where = tuple[str | int, ...]


class FixtureError(CliError):
    """A fixture that cannot be run; carries one located diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__("FIXTURE_INVALID", f"fixture `{diagnostic.span.file}` is malformed",
                         status=EXIT_FAILED, diagnostics=(diagnostic,))


@dataclass(frozen=True)
class Expect:
    effect: str | None = None
    code: str | None = None
    rule: str | None = None  # a rule_ref (`file:12`), a bare line (`12`) or a rule id
    reason_code: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    action: dict[str, Any]
    expect: Expect


@dataclass(frozen=True)
class Fixture:
    path: Path
    cases: tuple[Case, ...]
    policy: Path | None = None  # the fixture's `policy:`, resolved against its directory


@dataclass(frozen=True)
class Mismatch:
    field: str
    expected: str
    actual: str


@dataclass(frozen=True)
class CaseResult:
    case: Case
    decision: Decision
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def line(self) -> str:
        """`PASS name`, or `FAIL name: expected effect DENY, got PERMIT (rule file:12)`."""
        if self.ok:
            return f"PASS {self.case.name}"
        what = "; ".join(f"expected {m.field} {m.expected}, got {m.actual}"
                         for m in self.mismatches)
        return f"FAIL {self.case.name}: {what} (rule {self.decision.rule_ref or 'none'})"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.case.name, "line": self.case.line, "ok": self.ok,
                "failures": [{"field": m.field, "expected": m.expected, "actual": m.actual}
                             for m in self.mismatches],
                "decision": self.decision.to_dict()}


# --- reading ---------------------------------------------------------------------------


class _Reader:
    """Turns the constructed YAML data into cases, locating errors by its composed nodes."""

    def __init__(self, path: Path, text: str, root: yaml.Node | None) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.root = root

    def error_at(self, line: int, column: int, message: str, hint: str | None = None,
                 length: int = 1) -> FixtureError:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return FixtureError(Diagnostic(Span(str(self.path), line, column, length),
                                       "fixture-invalid", message, hint, source.expandtabs(1)))

    def error(self, where: Where, message: str, hint: str | None = None, *,
              key: bool = False) -> FixtureError:
        node = self._node(where, key)
        if node is None:
            return self.error_at(1, 1, message, hint)
        start, end = node.start_mark, node.end_mark
        length = end.column - start.column if end.line == start.line else 1
        return self.error_at(start.line + 1, start.column + 1, message, hint, max(length, 1))

    def _node(self, where: Where, key: bool) -> yaml.Node | None:
        node = self.root
        for depth, step in enumerate(where):
            last = depth == len(where) - 1
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                        child = key_node if key and last else value_node
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and \
                    0 <= step < len(node.value):
                child = node.value[step]
            if child is None:
                return node
            node = child
        return node

    def fixture(self, data: object) -> Fixture:
        if isinstance(data, list):
            return Fixture(self.path, self._cases(data, (), {}))
        if not isinstance(data, dict):
            raise self.error((), "a fixture is a list of cases, or a mapping with `cases`")
        for key in data:
            if key not in TOP_KEYS:
                raise self.error((key,), f"unknown key `{key}`", _allowed(TOP_KEYS), key=True)
        if "cases" not in data:
            raise self.error((), "a fixture needs a `cases` list")
        policy = data.get("policy")
        if policy is not None and not isinstance(policy, str):
            raise self.error(("policy",), "`policy` must be a path")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise self.error(("defaults",), "`defaults` must be a mapping")
        for key in defaults:
            if key not in ACTION_KEYS:
                raise self.error(("defaults", key), f"unknown key `{key}` in `defaults`",
                                 _allowed(ACTION_KEYS), key=True)
        cases = data["cases"]
        if not isinstance(cases, list):
            raise self.error(("cases",), "`cases` must be a list")
        return Fixture(self.path, self._cases(cases, ("cases",), defaults),
                       self.path.parent / policy if policy else None)

    def _cases(self, raw: list[Any], base: Where, defaults: dict[str, Any]) -> tuple[Case, ...]:
        if not raw:
            raise self.error(base, "the fixture has no cases")
        return tuple(self._case(item, (*base, i), defaults, i) for i, item in enumerate(raw))

    def _case(self, raw: object, where: Where, defaults: dict[str, Any], index: int) -> Case:
        if not isinstance(raw, dict):
            raise self.error(where, "a case is a mapping with `tool` and `expect`")
        for key in raw:
            if key not in CASE_KEYS:
                raise self.error((*where, key), f"unknown key `{key}` in a case",
                                 _allowed(CASE_KEYS), key=True)
        name = raw.get("name", f"case {index + 1}")
        if not isinstance(name, str | int | float) or isinstance(name, bool):
            raise self.error((*where, "name"), "`name` must be text")
        merged = {**defaults, **raw}
        action: dict[str, Any] = {}
        for key in ACTION_KEYS:
            value = merged.get(key)
            at = (*where, key) if key in raw else ("defaults", key)
            if value is None:
                if key == "tool":
                    raise self.error(where, "a case needs a `tool`")
                continue
            self._check_action_value(key, value, at)
            action[key] = value
        if "expect" not in raw:
            raise self.error(where, "a case needs an `expect` mapping",
                             "for example `expect: {effect: DENY}`")
        line = self._line(where)
        return Case(str(name), line, action, self._expect(raw["expect"], (*where, "expect")))

    def _check_action_value(self, key: str, value: object, at: Where) -> None:
        if key in MAPPING_KEYS:
            if not isinstance(value, dict):
                raise self.error(at, f"`{key}` must be a mapping")
        elif key == "time":
            if parse_time(value) is None:
                raise self.error(at, "`time` must be an ISO-8601 time",
                                 "for example `2025-06-02T10:30:00Z`")
        elif not isinstance(value, str) or not value:
            raise self.error(at, f"`{key}` must be non-empty text")

    def _expect(self, raw: object, where: Where) -> Expect:
        if not isinstance(raw, dict):
            raise self.error(where, "`expect` must be a mapping",
                             "for example `expect: {effect: DENY}`")
        for key in raw:
            if key not in EXPECT_KEYS:
                raise self.error((*where, key), f"unknown key `{key}` in `expect`",
                                 _allowed(EXPECT_KEYS), key=True)
        if not any(raw.get(k) is not None for k in EXPECT_KEYS):
            raise self.error(where, "`expect` names nothing to check", _allowed(EXPECT_KEYS))
        effect = raw.get("effect")
        if effect is not None and (not isinstance(effect, str) or effect.upper() not in EFFECTS):
            raise self.error((*where, "effect"), f"`effect` must be one of {', '.join(EFFECTS)}")
        code = raw.get("code")
        if code is not None and (not isinstance(code, str) or code not in CODES):
            raise self.error((*where, "code"), f"unknown decision code `{code}`",
                             "codes are listed in docs/decision-codes.md")
        rule = raw.get("rule")
        if rule is not None and (isinstance(rule, bool) or not isinstance(rule, str | int)):
            raise self.error((*where, "rule"), "`rule` must be a rule_ref (`file:12`), a line "
                             "number or a rule id")
        reason_code = raw.get("reason_code")
        if reason_code is not None and not isinstance(reason_code, str):
            raise self.error((*where, "reason_code"), "`reason_code` must be text")
        return Expect(effect.upper() if effect else None, code,
                      str(rule) if rule is not None else None, reason_code)

    def _line(self, where: Where) -> int:
        node = self._node(where, False)
        return node.start_mark.line + 1 if node is not None else 0


def _allowed(keys: tuple[str, ...]) -> str:
    return "allowed keys: " + ", ".join(f"`{k}`" for k in keys)


def load_fixture(path: Path) -> Fixture:
    """Read and validate a fixture file; raise FixtureError (located) or CliError."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise CliError("FIXTURE_UNREADABLE", f"cannot read `{path}`: {exc.strerror or exc}",
                       status=EXIT_FAILED) from None
    except UnicodeDecodeError as exc:
        raise _Reader(path, "", None).error_at(
            1, 1, f"fixture is not UTF-8 text (byte {exc.start})") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reader = _Reader(path, text, None)
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            raise reader.error_at(1, 1, f"not valid YAML: {problem}") from None
        raise reader.error_at(mark.line + 1, mark.column + 1,
                              f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise _Reader(path, text, None).error_at(1, 1, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return _Reader(path, text, root).fixture(data)


# --- running ---------------------------------------------------------------------------


def rule_matches(expected: str, decision: Decision) -> bool:
    """`expected` names the deciding rule: its rule_ref, the line of it, a path suffix of it
    (`governance.fms:12` for `/abs/governance.fms:12`), or the rule's id."""
    ref = decision.rule_ref
    if ref is not None:
        file, _, line = ref.rpartition(":")
        if expected in (ref, line):
            return True
        want_file, _, want_line = expected.rpartition(":")
        if want_file and want_line == line:
            want = Path(want_file).parts
            if Path(file).parts[-len(want):] == want:
                return True
    return decision.rule_id is not None and expected == decision.rule_id


def run_case(policy: Policy, case: Case) -> CaseResult:
    decision = policy.evaluate(case.action)
    expect = case.expect
    found: list[Mismatch] = []
    if expect.effect is not None and decision.effect.value != expect.effect:
        found.append(Mismatch("effect", expect.effect, decision.effect.value))
    if expect.code is not None and decision.code.value != expect.code:
        found.append(Mismatch("code", expect.code, decision.code.value))
    if expect.rule is not None and not rule_matches(expect.rule, decision):
        found.append(Mismatch("rule", expect.rule,
                              decision.rule_ref or decision.rule_id or "none"))
    if expect.reason_code is not None and decision.reason_code != expect.reason_code:
        found.append(Mismatch("reason_code", expect.reason_code,
                              decision.reason_code or "none"))
    return CaseResult(case, decision, tuple(found))


def run_fixture(policy: Policy, fixture: Fixture) -> list[CaseResult]:
    return [run_case(policy, case) for case in fixture.cases]
