"""A structured-output constraint, as saved with a conversation and as vLLM 0.32 wants it sent.

Schemas go in `response_format` (`json_schema`, with a name), any JSON object
in `response_format` too (`json_object`); a regex, a choice list and a grammar
go in `structured_outputs` (`regex`, `choice`, `grammar`). The `guided_*`
fields of older vLLM releases are never sent: since 0.12 vLLM accepts and
ignores them with a 200 (capture round2/05), so a reply would come back
unconstrained without a word.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

ConstraintKind = Literal["json_schema", "json_object", "regex", "choice", "grammar"]
"""What a constraint holds: a JSON schema, any JSON object, a regex, a choice list, a grammar."""

KIND_FIELD: dict[str, str | None] = {
    "json_schema": "json_schema",
    "json_object": None,
    "regex": "regex",
    "choice": "choices",
    "grammar": "grammar",
}
"""The field that carries each kind's value (`json_object` needs none)."""

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_SHOWN = 40


def schema_name(text: str) -> str:
    """`text` as a `json_schema.name`: letters, digits, `_` and `-`, at most 64 characters
    (OpenAI's rule; vLLM takes any string, but a name that works everywhere is kept)."""
    name = _NAME_CHARS.sub("_", text.strip()).strip("_")[:64]
    return name or "schema"


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


class Constraint(BaseModel):
    """What every reply must match, for as long as it is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ConstraintKind
    """`json_schema`, `json_object`, `regex`, `choice` or `grammar`."""
    name: str = ""
    """The schema's name, sent as `json_schema.name` and shown in the badge; for other kinds
    a short label (the grammar's file name)."""
    json_schema: dict[str, Any] | None = None
    """The JSON schema (kind `json_schema`)."""
    regex: str | None = None
    """The pattern the whole reply must match (kind `regex`)."""
    choices: list[str] | None = None
    """The replies allowed, exactly (kind `choice`)."""
    grammar: str | None = None
    """An EBNF / GBNF / Lark grammar, as vLLM's structured-output backend reads it (kind `grammar`)."""
    source: str | None = None
    """The file the schema or grammar was read from (shown; the content is what is sent)."""

    @model_validator(mode="after")
    def _one_value(self) -> Constraint:
        needed = KIND_FIELD[self.kind]
        for kind_name, field in KIND_FIELD.items():
            if field is None:
                continue
            value = getattr(self, field)
            if field == needed and value is None:
                raise ValueError(f"a {self.kind} constraint needs {field}")
            if field != needed and value is not None:
                raise ValueError(f"a {self.kind} constraint has no {field} (that is for {kind_name})")
        return self

    @property
    def label(self) -> str:
        """What the constraint is, in a few words (`person`, `regex [A-Z]{3}`, `choice red|blue`)."""
        match self.kind:
            case "json_schema":
                return self.name or "schema"
            case "json_object":
                return "any JSON object"
            case "regex":
                return f"regex {_short(self.regex or '')}"
            case "choice":
                return f"choice {_short('|'.join(self.choices or []))}"
        return f"grammar {self.name}" if self.name else "grammar"

    @property
    def tag(self) -> str:
        """The shortest form, for a status line (`json: person`, `regex`, `choice`)."""
        if self.kind == "json_schema":
            return f"json: {_short(self.name or 'schema')}"
        return {"json_object": "json", "regex": "regex", "choice": "choice", "grammar": "grammar"}[self.kind]

    @property
    def is_json(self) -> bool:
        """Whether replies are JSON (shown pretty-printed when they parse)."""
        return self.kind in ("json_schema", "json_object")

    def body_fields(self) -> dict[str, Any]:
        """The request body fields that carry this constraint (the same for chat and completions)."""
        match self.kind:
            case "json_schema":
                return {"response_format": {"type": "json_schema", "json_schema": {
                    "name": schema_name(self.name), "schema": self.json_schema, "strict": True}}}
            case "json_object":
                return {"response_format": {"type": "json_object"}}
            case "regex":
                return {"structured_outputs": {"regex": self.regex}}
            case "choice":
                return {"structured_outputs": {"choice": list(self.choices or [])}}
        return {"structured_outputs": {"grammar": self.grammar}}
