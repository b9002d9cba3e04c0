"""`load_policy`: read a policy from a path or text, in any of its forms, and compile it.

Forms: FPL text (`governance.fms`, `*.fpl`), the IR's YAML/JSON encodings
(`governance.fms.yaml`/`.json`) and the Faramesh runtime's legacy policy YAML (recognised
by its `faramesh-version`/`agent-id` keys). A directory means its stack file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from faramesh.errors import PolicyError, PolicyLoadError
from faramesh.fpl.checks import check_mandatory_denies
from faramesh.fpl.compiler import parse_policy_text
from faramesh.fpl.diagnostics import Diagnostic, DiagnosticSink, Span
from faramesh.fpl.lower import Lowerer
from faramesh.policy import ir
from faramesh.policy.evaluator import Policy

POLICY_EXTENSIONS = (".fms", ".fpl", ".yaml", ".yml", ".json")
STACK_FILES = ("governance.fms", "governance.fms.yaml", "governance.fms.yml",
               "governance.fms.json", "policy.fpl", "policy.yaml")
MAX_POLICY_BYTES = 16 * 1024 * 1024
_YAML_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:(\s|$)")


def load_policy(path_or_text: object, env: Mapping[str, str] | None = None) -> Policy:
    return Policy(load_policy_ir(path_or_text, env))


def load_policy_ir(path_or_text: object, env: Mapping[str, str] | None = None, *,
                   root: Path | None = None) -> ir.PolicyIR:
    """The checked IR of a policy given as a path or as text; raise PolicyError. With
    `root`, files under it are named relative to it in rule refs and diagnostics."""
    if isinstance(path_or_text, os.PathLike) or _looks_like_path(path_or_text):
        return _load_path(Path(str(path_or_text)), env, (), root)
    if isinstance(path_or_text, bytes):
        path_or_text = _decode(path_or_text, "<policy>")
    if not isinstance(path_or_text, str):
        raise PolicyLoadError("a policy is a path or policy text")
    return compile_text(path_or_text, "<policy>", detect_form(path_or_text), env)


def load_stack(stack: Path, env: Mapping[str, str] | None = None) -> ir.PolicyIR:
    """A stack (its directory or its file) as the daemon loads it: files named relative to
    the stack directory, so rule refs read `governance.fms:12` and the policy's version
    hash does not depend on where the stack lives."""
    return load_policy_ir(stack, env, root=stack if stack.is_dir() else stack.parent)


def _label(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:  # outside the root: its full name
            pass
    return str(path)


def _looks_like_path(value: object) -> bool:
    if not isinstance(value, str) or "\n" in value or "{" in value or len(value) > 4096:
        return False
    return value.endswith(POLICY_EXTENSIONS) or os.path.exists(value)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicyError([_whole_file_error(name, "not-utf8",
                                             f"policy is not UTF-8 text (byte {exc.start})")]
                          ) from None


def _whole_file_error(name: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(Span(name, 1, 1), code, message)


def resolve_stack_path(path: Path) -> Path:
    if path.is_dir():
        for name in STACK_FILES:
            if (path / name).is_file():
                return path / name
        raise PolicyLoadError(f"no policy file in {path} (looked for {', '.join(STACK_FILES)})")
    return path


def _load_path(path: Path, env: Mapping[str, str] | None,
               stack: tuple[Path, ...], root: Path | None = None) -> ir.PolicyIR:
    path = resolve_stack_path(path)
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyLoadError(f"{path} is larger than {MAX_POLICY_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    label = _label(path, root)
    text = _decode(data, label)
    policy = compile_text(text, label, form_of(path, text), env)
    if policy.imports:
        policy = _merge_imports(policy, path, env, (*stack, path.resolve()), root)
    return policy


def form_of(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    if suffix in (".fms", ".fpl"):
        return "fpl"
    return detect_form(text)


def detect_form(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") and stripped.rstrip().endswith("}") and \
            stripped[1:].lstrip().startswith('"'):
        return "json"
    for line in stripped.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return "yaml" if _YAML_KEY.match(line) or line.startswith("- ") else "fpl"
    return "fpl"


def compile_text(text: str, file: str, form: str,
                 env: Mapping[str, str] | None = None) -> ir.PolicyIR:
    if "\x00" in text:
        raise PolicyError([_whole_file_error(file, "nul-byte", "policy text holds a NUL byte")])
    sink = DiagnosticSink(file, text)
    policy: ir.PolicyIR | None
    try:
        if form == "fpl":
            tree, sink = parse_policy_text(text, file)
            policy = Lowerer(file, sink, env).lower_file(tree)
        elif form in ("yaml", "json"):
            policy = _compile_data(text, file, form, sink)
        else:  # pragma: no cover - forms come from form_of/detect_form
            raise ValueError(form)
    except RecursionError:  # belt and braces: every parser also bounds its own depth
        raise PolicyError([_whole_file_error(file, "too-deep",
                                             "policy is nested too deeply")]) from None
    if policy is not None:
        check_mandatory_denies(policy, sink)
        if any(b.kind == "scan" for a in policy.agents for b in a.blocks):
            from faramesh.scanners.config import check_scan_blocks  # only when used

            sink.items.extend(check_scan_blocks(policy))
    if sink.items or policy is None:
        raise PolicyError(sink.items)
    return policy


def _compile_data(text: str, file: str, form: str, sink: DiagnosticSink) -> ir.PolicyIR | None:
    from faramesh.fpl import ir_codec, legacy_yaml

    if form == "json":
        return ir_codec.load_ir_json(text, file, sink)
    import yaml

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                sink.error(sink.span(line, column), "yaml-alias",
                           "YAML aliases are not accepted in policies",
                           "write the value out; aliases can expand a small file into a "
                           "huge policy")
                return None
    except yaml.YAMLError:
        pass  # the codecs below report the located syntax error
    try:
        data = yaml.safe_load(text)
    except Exception:  # the codecs below report the located YAML error
        data = None
    if legacy_yaml.looks_like_legacy_yaml(data):
        return legacy_yaml.lower_legacy_yaml(text, file, sink)
    return ir_codec.load_ir_yaml(text, file, sink)


def _merge_imports(policy: ir.PolicyIR, path: Path, env: Mapping[str, str] | None,
                   stack: tuple[Path, ...], root: Path | None) -> ir.PolicyIR:
    """Local imports are compiled and merged: their agents and blocks join this policy."""
    agents = list(policy.agents)
    blocks = list(policy.blocks)
    ids = {a.agent_id: a for a in agents}
    errors: list[Diagnostic] = []
    for imp in policy.imports:
        target = (path.parent / imp.source).resolve()
        span = Span(imp.origin.file, imp.origin.line, max(imp.origin.column, 1))
        if target in stack:
            errors.append(_diag(span, "import-cycle", f"import `{imp.source}` forms a cycle"))
            continue
        try:
            imported = _load_path(target, env, stack, root)
        except PolicyLoadError as exc:
            errors.append(_diag(span, "import-unreadable", str(exc)))
            continue
        for agent in imported.agents:
            if agent.agent_id in ids:
                errors.append(_diag(span, "duplicate-agent",
                                    f"agent `{agent.agent_id}` from `{imp.source}` is "
                                    "already declared"))
                continue
            ids[agent.agent_id] = agent
            agents.append(agent)
        blocks.extend(imported.blocks)
    if errors:
        raise PolicyError(errors)
    return ir.PolicyIR(tuple(agents), tuple(blocks), policy.imports, policy.source)


def _diag(span: Span, code: str, message: str) -> Diagnostic:
    return Diagnostic(span, code, message)
