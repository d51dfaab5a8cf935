"""Command-line flags for vLLM's generation controls: a structured-output constraint, the
reasoning controls, completion mode.

They set the settings of the run (new conversations start with them, in the
TUI and in one-shot mode) and, like `-m`, the conversation `-c` / `--resume`
continues. A constraint flag reads its file or JSON here, so a missing file or
a broken schema is said before anything starts (exit status 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

CONSTRAINT_FLAGS = ("json_schema", "json_object", "regex", "choice", "grammar")
"""The argparse destinations of the constraint flags (at most one may be given)."""


class FlagError(Exception):
    """A flag's value can't be used; the message says why (exit status 2)."""


def add_generation_flags(parser: argparse.ArgumentParser) -> None:
    """The structured-output, reasoning and completion-mode flags."""
    from vllm_chat.core.generation.reasoning import REASONING_EFFORTS

    out = parser.add_argument_group(
        "structured outputs", "every reply must match (one-shot: an invalid reply exits 3)")
    one = out.add_mutually_exclusive_group()
    one.add_argument("--json-schema", metavar="FILE-or-JSON",
                     help="a JSON schema: a file, or the schema itself as JSON")
    one.add_argument("--json-object", action="store_true", help="any JSON object")
    one.add_argument("--regex", metavar="RE", help="a regular expression the whole reply matches")
    one.add_argument("--choice", metavar="A,B,C", help="one of these replies, exactly")
    one.add_argument("--grammar", metavar="FILE", help="an EBNF grammar file")
    reasoning = parser.add_argument_group("reasoning")
    reasoning.add_argument("--reasoning-effort", metavar="EFFORT",
                           help=f"reasoning_effort: {', '.join(REASONING_EFFORTS)}")
    reasoning.add_argument("--thinking-budget", type=int, metavar="N",
                           help="thinking_token_budget: most reasoning tokens")
    reasoning.add_argument("--include-reasoning", dest="include_reasoning", action="store_true", default=None,
                           help="include_reasoning = true")
    reasoning.add_argument("--no-include-reasoning", dest="include_reasoning", action="store_false",
                           help="include_reasoning = false: the server leaves the reasoning out")
    reasoning.add_argument("--template-kwargs", metavar="JSON-or-K=V",
                           help="chat_template_kwargs, as a JSON object or key=value,key=value")
    parser.add_argument_group("base models").add_argument(
        "--completion", action="store_true", default=None,
        help="completion mode: the conversation is a document the model continues (/v1/completions)")


def generation_overrides(args: argparse.Namespace, *, base: Path | None = None) -> dict[str, Any]:
    """The settings these flags set, shaped like the config file (raises `FlagError`)."""
    from vllm_chat.core.generation.reasoning import (
        TemplateKwargsError,
        parse_template_kwargs,
    )

    out: dict[str, Any] = {}
    constraint = constraint_from_flags(args, base=base)
    if constraint is not None:
        out["constraint"] = constraint.model_dump(exclude_none=True)
    reasoning: dict[str, Any] = {}
    if args.reasoning_effort is not None:
        reasoning["reasoning_effort"] = args.reasoning_effort
    if args.thinking_budget is not None:
        if args.thinking_budget < 0:
            raise FlagError(f"--thinking-budget must be 0 or more, got {args.thinking_budget}.")
        reasoning["thinking_token_budget"] = args.thinking_budget
    if args.include_reasoning is not None:
        reasoning["include_reasoning"] = args.include_reasoning
    if args.template_kwargs is not None:
        try:
            reasoning["chat_template_kwargs"] = parse_template_kwargs(args.template_kwargs)
        except TemplateKwargsError as exc:
            raise FlagError(f"--template-kwargs: {exc}") from None
    if reasoning:
        out["reasoning"] = reasoning
    if args.completion:
        out["completion"] = True
    return out


def constraint_from_flags(args: argparse.Namespace, *, base: Path | None = None) -> Any:
    """The `Constraint` the flags ask for (None when none does; raises `FlagError`)."""
    from vllm_chat.core.generation import constraint_input as make

    try:
        if args.json_schema is not None:
            return make.schema_constraint(args.json_schema, base=base)
        if args.json_object:
            return make.json_object_constraint()
        if args.regex is not None:
            return make.regex_constraint(args.regex)
        if args.choice is not None:
            return make.choice_constraint(args.choice)
        if args.grammar is not None:
            return make.grammar_constraint(args.grammar, base=base)
    except make.ConstraintError as exc:
        raise FlagError(str(exc)) from None
    return None


def apply_to_conversation(args: argparse.Namespace, settings: Any, conversation: Any) -> None:
    """Give a continued conversation what the flags set (as `-m` gives it its model)."""
    if conversation is None:
        return
    if any(getattr(args, flag) not in (None, False) for flag in CONSTRAINT_FLAGS):
        conversation.constraint = settings.constraint
    given = {name for name, flag in (("reasoning_effort", "reasoning_effort"),
                                     ("thinking_token_budget", "thinking_budget"),
                                     ("include_reasoning", "include_reasoning"),
                                     ("chat_template_kwargs", "template_kwargs"))
             if getattr(args, flag) is not None}
    if given:
        conversation.reasoning_controls = conversation.reasoning_controls.model_copy(
            update={name: getattr(settings.reasoning, name) for name in given})
    if args.completion:
        conversation.kind = "completion"
