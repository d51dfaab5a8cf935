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
- `generation`: the structured-output constraint, reasoning controls, chat or
  completion mode, a model's chat template (and each reply's check);
- `controls`: model, system prompt, sampling, tools, approvals;
- `conversations`: new, open, and the saved conversations (list, search,
  rename, delete, export);
- `versions`: the versions of a message, forks, and other windows on the same
  session (merge notices, changes on disk, reload);
- `tool_servers`: the MCP tool servers, and the catalogue of every tool;
- `workbench`: the user's message from what they typed (`@path` mentions),
  saved prompts, and prompts queued while a reply streams;
- `candidates`: several replies to one turn (N candidates, a model comparison)
  and picking the one to continue with;
- `lora`: LoRA adapters: the models grouped under their base, loading and
  unloading adapters at runtime;
- `context`: the exact size of the next request (the server's `/tokenize`,
  recounted as the draft changes), the check before sending, the room left
  for a reply;
- `compact`: compaction and leaving out the oldest turns;
- `inspect`: a reply's exact request (JSON, curl, Python), its rendered prompt
  and its tokens' logprobs;
- `telemetry`: the server's own view (version, models, `/metrics`) for the
  server panel, the header's load indicator and why a reply waits;
- `servers`: the config's profiles, what each serves, switching to another one,
  and how requests reach the server (proxy, TLS, extra headers, routing header).
"""

from __future__ import annotations

from vllm_chat.core.session.base import Connected
from vllm_chat.core.session.candidates import CandidatesPart
from vllm_chat.core.session.compact import CompactionPart, NothingToCompact
from vllm_chat.core.session.context import Breakdown, ContextPart
from vllm_chat.core.session.conversations import NoStore
from vllm_chat.core.session.inspect import InspectPart
from vllm_chat.core.session.lora import LoraPart
from vllm_chat.core.session.servers import ServerModels, ServersPart
from vllm_chat.core.session.status import Activity, SessionStatus
from vllm_chat.core.session.telemetry import TelemetryPart
from vllm_chat.core.session.tool_servers import ToolInfo, ToolServersPart
from vllm_chat.core.session.turns import TurnsPart
from vllm_chat.core.session.versions import VersionsPart
from vllm_chat.core.session.workbench import (
    Completion,
    Draft,
    QueuedPrompt,
    SecretsMentioned,
    WorkbenchPart,
)

__all__ = ["Activity", "Breakdown", "ChatSession", "Completion", "Connected", "Draft", "NoStore", "NothingToCompact",
           "QueuedPrompt", "SecretsMentioned", "ServerModels", "SessionStatus", "ToolInfo"]


class ChatSession(CompactionPart, CandidatesPart, LoraPart, TurnsPart, VersionsPart, ContextPart, WorkbenchPart,
                  ToolServersPart, InspectPart, TelemetryPart, ServersPart):
    """One conversation with one server, saved as it goes (see the module docstring)."""
