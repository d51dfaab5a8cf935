"""Tool calling: tools, the registry that runs calls, built-ins, user tools, and approval.

The engine needs only this package's top level: build a `ToolRegistry` with
`from_settings`, send `specs()`, ask an `ApprovalPolicy` before each call, and
`execute` it to get a `ToolOutcome` for the tool message.
"""

from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
from vllm_chat.core.tools.base import (
    InvalidArguments,
    Tool,
    ToolConfigError,
    ToolError,
    ToolOutcome,
)
from vllm_chat.core.tools.registry import MAX_OUTPUT_CHARS, ToolRegistry

__all__ = [
    "MAX_OUTPUT_CHARS",
    "ApprovalPolicy",
    "Decision",
    "InvalidArguments",
    "Tool",
    "ToolConfigError",
    "ToolError",
    "ToolOutcome",
    "ToolRegistry",
]
