"""Structured outputs: the constraint a request carries, vLLM's checks on it, and the text
that satisfies it.

A constraint comes from `response_format` (`json_schema`, `json_object`) or from
`structured_outputs` (`json`, `regex`, `choice`, `grammar`, `json_object`); the removed
`guided_*` fields are ignored, as by vLLM 0.32. Checks happen where vLLM makes them: the
request model's validators and field types before anything is sent (`check_request`,
`StructuredOutputs`), the backend's compilation inside the engine (`engine_error`, an error
event when streaming). `satisfying_text` writes the reply: a valid instance of the schema,
a string the regex matches, the choice the user mentions (else the first), a sentence of
the grammar.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vllm_chat.simserver import grammar, regexgen, schemagen
from vllm_chat.simserver.errors import (
    SimError,
    bad_request,
    plain_bad_request,
    validation_errors,
)

_RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
_TAG_ERRORS = (
    ("literal_error", ("type",), "Input should be 'structural_tag'", {"expected": "'structural_tag'"}),
    ("missing", ("format",), "Field required", None),
    ("literal_error", ("type",), "Input should be 'structural_tag'", {"expected": "'structural_tag'"}),
    ("missing", ("structures",), "Field required", None),
    ("missing", ("triggers",), "Field required", None),
)


class StructuredOutputs(BaseModel):
    """vLLM's `StructuredOutputsParams` as a request field: same names, types and defaults."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    json_schema: str | dict[str, Any] | None = Field(None, alias="json")
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None


@dataclass(frozen=True)
class Constraint:
    """What the reply must match."""

    kind: str
    """`json`, `json_object`, `regex`, `choice` or `grammar`."""
    spec: Any
    """The schema, pattern, choices or grammar text."""


def check_request(body: dict[str, Any]) -> None:
    """The request model's own validators about constraints, in vLLM's order (they run on the
    raw body, after the tool checks and before field types): one kind of json/regex/choice,
    no constraint with a named tool, a `json_schema` response format that has one."""
    so = body.get("structured_outputs")
    if isinstance(so, dict):
        count = sum(so.get(key) is not None for key in ("json", "regex", "choice"))
        if count > 1:
            raise plain_bad_request(
                "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice')."
            )
        tool_choice = body.get("tool_choice", "none") if "tool_choice" in body or not body.get("tools") else "auto"
        if count > 0 and tool_choice not in ("none", "auto", "required"):
            raise plain_bad_request("You can only either use constraints for structured outputs or tools, not both.")


def check_response_format(body: dict[str, Any]) -> None:
    """`validate_response_format` (raw body) and then the field's union type, as vLLM reports it."""
    rf = body.get("response_format")
    if rf is None:
        return
    if isinstance(rf, dict) and rf.get("type") == "json_schema" and rf.get("json_schema") is None:
        raise bad_request(
            "When response_format type is 'json_schema', the 'json_schema' field must be provided.", "response_format"
        )


def response_format_errors(rf: Any) -> None:
    """Pydantic's errors for a `response_format` no member of vLLM's union accepts."""
    if rf is None:
        return
    if not isinstance(rf, dict):
        raise validation_errors([{"type": "dict_type", "loc": ("response_format",),
                                  "msg": "Input should be a valid dictionary", "input": rf}])
    kind = rf.get("type")
    first: dict[str, Any] | None = None
    if kind not in (*_RESPONSE_FORMAT_TYPES, "structural_tag"):
        first = {"type": "literal_error", "loc": ("response_format", "type"),
                 "msg": "Input should be 'text', 'json_object' or 'json_schema'", "input": kind,
                 "ctx": {"expected": "'text', 'json_object' or 'json_schema'"}}
    elif kind == "json_schema" and isinstance(rf.get("json_schema"), dict) and "name" not in rf["json_schema"]:
        first = {"type": "missing", "loc": ("response_format", "json_schema", "name"), "msg": "Field required",
                 "input": rf["json_schema"]}
    elif kind == "structural_tag":
        raise bad_request("Invalid response_format structural_tag specification.", "response_format")
    if first is None:
        return
    errors = [first]
    for err_type, loc, msg, ctx in _TAG_ERRORS:
        error = {"type": err_type, "loc": ("response_format", *loc), "msg": msg,
                 "input": kind if err_type == "literal_error" else rf}
        if ctx:
            error["ctx"] = ctx
        errors.append(error)
    raise validation_errors(errors)


