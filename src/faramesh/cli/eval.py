"""`faramesh eval`: decide one action against a policy and print the decision as one JSON
object on stdout (`Decision.to_dict()`).

Exit 0 whatever the effect (the effect is data, not a failure); 1 when the policy does
not compile; 2 when a flag is not what it must be (JSON that is not an object, a time
that is not ISO-8601). Errors go to stderr as one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from faramesh.cli.edge import EXIT_OK, CliError
from faramesh.cli.output import print_json
from faramesh.fpl.loader import load_policy_ir
from faramesh.policy.context import parse_time
from faramesh.policy.evaluator import Policy

JSON_FLAGS = ("args", "principal", "session")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, metavar="PATH",
                        help="policy file, or a directory meaning its stack file")
    parser.add_argument("--agent", required=True, metavar="ID", help="the calling agent's id")
    parser.add_argument("--tool", required=True, metavar="TOOL", help="the tool called")
    parser.add_argument("--args", metavar="JSON", help="tool arguments, a JSON object")
    parser.add_argument("--principal", metavar="JSON",
                        help="the principal behind the call, a JSON object")
    parser.add_argument("--session", metavar="JSON", help="session state, a JSON object")
    parser.add_argument("--time", metavar="ISO",
                        help="the time of the call, ISO-8601 (default: now)")
    parser.add_argument("--model", metavar="NAME", help="the model driving the agent")
    parser.set_defaults(format="json")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not a JSON number")


def json_object(flag: str, text: str) -> dict[str, Any]:
    """The JSON object given to `--flag`; raise a structured usage error otherwise."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise CliError("INVALID_JSON", f"--{flag} is not valid JSON: {exc.msg} "
                       f"(line {exc.lineno}, column {exc.colno})",
                       hint=f"""for example --{flag} '{{"amount": 20}}'""") from None
    except ValueError as exc:
        raise CliError("INVALID_JSON", f"--{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError("INVALID_ARGUMENT", f"--{flag} must be a JSON object",
                       hint=f"""for example --{flag} '{{"amount": 20}}'""")
    return value


def action_of(args: argparse.Namespace) -> dict[str, Any]:
    """The action to decide, from the flags; every flag is checked before any work."""
    action: dict[str, Any] = {"agent": args.agent, "tool": args.tool}
    for flag in JSON_FLAGS:
        text = getattr(args, flag)
        if text is not None:
            action[flag] = json_object(flag, text)
    if args.time is not None:
        if parse_time(args.time) is None:
            raise CliError("INVALID_ARGUMENT", f"--time `{args.time}` is not an ISO-8601 time",
                           hint="for example --time 2025-06-02T10:30:00Z")
        action["time"] = args.time
    if args.model is not None:
        action["model"] = args.model
    return action


def run(args: argparse.Namespace) -> int:
    action = action_of(args)
    policy = Policy(load_policy_ir(Path(args.policy)))
    print_json(policy.evaluate(action).to_dict())
    return EXIT_OK
