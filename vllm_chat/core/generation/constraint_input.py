"""A `Constraint` from what a user typed: a schema file or inline JSON, a regex, `A,B,C`,
a grammar file. Each refusal says what is wrong and what to give instead, before
anything is sent (the server would refuse the same things less clearly, or not at all).

A schema may be given three ways: the JSON schema itself, OpenAI's
`json_schema` object (`{"name", "schema", "strict"}`), or a whole
`response_format` (`{"type": "json_schema", "json_schema": {...}}`). Its name
is the one given there, else the schema's `title`, else the file's stem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from vllm_chat.core.generation.constraint import Constraint, schema_name

MAX_FILE_BYTES = 1_000_000
"""Schema and grammar files larger than this are refused (nobody means to send that)."""


class ConstraintError(ValueError):
    """The input can't be a constraint; the message says why and what to give instead."""


def _read(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConstraintError(f"The {what} file {path} is larger than 1 MB; give a smaller one.")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConstraintError(f"There is no {what} file {path}.") from None
    except IsADirectoryError:
        raise ConstraintError(f"{path} is a folder, not a {what} file.") from None
    except UnicodeDecodeError:
        raise ConstraintError(f"The {what} file {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise ConstraintError(f"The {what} file {path} can't be read: {exc.strerror or exc}.") from None


def _unwrap(doc: Any) -> tuple[Any, str | None]:
    """The schema inside an OpenAI `json_schema` object or `response_format`, and its name."""
    if isinstance(doc, dict) and doc.get("type") == "json_schema" and isinstance(doc.get("json_schema"), dict):
        doc = doc["json_schema"]
    if isinstance(doc, dict) and isinstance(doc.get("schema"), dict) and set(doc) <= {
            "name", "schema", "strict", "description"}:
        name = doc.get("name")
        return doc["schema"], name if isinstance(name, str) else None
    return doc, None


def check_schema(schema: Any) -> str | None:
    """Why `schema` is not a usable JSON schema, or None when it is one."""
    if not isinstance(schema, dict):
        return f"a JSON schema here is a JSON object, not {type(schema).__name__ if schema is not None else 'null'}"
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
        return f"it is not a valid JSON schema ({exc.message}{' at $' + where if where else ''})"
    return None


def schema_constraint(given: str, *, base: Path | None = None) -> Constraint:
    """A `json_schema` constraint from `given`: inline JSON (it starts with `{`) or a file path
    (relative paths are read from `base`, else the current folder)."""
    text = given.strip()
    if not text:
        raise ConstraintError("The JSON schema is empty: give a schema file or the schema as JSON.")
    source: str | None = None
    if text.startswith("{"):
        where = "The JSON schema"
    else:
        path = Path(text).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        where = f"The schema file {path}"
        source = str(path)
        text = _read(path, "schema")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConstraintError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") \
            from None
    schema, name = _unwrap(doc)
    problem = check_schema(schema)
    if problem:
        raise ConstraintError(f"{where} can't be used: {problem}.")
    if not name:
        title = schema.get("title")
        name = title if isinstance(title, str) and title.strip() else (Path(source).stem if source else "schema")
    return Constraint(kind="json_schema", name=schema_name(name), json_schema=schema, source=source)


def json_object_constraint() -> Constraint:
    """Any JSON object (`response_format: json_object`)."""
    return Constraint(kind="json_object")


def regex_constraint(pattern: str) -> Constraint:
    """The whole reply must match `pattern` (checked here with Python's `re`, as the reply will be)."""
    if not pattern:
        raise ConstraintError("The regex is empty: give a pattern the whole reply must match.")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConstraintError(f"The regex {pattern!r} is not valid: {exc}.") from None
    return Constraint(kind="regex", regex=pattern)


def choice_constraint(text: str) -> Constraint:
    """The reply must be one of the comma-separated choices in `text` (blanks around each are
    dropped, and so are repeats)."""
    choices: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if part and part not in choices:
            choices.append(part)
    if not choices:
        raise ConstraintError("The choice list is empty: give the allowed replies separated by commas (yes,no).")
    return Constraint(kind="choice", choices=choices)


def grammar_constraint(given: str, *, base: Path | None = None) -> Constraint:
    """A grammar read from the file `given` (EBNF, as vLLM's structured-output backend takes it)."""
    if not given.strip():
        raise ConstraintError("No grammar file given: name a file holding an EBNF grammar.")
    path = Path(given.strip()).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    text = _read(path, "grammar")
    if not text.strip():
        raise ConstraintError(f"The grammar file {path} is empty.")
    return Constraint(kind="grammar", grammar=text, name=path.name, source=str(path))
