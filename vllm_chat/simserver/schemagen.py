"""JSON schemas for structured outputs: a valid, plausible instance of a schema, or the error
vLLM 0.32 (llguidance) gives for a schema it cannot compile.

The instance honours `type` (and type lists), `enum`, `const`, `$ref` into `$defs` /
`definitions`, `anyOf` / `oneOf` (the first branch that is not null), `allOf` (merged),
string `minLength` / `maxLength` / `pattern` / `format`, number bounds and `multipleOf`,
array `items` / `prefixItems` / `minItems` / `maxItems`, and object `properties` /
`required`, writing every property it knows of and nothing else. Values look like what a
model would write: a property called `name` gets a name, `city` a city, `email` an address.
"""

from __future__ import annotations

import math
import re
from typing import Any

from vllm_chat.simserver import regexgen

_TYPES = ("string", "integer", "number", "boolean", "null", "object", "array")
_FORMATS = {
    "date-time": "2026-12-06T09:30:00Z",
    "date": "2026-12-06",
    "time": "09:30:00Z",
    "duration": "PT1H30M",
    "email": "ada@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "3f2c8a1e-7b4d-4e6f-9a0b-1c2d3e4f5a6b",
    "uri": "https://example.com/",
}
_UNSUPPORTED = ("uniqueItems", "contains", "dependentSchemas", "if", "unevaluatedProperties")
_BY_NAME = (
    (r"^(first_?)?name$|^full_?name$|^author$|^person$", "Ada Lovelace"),
    (r"city|town", "Paris"),
    (r"country", "France"),
    (r"email|mail", "ada@example.com"),
    (r"url|link|website|homepage", "https://example.com/"),
    (r"title|headline|subject", "A short title"),
    (r"summary|description|answer|reason|explanation|text|content|message", "A simulated answer."),
    (r"lang", "en"),
    (r"color|colour", "blue"),
    (r"date|day", "2026-12-06"),
    (r"phone", "+33 1 23 45 67 89"),
    (r"id$|_id$|^id", "item-1"),
)


class SchemaError(ValueError):
    """A schema vLLM refuses; the message is vLLM's full error text."""


def instance(schema: Any, hint: str = "") -> Any:
    """A valid instance of `schema` (True / {} accept anything: an object is written)."""
    if schema is True or schema == {}:
        return {"answer": _sentence(hint)}
    if not isinstance(schema, dict):
        raise SchemaError("Invalid JSON grammar specification.")
    return _value(schema, schema, "", hint, 0)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    if not ref.startswith("#"):
        raise SchemaError(f"Grammar error: Unsupported $ref: {ref}")
    target: Any = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            raise SchemaError(f"Grammar error: Pointer '{ref[1:]}' does not exist")
        target = target[part]
    merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return _resolve(merged, root) if "$ref" in target else merged


def _value(schema: Any, root: dict[str, Any], name: str, hint: str, depth: int) -> Any:
    if schema is True or not isinstance(schema, dict):
        return _sentence(hint)
    schema = _resolve(schema, root)
    bad = [key for key in _UNSUPPORTED if key in schema]
    if bad:
        raise SchemaError("Grammar error: Unimplemented keys: [" + ", ".join(f'"{k}"' for k in bad) + "]")
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _mentioned(schema["enum"], hint)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            pick = next((o for o in options if not (isinstance(o, dict) and o.get("type") == "null")), options[0])
            return _value(pick, root, name, hint, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part, root) if isinstance(part, dict) else {}
            for key, val in part.items():
                if key in ("properties", "$defs") and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **val}
                elif key == "required" and isinstance(merged.get("required"), list):
                    merged["required"] = [*merged["required"], *val]
                else:
                    merged.setdefault(key, val)
        return _value(merged, root, name, hint, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, hint, depth)
    if kind == "array":
        return _array(schema, root, name, hint, depth)
    if kind == "string":
        return _string(schema, name, hint)
    if kind in ("integer", "number"):
        return _number(schema, name, kind, hint)
    if kind == "boolean":
        return True
    return None


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        for item in kind:
            if item not in _TYPES:
                raise SchemaError(f"Grammar error: Invalid type: {item}")
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"
    if kind not in _TYPES:
        raise SchemaError(f"Grammar error: Invalid type: {kind}")
    return kind


def _object(schema: dict[str, Any], root: dict[str, Any], hint: str, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    result: dict[str, Any] = {}
    for key, prop in properties.items():
        # Deep optional structure is left out so recursive schemas end.
        if depth < 4 or key in required:
            result[key] = _value(prop, root, key, hint, depth + 1)
    extra = schema.get("additionalProperties")
    for key in required:
        if key not in result:
            result[key] = _value(extra if isinstance(extra, dict) else {}, root, key, hint, depth + 1)
    minimum = schema.get("minProperties")
    if isinstance(minimum, int) and extra is not False:
        filler = extra if isinstance(extra, dict) else {}
        while len(result) < minimum:
            result[f"key{len(result) + 1}"] = _value(filler, root, "", hint, depth + 1)
    return result


def _array(schema: dict[str, Any], root: dict[str, Any], name: str, hint: str, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
    items = schema.get("items")
    low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
    high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
    count = max(low, len(prefix), 1 if items is not False and depth < 4 else 0)
    if high is not None:
        count = min(count, high)
    singular = name.removesuffix("s")
    out = []
    for i in range(count):
        item_schema = prefix[i] if i < len(prefix) else (items if isinstance(items, dict) else {})
        out.append(_value(item_schema, root, singular, hint, depth + 1))
    return out


def _string(schema: dict[str, Any], name: str, hint: str) -> str:
    low = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
    high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
    fmt = schema.get("format")
    if isinstance(fmt, str):
        if fmt not in _FORMATS:
            raise SchemaError(f"Grammar error: Unknown format: {fmt}")
        return _FORMATS[fmt]
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            return regexgen.generate(pattern)
        except regexgen.RegexError as exc:
            raise SchemaError(exc.message(pattern)) from None
    text = _by_name(name) or (_sentence(hint) if not name else name.replace("_", " ").capitalize())
    if high is not None:
        text = text[:high]
    while len(text) < low:
        text += "x"
    return text


def _number(schema: dict[str, Any], name: str, kind: str, hint: str) -> int | float:
    found = re.search(r"-?\d+(?:\.\d+)?", hint)
    value: float = float(found.group()) if found else (3 if re.search(r"count|num|limit|max|top|size", name) else 42)
    if re.search(r"age", name) and not found:
        value = 36
    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1 if kind == "integer" else 0.5
    if isinstance(lo, (int, float)):
        value = max(value, lo)
    if isinstance(xlo, (int, float)) and value <= xlo:
        value = xlo + step
    if isinstance(hi, (int, float)):
        value = min(value, hi)
    if isinstance(xhi, (int, float)) and value >= xhi:
        value = xhi - step
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
    return math.floor(value) if kind == "integer" else float(value)


def _by_name(name: str) -> str | None:
    key = name.lower()
    for pattern, value in _BY_NAME:
        if re.search(pattern, key):
            return value
    return None


def _mentioned(options: list[Any], hint: str) -> Any:
    """The option the user's message mentions first, else the first option."""
    lowered = hint.lower()
    spots = [(lowered.find(str(o).lower()), i) for i, o in enumerate(options) if str(o) and str(o).lower() in lowered]
    return options[min(spots)[1]] if spots else options[0]


def _sentence(hint: str) -> str:
    return "A simulated answer." if not hint.strip() else f"A simulated answer to: {' '.join(hint.split())[:60]}"
