"""`faramesh convert`: FPL <-> YAML <-> JSON, and a converted policy decides the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from faramesh.fpl.loader import load_policy
from tests.unit.cli.clirun import EXAMPLES, Run

ACTIONS: list[dict[str, Any]] = [
    {"agent": "support-bot", "tool": "stripe/refund", "args": {"amount": 40, "currency": "USD"}},
    {"agent": "support-bot", "tool": "stripe/refund", "args": {"amount": 450}},
    {"agent": "support-bot", "tool": "stripe/refund", "args": {"amount": 9000}},
    {"agent": "support-bot", "tool": "customers/delete"},
    {"agent": "support-bot", "tool": "email/send", "args": {"to_domain": "gmail.com"}},
    {"agent": "deploy-bot", "tool": "deploy/apply", "args": {"env": "production"},
     "time": "2025-06-02T23:00:00Z"},
    {"agent": "deploy-bot", "tool": "shell/exec", "args": {"cmd": "rm -rf /"}},
    {"agent": "deploy-bot", "tool": "github/repos/create", "principal": {"team": "platform"}},
    {"agent": "nobody", "tool": "tickets/read"},
]


def outcomes(path: Path) -> list[tuple[str, str]]:
    policy = load_policy(path)
    return [(d.effect.value, d.code.value) for d in map(policy.evaluate, ACTIONS)]


def test_fpl_to_yaml_to_fpl_makes_the_same_decisions(cli: Run, tmp_path: Path) -> None:
    as_yaml = tmp_path / "governance.fms.yaml"
    back = tmp_path / "back.fms"
    assert cli("convert", str(EXAMPLES), "--to", "yaml", "-o", str(as_yaml)).status == 0
    assert cli("convert", str(as_yaml), "--to", "fpl", "-o", str(back)).status == 0
    expected = outcomes(EXAMPLES / "governance.fms")
    assert outcomes(as_yaml) == expected
    assert outcomes(back) == expected


def test_fpl_to_json_makes_the_same_decisions(cli: Run, tmp_path: Path) -> None:
    as_json = tmp_path / "governance.fms.json"
    assert cli("convert", str(EXAMPLES), "--to", "json", "-o", str(as_json)).status == 0
    json.loads(as_json.read_text(encoding="utf-8"))
    assert outcomes(as_json) == outcomes(EXAMPLES / "governance.fms")


def test_stdout_is_used_without_output_flag(cli: Run) -> None:
    result = cli("convert", str(EXAMPLES), "--to", "json")
    assert result.status == 0
    assert isinstance(result.json(), dict)


def test_converted_fpl_is_already_formatted(cli: Run, tmp_path: Path) -> None:
    back = tmp_path / "back.fms"
    assert cli("convert", str(EXAMPLES), "--to", "fpl", "-o", str(back)).status == 0
    assert cli("fmt", "--check", str(back)).status == 0


def test_output_suffix_that_contradicts_the_form_is_a_usage_error(cli: Run,
                                                                  tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    result = cli("convert", str(EXAMPLES), "--to", "json", "-o", str(target))
    assert result.status == 2
    assert "error[USAGE_ERROR]" in result.err
    assert not target.exists()


@pytest.mark.parametrize("form", ["toml", ""])
def test_unknown_form_is_a_usage_error(cli: Run, form: str) -> None:
    assert cli("convert", str(EXAMPLES), "--to", form).status == 2


def test_policy_that_does_not_compile_exits_one(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.fms"
    path.write_text('agent "a" {\n  rules {\n    bogus y\n  }\n}\n', encoding="utf-8")
    result = cli("convert", str(path), "--to", "yaml")
    assert result.status == 1
    assert result.out == ""
