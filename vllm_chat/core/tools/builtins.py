"""The built-in tools by config name (`tools.builtins`)."""

from __future__ import annotations

from pathlib import Path

from vllm_chat.core.tools.base import Tool
from vllm_chat.core.tools.calculator import Calculator
from vllm_chat.core.tools.clock import DateTimeTool
from vllm_chat.core.tools.files import ListDirectoryTool, ReadFileTool


def builtin_tool(name: str, *, root: Path, secret_files: tuple[str, ...] = ()) -> Tool:
    """The built-in called `name` (one of `config.BUILTIN_TOOLS`); file tools stay inside `root`
    and ask before reading files that look like secrets (`secret_files`: extra patterns)."""
    if name == "datetime":
        return DateTimeTool()
    if name == "calculator":
        return Calculator()
    if name == "read_file":
        return ReadFileTool(root, secret_files=secret_files)
    if name == "list_directory":
        return ListDirectoryTool(root, secret_files=secret_files)
    raise ValueError(f"there is no built-in tool named {name!r}")
