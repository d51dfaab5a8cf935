"""The generation part of the settings form without the drawing: texts in, controls out.

The settings panel shows the mode (chat or completion), the constraint (a kind
and one line of text: a schema file or inline JSON, a regex, `a, b, c`, a
grammar file) and the reasoning controls. This module turns what was typed
into a `GenerationChoice`, or into one message per field saying what is wrong,
so a bad value is caught while it is typed. A constraint whose text was not
touched is kept as it is (its file is not read again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vllm_chat.core.conversation import Conversation, ConversationKind
from vllm_chat.core.generation import constraint_input as make
from vllm_chat.core.generation.constraint import Constraint, ConstraintKind
from vllm_chat.core.generation.reasoning import (
    ReasoningControls,
    TemplateKwargsError,
    format_template_kwargs,
    parse_template_kwargs,
)


@dataclass(frozen=True)
class KindOption:
    """One entry of the constraint kind list."""

    label: str
    """What the list shows."""
    kind: ConstraintKind | None
    """The kind (None: no constraint)."""
    placeholder: str
    """What the empty value box says to type."""


CONSTRAINT_OPTIONS: tuple[KindOption, ...] = (
    KindOption("none", None, "free text"),
    KindOption("JSON schema", "json_schema", "a schema file, or the schema as JSON"),
    KindOption("JSON object", "json_object", "any JSON object: nothing to type"),
    KindOption("regex", "regex", "a pattern the whole reply matches"),
    KindOption("choice", "choice", "the replies allowed: yes, no, maybe"),
    KindOption("grammar", "grammar", "an EBNF grammar file"),
)
"""The constraint kinds the form offers, in order."""

OPTION_BY_KIND = {o.kind: o for o in CONSTRAINT_OPTIONS}


@dataclass(frozen=True)
class GenerationChoice:
    """What the generation part of the settings panel hands back."""

    kind: ConversationKind
    """`chat` or `completion`."""
    constraint: Constraint | None
    """The constraint (None: free text)."""
    reasoning: ReasoningControls
    """The reasoning controls."""


@dataclass(frozen=True)
class GenerationCheck:
    """The outcome of checking the generation fields."""

    choice: GenerationChoice | None
    """The values when every field is valid, else None."""
    errors: dict[str, str] = field(default_factory=dict)
    """`constraint`, `thinking_token_budget` or `chat_template_kwargs` → the message to show."""


def constraint_text(constraint: Constraint | None) -> str:
    """What the value box shows for `constraint` (parses back to the same constraint)."""
    if constraint is None:
        return ""
    match constraint.kind:
        case "json_schema":
            return constraint.source or json.dumps(constraint.json_schema, ensure_ascii=False)
        case "regex":
            return constraint.regex or ""
        case "choice":
            return ", ".join(constraint.choices or [])
        case "grammar":
            return constraint.source or ""
    return ""


def parse_constraint(kind: ConstraintKind | None, text: str, *, current: Constraint | None,
                     base: Path | None = None) -> Constraint | None:
    """The constraint of kind `kind` typed as `text` (raises `ConstraintError`). The current
    constraint is kept when neither its kind nor its text changed."""
    if kind is None:
        return None
    if current is not None and current.kind == kind and text == constraint_text(current):
        return current
    match kind:
        case "json_schema":
            return make.schema_constraint(text, base=base)
        case "json_object":
            return make.json_object_constraint()
        case "regex":
            return make.regex_constraint(text)
        case "choice":
            return make.choice_constraint(text)
    return make.grammar_constraint(text, base=base)


def parse_budget(text: str) -> int | None:
    """`thinking_token_budget` typed as `text` (blank: unset; raises ValueError with the message)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"thinking_token_budget must be a whole number, got {text!r}.") from None
    if value < 0:
        raise ValueError(f"thinking_token_budget must be 0 or more, got {value}.")
    return value


def check_generation(
    *,
    mode: ConversationKind,
    constraint_kind: ConstraintKind | None,
    constraint_value: str,
    reasoning_effort: str | None,
    budget: str,
    include_reasoning: bool | None,
    template_kwargs: str,
    current: Conversation,
    base: Path | None = None,
) -> GenerationCheck:
    """Check the generation fields at once (`current`: the conversation being edited)."""
    errors: dict[str, str] = {}
    constraint = None
    try:
        constraint = parse_constraint(constraint_kind, constraint_value, current=current.constraint, base=base)
    except make.ConstraintError as exc:
        errors["constraint"] = str(exc)
    budget_value = None
    try:
        budget_value = parse_budget(budget)
    except ValueError as exc:
        errors["thinking_token_budget"] = str(exc)
    kwargs: dict[str, Any] = {}
    try:
        kwargs = parse_template_kwargs(template_kwargs)
    except TemplateKwargsError as exc:
        errors["chat_template_kwargs"] = str(exc)
    if errors:
        return GenerationCheck(None, errors)
    try:
        reasoning = ReasoningControls(reasoning_effort=reasoning_effort, thinking_token_budget=budget_value,
                                      include_reasoning=include_reasoning, chat_template_kwargs=kwargs)
    except ValidationError as exc:
        return GenerationCheck(None, {"reasoning_effort": exc.errors()[0]["msg"].removeprefix("Value error, ")})
    return GenerationCheck(GenerationChoice(mode, constraint, reasoning))


def kwargs_text(controls: ReasoningControls) -> str:
    """What the chat_template_kwargs box shows."""
    return format_template_kwargs(controls.chat_template_kwargs)
