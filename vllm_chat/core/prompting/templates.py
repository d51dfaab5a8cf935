"""Saved prompts: text with `{{variables}}`, and the settings that go with it.

A template comes from a file `prompts/NAME.md` in the config folder, from a
`[prompts.NAME]` table of the config, or from the few shipped with vllm-chat
(`vllm_chat/prompts/`); a user's template replaces a shipped one of the same
name. A file may start with TOML front matter between `+++` lines::

    +++
    description = "Write a commit message for a diff"
    system = "You write concise, conventional commit messages."
    model = "Qwen/Qwen3-8B"
    [sampling]
    temperature = 0.2
    +++
    Write a commit message for this change:

    {{diff}}

`{{name}}` is a variable the user fills in; `{{name:default}}` has a default.
A *role* (`role = true`) sets the system prompt, model and sampling of the
whole conversation; its text, if any, goes into the prompt like any other
template's.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from vllm_chat.core.params import SamplingParams

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w-]*)\s*(?::([^}]*))?\}\}")
"""`{{name}}` or `{{name:default}}`."""

NAME = re.compile(r"[A-Za-z0-9][\w.-]*\Z")
"""What a template name may be: it is typed after `/` in the prompt."""


class TemplateError(Exception):
    """A template that can't be used as asked, phrased for the user."""


class TemplateFields(BaseModel):
    """The keys a template may set (front matter, or a `[prompts.NAME]` table)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    """One line saying what the template is for (shown when picking one)."""
    text: str = ""
    """The prompt text (for a file: the part after the front matter)."""
    system: str | None = None
    """A system prompt the template sets for the conversation."""
    model: str | None = None
    """A model the template switches the conversation to."""
    sampling: SamplingParams | None = None
    """Sampling settings the template sets for the conversation."""
    role: bool = False
    """A role: meant to set up the whole conversation (system prompt, model, sampling)."""


@dataclass(frozen=True)
class Variable:
    """One `{{name}}` of a template."""

    name: str
    """What the user is asked for."""
    default: str | None = None
    """The value used when the user gives none (None: the variable is required)."""


@dataclass(frozen=True)
class PromptTemplate:
    """A saved prompt, ready to fill in."""

    name: str
    """What `/name`, the palette and `--prompt NAME` call it."""
    fields: TemplateFields
    """Its text and settings."""
    source: str
    """Where it came from (a file path, "config", or "shipped")."""

    @property
    def variables(self) -> list[Variable]:
        """The variables of the text (and of the system prompt), each once, in order."""
        seen: dict[str, Variable] = {}
        for text in (self.fields.system or "", self.fields.text):
            for match in VARIABLE.finditer(text):
                name = match.group(1)
                if name not in seen or (seen[name].default is None and match.group(2) is not None):
                    seen[name] = Variable(name, match.group(2))
        return list(seen.values())

    def render(self, values: dict[str, str]) -> tuple[str, str | None]:
        """The text and system prompt with the variables filled in; `TemplateError` names
        every required variable that has no value."""
        missing = [v.name for v in self.variables if v.default is None and not values.get(v.name)]
        if missing:
            names = ", ".join(missing)
            raise TemplateError(f"The prompt {self.name!r} needs a value for: {names} "
                                f"(e.g. --var {missing[0]}=...).")

        def fill(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return value if value else (match.group(2) or "")

        system = VARIABLE.sub(fill, self.fields.system) if self.fields.system is not None else None
        return VARIABLE.sub(fill, self.fields.text), system


@dataclass
class TemplateBook:
    """Every template by name, and what was wrong with the ones that could not be read."""

    templates: dict[str, PromptTemplate] = field(default_factory=dict)
    """The usable templates, by name."""
    problems: list[str] = field(default_factory=list)
    """One sentence per file or table that could not be used (it is skipped)."""

    def get(self, name: str) -> PromptTemplate:
        """The template `name`; `TemplateError` listing the names there are."""
        template = self.templates.get(name)
        if template is None:
            known = ", ".join(sorted(self.templates)) or "none yet"
            raise TemplateError(f"There is no saved prompt named {name!r} (there are: {known}).")
        return template


def shipped_folder() -> Path:
    """The templates shipped inside the package."""
    return Path(__file__).resolve().parent.parent.parent / "prompts"


def parse_file(text: str) -> dict[str, Any]:
    """A template file's fields: the TOML front matter between `+++` lines (if any),
    and the rest as `text`. Raises `TemplateError` for front matter that isn't TOML."""
    data: dict[str, Any] = {}
    body = text
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == "+++":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
        if end is None:
            raise TemplateError("its front matter starts with +++ but has no closing +++ line")
        try:
            data = tomllib.loads("".join(lines[1:end]))
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError(f"its front matter is not valid TOML: {exc}") from None
        body = "".join(lines[end + 1:])
    if "text" in data:
        raise TemplateError("the text goes after the front matter, not in a 'text' key")
    data["text"] = body.strip("\n")
    return data


def _admit(book: TemplateBook, name: str, data: dict[str, Any], source: str) -> None:
    if not NAME.match(name):
        book.problems.append(f"{source}: {name!r} can't be a prompt name (letters, digits, '.', '_', '-').")
        return
    try:
        fields = TemplateFields.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        book.problems.append(f"{source}: {where}: {first['msg']}")
        return
    if not fields.text and not fields.role:
        book.problems.append(f"{source}: the prompt {name!r} has no text (a role may have none: role = true).")
        return
    book.templates[name] = PromptTemplate(name, fields, source)


def load_templates(folders: list[Path], table: dict[str, TemplateFields]) -> TemplateBook:
    """Every template: from each folder in `folders` (later ones win), then the config's
    `[prompts]` table. A template that can't be read is reported and skipped."""
    book = TemplateBook()
    for folder in folders:
        try:
            files = sorted(folder.glob("*.md"))
        except OSError:
            continue
        for path in files:
            try:
                data = parse_file(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                book.problems.append(f"{path}: can't be read: {exc}")
                continue
            except TemplateError as exc:
                book.problems.append(f"{path}: {exc}")
                continue
            _admit(book, path.stem, data, str(path))
    for name, fields in table.items():
        _admit(book, name, fields.model_dump(exclude_unset=True), f"[prompts.{name}] in the config")
    return book


def parse_var(assignment: str) -> tuple[str, str]:
    """`--var key=value` as (key, value); `TemplateError` when there is no `=`."""
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise TemplateError(f"--var {assignment!r}: write it as NAME=VALUE.")
    return key.strip(), value
