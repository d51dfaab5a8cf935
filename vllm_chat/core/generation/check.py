"""Whether a reply matches the constraint its request carried, checked when it arrives.

Four outcomes, kept with the message (`Message.check`):

- `valid`: it matches (`valid against person`);
- `invalid`: it does not, and it was not cut short: the server generated it
  without the constraint, so the check says the server ignored it and why
  that usually happens;
- `cut`: it ended at `max_tokens` or was stopped before it could be complete
  (constrained output can be unfinished JSON, capture round2/01): that is not
  "does not match", and regenerating with a higher `max_tokens` fixes it;
- `unchecked`: there is no local check for it (a grammar).

Schemas are checked with `jsonschema` (the first error is `best_match`'s);
a regex must match the whole reply, a choice be one of the choices. Reasoning
parsers leave the newlines that followed `</think>` at the start of the
answer, so surrounding blank space is forgiven.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel

from vllm_chat.core.generation.constraint import Constraint, ConstraintKind

CheckOutcome = Literal["valid", "invalid", "cut", "unchecked"]
"""How a reply fared against its constraint (see the module docstring)."""

IGNORED_CAUSES = (
    "Likely causes: a vLLM older than 0.12 (it reads guided_* fields instead of structured_outputs "
    "and response_format json_schema), a proxy that drops fields it does not know, or a "
    "structured-output backend (--structured-outputs-config) that skipped this constraint."
)
"""Why a server generates a reply that ignores the constraint it was sent."""

_DETAIL_CHARS = 160


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


class ReplyCheck(BaseModel):
    """The outcome of checking one reply, saved with it so a reloaded conversation shows the
    same badge."""

    outcome: CheckOutcome
    """`valid`, `invalid`, `cut` or `unchecked`."""
    kind: ConstraintKind
    """The kind of constraint the request carried."""
    constraint: str
    """The constraint's label (`person`, `regex [A-Z]{3}`)."""
    detail: str = ""
    """For `invalid`: the first error; for `cut` and `unchecked`: why it was not checked."""

    @property
    def badge(self) -> str:
        """The reply's badge: `valid against person`, `does not match: ...`."""
        match self.outcome:
            case "valid":
                return f"valid against {self.constraint}"
            case "invalid":
                return f"does not match: {self.detail}"
            case "cut":
                return f"not checked against {self.constraint}: {self.detail}"
        return f"not checked: {self.detail}"

    @property
    def server_ignored(self) -> str | None:
        """For a reply that does not match: that the server ignored the constraint, and why it
        usually does (None for every other outcome)."""
        if self.outcome != "invalid":
            return None
        return f"The request carried the constraint ({self.constraint}), so the server ignored it. {IGNORED_CAUSES}"


def _json_path(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _json_problem(text: str, constraint: Constraint) -> str | None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if constraint.kind == "json_object":
        return None if isinstance(doc, dict) else f"a JSON {type(doc).__name__}, not an object"
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    schema = constraint.json_schema or {}
    validator = validator_for(schema)(schema)
    error = best_match(validator.iter_errors(doc))
    if error is None:
        return None
    return f"{_json_path(error.absolute_path)}: {error.message}"


def problem(constraint: Constraint, text: str) -> str | None:
    """Why `text` does not match `constraint` (None: it matches). Not defined for grammars."""
    if constraint.is_json:
        return _json_problem(text, constraint)
    stripped = text.strip()
    if constraint.kind == "regex":
        pattern = re.compile(constraint.regex or "")
        if pattern.fullmatch(text) or pattern.fullmatch(stripped):
            return None
        return f"{_shorten(stripped)!r} is not matched by the regex {constraint.regex}"
    choices = constraint.choices or []
    if text in choices or stripped in choices:
        return None
    return f"{_shorten(stripped)!r} is not one of {', '.join(choices)}"


def check_reply(constraint: Constraint, text: str, *, finish_reason: str | None,
                stopped: bool = False) -> ReplyCheck:
    """Check the reply `text` that ended with `finish_reason` (`stopped`: the user stopped it)."""
    def outcome(result: CheckOutcome, detail: str = "") -> ReplyCheck:
        return ReplyCheck(outcome=result, kind=constraint.kind, constraint=constraint.label, detail=detail)

    if constraint.kind == "grammar":
        return outcome("unchecked", "grammars are not checked here")
    found = problem(constraint, text)
    if found is None:
        return outcome("valid")
    if stopped:
        return outcome("cut", "stopped before it was complete")
    if finish_reason == "length":
        return outcome("cut", "cut at max_tokens before it was complete")
    if not text.strip():
        found = "the reply is empty"
    return outcome("invalid", _shorten(found))


def pretty_json(text: str) -> str | None:
    """`text` re-indented when it is JSON (None when it is not): how a JSON reply is shown."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return json.dumps(doc, indent=2, ensure_ascii=False)
