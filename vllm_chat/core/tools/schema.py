"""A small JSON-schema checker for the schemas we write ourselves.

Only built-in and shell tools go through it (Python tools are checked by
pydantic), and their schemas use a known subset: `type`, `enum`,
`properties`, `required`, `additionalProperties`, `items`, `minimum`,
`maximum`, `minLength`, `maxLength`. Unknown keywords are ignored. Writing this
subset by hand keeps a dependency out and lets every message name the field
and what was expected, in words a model can act on.
"""

from __future__ import annotations

import json
from typing import Any

_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def json_type(value: Any) -> str:
    """The JSON type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def show(value: Any, limit: int = 60) -> str:
    """A value as short JSON text for a message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _has_type(value: Any, expected: str) -> bool:
    actual = json_type(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        # JSON does not tell 3 from 3.0, and JSON schema counts both as integers.
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == expected


def _where(path: str) -> str:
    return f"'{path}'" if path else "the arguments"


def schema_problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Every way `value` breaks `schema`, one sentence each (empty: it fits)."""
    expected = schema.get("type")
    if expected is not None:
        types: list[str] = expected if isinstance(expected, list) else [expected]
        if not any(_has_type(value, t) for t in types):
            wanted = " or ".join(_ARTICLE.get(t, t) for t in types)
            return [f"{_where(path)} must be {wanted}, got {_ARTICLE[json_type(value)]} ({show(value)})"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(show(c) for c in schema["enum"])
        problems.append(f"{_where(path)} must be one of {choices}; got {show(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{_where(path)} must be at least {schema['minimum']}, got {show(value)}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{_where(path)} must be at most {schema['maximum']}, got {show(value)}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{_where(path)} must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{_where(path)} must have at most {schema['maxLength']} characters")
    if isinstance(value, dict):
        problems.extend(_object_problems(value, schema, path))
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems.extend(schema_problems(item, schema["items"], f"{path}[{i}]"))
    return problems


def _object_problems(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    properties: dict[str, Any] = schema.get("properties", {})
    prefix = f"{path}." if path else ""
    for name in schema.get("required", []):
        if name not in value:
            problems.append(f"missing required property '{prefix}{name}'")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            problems.extend(schema_problems(item, properties[name], prefix + name))
        elif extra is False:
            allowed = ", ".join(properties) or "none"
            problems.append(f"unknown property '{prefix}{name}' (allowed: {allowed})")
        elif isinstance(extra, dict):
            problems.extend(schema_problems(item, extra, prefix + name))
    return problems


def required_properties(schema: dict[str, Any]) -> list[str]:
    """The names an arguments object must contain."""
    return list(schema.get("required", []))