def from_fields(structured: StructuredOutputs | None, response_format: dict[str, Any] | None) -> Constraint | None:
    """The constraint of a typed request, or vLLM's 400 when the parameters name none or
    several: `structured_outputs` must name one kind itself (its dataclass checks so on
    construction), and a JSON `response_format` then replaces that kind's value."""
    if structured is not None:
        _one_kind(structured)
    if response_format is not None and response_format.get("type") in ("json_object", "json_schema"):
        params = structured.model_copy() if structured is not None else StructuredOutputs()
        if response_format["type"] == "json_object":
            params.json_object = True
        else:
            params.json_schema = response_format["json_schema"].get("schema")
        structured = params
    if structured is None:
        return None
    kind = _one_kind(structured)
    return Constraint(kind, structured.model_dump(by_alias=True)[kind])


def _one_kind(structured: StructuredOutputs) -> str:
    """The one constraint kind set, or `StructuredOutputsParams.__post_init__`'s 400."""
    values = structured.model_dump(by_alias=True)
    kinds = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")
    present = [k for k in kinds if values[k] is not None]
    if len(present) == 1:
        return present[0]
    shown = {**values, "_backend": None, "_backend_was_auto": False}
    order = ("json", "regex", "choice", "grammar", "json_object", "disable_any_whitespace",
             "disable_additional_properties", "whitespace_pattern", "structural_tag", "_backend",
             "_backend_was_auto")
    listed = "{" + ", ".join(f"{k!r}: {shown[k]!r}" for k in order) + "}"
    if present:
        raise plain_bad_request(
            f"You can only use one kind of structured outputs constraint but multiple are specified: {listed}"
        )
    raise plain_bad_request(f"You must use one kind of structured outputs constraint but none are specified: {listed}")


def engine_error(constraint: Constraint | None) -> SimError | None:
    """What the structured-output backend refuses (an error event when streaming, else a 400)."""
    if constraint is None:
        return None
    kind, spec = constraint.kind, constraint.spec
    try:
        if kind == "json_object" and spec is not True:
            raise ValueError(
                "structured_outputs.json_object must be True if set; "
                "omit structured_outputs to disable structured outputs"
            )
        if kind == "choice" and not spec:
            raise ValueError(f"Choice '{spec}' cannot be an empty list")
        if kind == "grammar" and spec == "":
            raise ValueError("structured_outputs.grammar cannot be an empty string")
        if kind == "structural_tag":
            raise ValueError("Invalid response_format structural_tag specification.")
        satisfying_text(constraint, "", 0)
    except (ValueError, regexgen.RegexError, grammar.GrammarError, schemagen.SchemaError) as exc:
        if isinstance(exc, regexgen.RegexError):
            return plain_bad_request(exc.message(spec))
        return plain_bad_request(str(exc))
    return None


def satisfying_text(constraint: Constraint, hint: str, variant: int) -> str:
    """The reply text: deterministic for one request, matching the constraint."""
    kind, spec = constraint.kind, constraint.spec
    if kind == "regex":
        return regexgen.generate(spec, variant)
    if kind == "choice":
        lowered = hint.lower()
        mentioned = sorted((lowered.find(c.lower()), i) for i, c in enumerate(spec) if c and c.lower() in lowered)
        return spec[mentioned[0][1]] if mentioned else spec[variant % len(spec)]
    if kind == "grammar":
        return grammar.generate(spec)
    if kind == "json":
        schema = spec
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                raise ValueError("Invalid JSON grammar specification.") from None
        return json.dumps(schemagen.instance(schema, hint), ensure_ascii=False)
    return json.dumps({"answer": schemagen.instance({}, hint)["answer"]}, ensure_ascii=False)
