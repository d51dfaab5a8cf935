"""What every tool is: a name, a JSON schema, a description, and an async `run`.

The registry (`registry.py`) owns everything around a call (parsing the raw
arguments, checking them, timeouts, turning failures into text). A tool only
checks what its schema cannot say and does its work; when it fails in a way the
model should hear about, it raises `ToolError` with a sentence for the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from vllm_chat.core.conversation import Attachment
from vllm_chat.core.tools.schema import schema_problems

OutcomeStatus = Literal["ok", "error", "denied"]


@dataclass(frozen=True)
class ToolOutcome:
    """How one call ended, and the text the model receives as the tool message."""

    status: OutcomeStatus
    """`ok` (the tool ran), `error` (it could not run or failed) or `denied` (by the user)."""
    output: str
    """The tool message content sent back to the model."""
    attachments: tuple[Attachment, ...] = ()
    """Images the tool returned (an MCP tool's), sent with the tool message."""

    @classmethod
    def ok(cls, output: str) -> ToolOutcome:
        """A call that ran; `output` is what it produced."""
        return cls("ok", output)

    @classmethod
    def error(cls, problem: str) -> ToolOutcome:
        """A call that failed; the output is `Error: <problem>`."""
        return cls("error", f"Error: {problem}")


@dataclass(frozen=True)
class ToolReply:
    """What `run` returns when a tool has more than text: the text and images for the model."""

    text: str
    """The tool message content (it names each image)."""
    attachments: tuple[Attachment, ...] = ()
    """Images, already stored in the media folder."""


class ToolError(Exception):
    """A failure a tool reports in words for the model (no exception type is shown)."""


class ToolConfigError(Exception):
    """A tool entry in the config can't be used; `field` names the key inside the entry."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        """The key inside the `[[tools.*]]` entry, e.g. `function` or `command[1]`."""


class InvalidArguments(Exception):
    """The arguments do not fit the tool's schema; `problems` says how, one item per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        """Each problem as a sentence naming the field, e.g. `'n' must be an integer, got a string ('x')`."""


class Tool(ABC):
    """A function the model may call.

    Subclasses set the attributes (as class attributes or in `__init__`) and
    implement `run`. `validate` checks arguments against `parameters` with the
    small validator in `schema.py`; tools with their own validation (pydantic
    for Python tools) override it.
    """

    name: str
    """The function name the model calls."""
    description: str
    """What the tool does and when to use it, shown to the model."""
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""
    confirm: bool = False
    """Whether every call needs the user's approval."""
    timeout: float | None = None
    """Seconds before a call is stopped (None: the registry's default)."""

    def spec(self) -> dict[str, Any]:
        """The entry for the request's `tools` list."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments to pass to `run`, or `InvalidArguments` saying what is wrong."""
        problems = schema_problems(arguments, self.parameters)
        if problems:
            raise InvalidArguments(problems)
        return arguments

    def preview(self, arguments: dict[str, Any]) -> str | None:
        """What the call will do, in one line for an approval prompt (None: show the arguments)."""
        return None

    def sensitivity(self, arguments: dict[str, Any]) -> str | None:
        """Why this one call needs the user's approval although the tool doesn't (e.g. a file
        that looks like a secret), naming what it touches; None when it doesn't."""
        return None

    @abstractmethod
    async def run(self, arguments: dict[str, Any]) -> str | ToolReply:
        """Do the work with validated arguments and return the text for the model
        (a `ToolReply` when there are images too).

        Raise `ToolError` for failures the model should read about. Must let
        `asyncio.CancelledError` through after cleaning up (e.g. killing a
        process), so the user can stop a running tool.
        """
