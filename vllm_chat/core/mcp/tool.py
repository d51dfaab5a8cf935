"""`McpTool`: one tool of an MCP server, in the registry like any other tool."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.tools.base import InvalidArguments, Tool, ToolReply

if TYPE_CHECKING:  # pragma: no cover
    from mcp_types import Tool as RemoteTool

    from vllm_chat.core.mcp.connection import ServerConnection


class McpTool(Tool):
    """A tool a server offers, under the name the model sees (see `names.py`)."""

    def __init__(
        self,
        connection: ServerConnection,
        remote: RemoteTool,
        name: str,
        *,
        attachments: AttachmentSettings,
    ) -> None:
        settings = connection.settings
        self.connection = connection
        """The server the calls go to."""
        self.server = settings.name
        """The server's configured name (shown in panels and approval prompts)."""
        self.remote_name = remote.name
        """The tool's own name on the server."""
        self.name = name
        self.description = remote.description or remote.title or f"{remote.name} (from the MCP server {self.server})"
        schema = dict(remote.input_schema or {})
        schema.setdefault("type", "object")
        self.parameters = schema
        self.confirm = settings.needs_approval(remote.name)
        self.timeout = settings.timeout
        self._attachments = attachments

    def spec(self) -> dict[str, Any]:
        """The request's entry; `strict` when the server's schema is strict already (closed, every
        property required), so vLLM holds the arguments to it."""
        spec = super().spec()
        if is_strict(self.parameters):
            spec["function"]["strict"] = True
        return spec

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check the arguments against the server's schema (with `jsonschema`, which the SDK uses)."""
        from jsonschema import validators
        from jsonschema.exceptions import SchemaError

        try:
            validator = validators.validator_for(self.parameters)(self.parameters)
            errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        except SchemaError:
            return arguments  # the server's schema is broken: let the server judge the call
        problems = []
        for error in errors[:5]:
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{where!r}: {error.message}" if where else error.message)
        if problems:
            raise InvalidArguments(problems)
        return arguments

    async def run(self, arguments: dict[str, Any]) -> ToolReply:
        """Call the tool on the server; its result becomes text and images for the model."""
        from vllm_chat.core.mcp.results import convert_result

        result = await self.connection.call(self.remote_name, arguments)
        return await asyncio.to_thread(convert_result, result, self.remote_name, self._attachments)


def is_strict(schema: dict[str, Any]) -> bool:
    """Whether an object schema meets the OpenAI strict rules at its top level: no other
    properties allowed, and every property required."""
    properties = schema.get("properties")
    return (schema.get("type") == "object" and schema.get("additionalProperties") is False
            and isinstance(properties, dict) and set(schema.get("required") or []) == set(properties))
