"""The text layer: `dump_yaml`/`dump_json` write the data form, `load_ir_yaml` and
`load_ir_json` read it, recording where each value was written so errors are located."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from faramesh.fpl.diagnostics import DiagnosticSink
from faramesh.fpl.ir_codec.reader import data_to_ir
from faramesh.fpl.ir_codec.records import MAX_DEPTH, MAX_NODES, Mark, Path
from faramesh.fpl.ir_codec.values import _describe, _Invalid, _Map, _shown
from faramesh.fpl.ir_codec.writer import ir_to_data
from faramesh.policy import ir


class _Dumper(yaml.SafeDumper):
    """`safe_dump`, except that text holding a YAML line break character (NEL, U+2028,
    U+2029) is double-quoted: PyYAML writes them raw elsewhere and reads back a space."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style)


_Dumper.add_representer(str, _represent_text)


def dump_yaml(policy: ir.PolicyIR) -> str:
    return yaml.dump(ir_to_data(policy), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=1 << 30)


def dump_json(policy: ir.PolicyIR) -> str:
    return json.dumps(ir_to_data(policy), indent=2, ensure_ascii=False) + "\n"



def load_ir_yaml(text: str, file: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    """The IR in a `governance.fms.yaml` text, or None when errors were recorded."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        _text_error(sink, at, "yaml-syntax",
                    f"invalid yaml: {exc.problem or exc.context or 'cannot read this'}",
                    "check the indentation and quoting here and on the line before")
        return None
    except yaml.YAMLError as exc:  # the reader: a character YAML does not allow
        pos = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
        _text_error(sink, (text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)),
                    "yaml-syntax", "invalid yaml: a character yaml does not allow",
                    "remove control characters from the file")
        return None
    except RecursionError:
        _text_error(sink, (1, 1), "too-deep", "the policy is nested too deeply")
        return None
    if root is None:
        _text_error(sink, (1, 1), "empty", "the policy is empty",
                    "start with `agents:` and a list of agents")
        return None
    nodes = _Nodes(text)
    try:
        data = nodes.value(root, (), 0)
    except _TooBig as exc:
        _text_error(sink, exc.at, exc.code, str(exc),
                    "anchors that refer to themselves or multiply the document are refused")
        return None
    return data_to_ir(data, file, sink, nodes.marks)


def load_ir_json(text: str, file: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    """The IR in a `governance.fms.json` text, or None when errors were recorded."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_json_int,
                          parse_constant=_json_constant, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        _text_error(sink, (exc.lineno, exc.colno), "json-syntax",
                    f"invalid json: {exc.msg[:1].lower()}{exc.msg[1:]}",
                    "check the commas, quotes and brackets here")
        return None
    except RecursionError:
        _text_error(sink, (1, 1), "too-deep", "the policy is nested too deeply")
        return None
    return data_to_ir(data, file, sink, _json_marks(text))


def _text_error(sink: DiagnosticSink, at: Mark, code: str, message: str,
                hint: str | None = None) -> None:
    sink.error(sink.span(at[0], max(at[1], 1)), code, message, hint)


def _json_int(text: str) -> object:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        return _Invalid("a number with too many digits", "bad-number")


def _json_constant(text: str) -> object:
    return _Invalid(f"`{text}`", "bad-number")


def _json_object(pairs: list[tuple[str, Any]]) -> _Map:
    out = _Map()
    for key, value in pairs:
        if key in out:
            out.duplicates.append((key, None))
        else:
            out[key] = value
    return out


def _json_marks(text: str) -> dict[Path, Mark]:
    """Where each value of a JSON text starts, read with the YAML composer (JSON's syntax
    is YAML's flow syntax); best effort: whatever was found before it could not go on."""
    nodes = _Nodes(text)
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if root is not None:
            nodes.value(root, (), 0)
    except (yaml.YAMLError, RecursionError, _TooBig):
        pass
    return nodes.marks


class _TooBig(Exception):
    def __init__(self, at: Mark, code: str, message: str) -> None:
        super().__init__(message)
        self.at, self.code = at, code


_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_SCALAR_KINDS = {"tag:yaml.org,2002:timestamp": "a date", "tag:yaml.org,2002:binary":
                 "binary data"}


class _Nodes:
    """YAML nodes -> plain data, recording where each value and key was written."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.marks: dict[Path, Mark] = {}
        self.budget = MAX_NODES
        self.constructor = SafeConstructor()

    def start(self, node: Node) -> Mark:
        """Where a node's text begins; for a string, its first character."""
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        style = node.style if isinstance(node, ScalarNode) else None
        if style in ('"', "'"):
            column += 1
        elif style in ("|", ">"):
            line += 1
            src = self.lines[line - 1] if line - 1 < len(self.lines) else ""
            column = len(src) - len(src.lstrip(" ")) + 1
        return line, column

    def value(self, node: Node, path: Path, depth: int) -> object:
        self.budget -= 1
        mark = self.start(node)
        if self.budget < 0:
            raise _TooBig(mark, "too-large", "the policy document is too large")
        if depth > MAX_DEPTH:
            raise _TooBig(mark, "too-deep", "the policy is nested too deeply")
        self.marks[path] = mark
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if node.tag not in (_SEQ, _MAP):
            return _Invalid(f"a value tagged `{_shown(node.tag)}`")
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        out = _Map()
        for key_node, value_node in node.value if isinstance(node, MappingNode) else ():
            key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else \
                _Invalid("a list or mapping")
            try:
                known = key in out
            except TypeError:  # an unhashable key
                key, known = _Invalid(_describe(key)), False
            if known:
                out.duplicates.append((key, self.start(key_node)))
                continue
            self.marks[(*path, key, None)] = self.start(key_node)
            out[key] = self.value(value_node, (*path, key), depth + 1)
        return out

    def scalar(self, node: ScalarNode) -> object:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            return _Invalid(f"`{_shown(str(node.value))}`, which cannot be read")
        if value is None or isinstance(value, str | bool | int | float):
            return value
        return _Invalid(_SCALAR_KINDS.get(node.tag, "an unsupported value"))
