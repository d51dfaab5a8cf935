"""A chat session: one conversation, its server, its tools, and its file on disk.

`ChatSession` is the only door from a front end (the TUI, one-shot mode, the
CLI subcommands) into the core. It owns the `Conversation`, the client, the
engine with the tool registry and approval policy, the store and the
recorder that saves the conversation as it changes. Every user action is a
method here and every change is saved by the session itself, so a front end
only turns keys into these calls, and events and `status()` snapshots into
what it draws.

The class is assembled from one part per concern, each in its own module:

- `base`: what the session owns, the server connection, saving, `status()`;
- `turns`: sending, running and stopping turns, retry, edit, continue;
- `controls`: model, system prompt, sampling, tools, approvals;
- `conversations`: new, open, and the saved conversations (list, search,
  rename, delete, export);
- `tool_servers`: the MCP tool servers, and the catalogue of every tool;
- `workbench`: the user's message from what they typed (`@path` mentions),
  saved prompts, and prompts queued while a reply streams.
"""

from __future__ import annotations

from vllm_chat.core.session.base import Connected
from vllm_chat.core.session.conversations import ConversationsPart, NoStore
from vllm_chat.core.session.status import Activity, SessionStatus
from vllm_chat.core.session.tool_servers import ToolInfo, ToolServersPart
from vllm_chat.core.session.turns import TurnsPart
from vllm_chat.core.session.workbench import (
    Completion,
    Draft,
    QueuedPrompt,
    SecretsMentioned,
    WorkbenchPart,
)

__all__ = ["Activity", "ChatSession", "Completion", "Connected", "Draft", "NoStore", "QueuedPrompt", "SecretsMentioned",
           "SessionStatus", "ToolInfo"]


class ChatSession(TurnsPart, ConversationsPart, WorkbenchPart, ToolServersPart):
    """One conversation with one server, saved as it goes (see the module docstring)."""
