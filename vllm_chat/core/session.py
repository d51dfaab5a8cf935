"""A chat session: one conversation, its server, its tools, and its file on disk.

`ChatSession` is what a front end drives. It owns the `Conversation`, the
`ChatClient`, the `Engine` with the tool registry and approval policy, and the
recorder that saves the conversation as it changes. Every user action
(send, retry, continue, switch model, new conversation) is a method here, so
the TUI only turns keys into these calls and events into widgets.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from vllm_chat.core.client import ChatClient, ModelInfo
from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Attachment, Branch, Conversation, Message
from vllm_chat.core.engine import Approver, Engine, TurnOptions
from vllm_chat.core.events import Event

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from vllm_chat.core.mcp.manager import McpManager, ServerStatus
    from vllm_chat.core.media.policy import MediaPolicy
    from vllm_chat.core.params_form import SessionSettingsResult
    from vllm_chat.core.recorder import SessionRecorder
    from vllm_chat.core.store import SessionStore
    from vllm_chat.core.tools.catalog import ToolEntry
    from vllm_chat.core.tools.registry import ToolRegistry


class ChatSession:
    """One conversation with one server, saved as it goes."""

    def __init__(
        self,
        settings: Settings,
        *,
        conversation: Conversation | None = None,
        store: SessionStore | None = None,
        approver: Approver | None = None,
        root: Path | None = None,
    ) -> None:
        self.settings = settings
        """The effective settings of this run."""
        self._media_policy: MediaPolicy | None = None
        self.client = ChatClient(
            settings.base_url,
            settings.api_key.get_secret_value(),
            timeout=settings.request_timeout,
            connect_timeout=settings.connect_timeout,
        )
        """The server connection."""
        self.store = store
        """Where conversations are saved (None: nothing is saved)."""
        self.models: list[ModelInfo] = []
        """The server's model list, once known."""
        self.problems: list[str] = []
        """Problems found while setting up (e.g. a user tool that failed to import)."""
        self.tools_enabled = settings.tools.enabled
        """The global tools switch for this run (a conversation may override it)."""
        self.tool_choice = settings.tools.choice
        """`tool_choice` sent with tools in this run: auto, none or required."""
        self._root = root or Path(os.getcwd())
        self._approver = approver
        self.engine = self._build_engine()
        self.conversation = conversation or self._fresh_conversation()
        """The conversation being shown and continued."""
        self.recorder: SessionRecorder | None = self._recorder_for(self.conversation)

    def _fresh_conversation(self) -> Conversation:
        return Conversation(
            base_url=self.settings.base_url,
            model=self.settings.model or "",
            system_prompt=self.settings.system_prompt,
            params=self.settings.sampling.model_copy(),
        )

    def _build_engine(self) -> Engine:
        # The registry is built even when tools are off, so a session can switch them on.
        from vllm_chat.core.tools.approval import ApprovalPolicy
        from vllm_chat.core.tools.registry import ToolRegistry

        tools, problems = ToolRegistry.from_settings(self.settings.tools, root=self._root)
        self.problems.extend(problems)
        self.mcp = self._build_mcp(tools)
        approval = ApprovalPolicy(tools)
        return Engine(self.client, tools=tools, approval=approval, approver=self._approver,
                      max_rounds=self.settings.tools.max_rounds)

    def _recorder_for(self, conv: Conversation) -> SessionRecorder | None:
        if self.store is None:
            return None
        from vllm_chat.core.recorder import SessionRecorder

        return SessionRecorder(self.store, conv, interval=self.settings.sessions.save_interval)

    # -- server -----------------------------------------------------------------

    async def connect(self) -> list[ModelInfo]:
        """Ask the server for its models and settle the model to use.

        Raises `ChatErrorException` when the server can't be asked; the caller
        decides whether to retry (vLLM refuses connections while loading). The
        MCP tool servers start connecting in the background first.
        """
        self.start_tool_servers()
        self.models = await self.client.list_models()
        if not self.conversation.model and self.models:
            self.conversation.model = self.models[0].id
        return self.models

    def set_model(self, name: str) -> None:
        """Use `name` from the next turn on; the conversation is kept."""
        self.conversation.model = name
        self.conversation.touch()

    def apply_settings(self, result: SessionSettingsResult) -> None:
        """Take the settings panel's values for this conversation (from the next turn on)."""
        conv = self.conversation
        if result.model and result.model != conv.model:
            conv.model = result.model
        conv.system_prompt = result.system_prompt
        conv.params = result.params
        conv.tools_enabled = result.tools_enabled
        conv.touch()
        self.save()

    @property
    def tools_on(self) -> bool:
        """Whether tools are offered in this conversation now."""
        enabled = self.conversation.tools_enabled
        return self.tools_enabled if enabled is None else enabled

    @property
    def context_window(self) -> int | None:
        """`max_model_len` of the current model, when the server said."""
        from vllm_chat.core.models import context_window

        return context_window(self.models, self.conversation.model)

    # -- turns ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while a turn streams or runs tools."""
        return self.engine.running

    def add_user_message(self, text: str, attachments: list[Attachment] | None = None) -> Message:
        """Append the user's message (and title a new conversation from it)."""
        conv = self.conversation
        if not conv.title:
            from vllm_chat.core.store import title_from_prompt

            conv.title = title_from_prompt(text)
        return conv.add(Message(role="user", content=text, attachments=list(attachments or [])))

    @property
    def media_policy(self) -> MediaPolicy | None:
        """The accepted offer to leave media out, while its conversation and model are in
        use (once either changed it lapses: switching back sends every attachment)."""
        policy = self._media_policy
        if policy is not None and not policy.applies_to(self.conversation):
            self._media_policy = policy = None
        return policy

    @media_policy.setter
    def media_policy(self, policy: MediaPolicy | None) -> None:
        self._media_policy = policy

    def options(self, **overrides: object) -> TurnOptions:
        """Turn options from the settings and this conversation, with `overrides`."""
        values: dict[str, object] = {
            "tools_enabled": self.tools_on,
            "tool_choice": self.tool_choice,
            "media_policy": self.media_policy,
        }
        values.update(overrides)
        return TurnOptions(**values)  # type: ignore[arg-type]

    async def run(self, options: TurnOptions | None = None) -> AsyncIterator[Event]:
        """Run a turn on the conversation as it stands, saving as it goes.

        Besides the saves the recorder makes on events, the loop wakes up when
        no event came for a while (a stalled stream, a long tool run) so that
        text received before the stall reaches the disk too.
        """
        self.conversation.base_url = self.settings.base_url
        recorder = self.recorder
        on_idle = recorder.tick if recorder is not None else None
        idle_every = min(1.0, recorder.interval / 2) if recorder is not None else 1.0
        try:
            async for event in self.engine.run(self.conversation, options or self.options(),
                                               on_idle=on_idle, idle_every=idle_every):
                if recorder is not None:
                    recorder.observe(event)
                yield event
        finally:
            if recorder is not None and recorder.dirty:
                recorder.save_now()  # e.g. the consumer was cancelled mid-turn

    def stop(self) -> bool:
        """Stop the running turn; False if none was running."""
        return self.engine.stop()

    def rewind_to_last_user(self) -> bool:
        """Set aside everything after the last user message (kept as a branch) so the
        turn can be run again. False if there is no user message to answer."""
        conv = self.conversation
        last_user = next((i for i in range(len(conv.messages) - 1, -1, -1)
                          if conv.messages[i].role == "user"), None)
        if last_user is None:
            return False
        tail = conv.messages[last_user + 1:]
        if tail:
            conv.branches.append(Branch(parent_message_id=conv.messages[last_user].id, messages=tail))
            del conv.messages[last_user + 1:]
            conv.touch()
        return True

    def _index(self, message_id: str) -> int:
        for i, message in enumerate(self.conversation.messages):
            if message.id == message_id:
                return i
        raise KeyError(message_id)

    def _set_aside(self, start: int, end: int | None = None) -> list[Message]:
        """Move messages[start:end] into a branch (nothing is ever thrown away)."""
        conv = self.conversation
        removed = conv.messages[start:end]
        if removed:
            parent = conv.messages[start - 1].id if start > 0 else None
            conv.branches.append(Branch(parent_message_id=parent, messages=list(removed)))
            del conv.messages[start:end]
            conv.touch()
        return removed

    def edit_user_message(self, message_id: str, text: str) -> Message:
        """Replace an earlier prompt and drop what followed it from the conversation (kept
        as a branch in the session file); returns the new user message, ready to run."""
        index = self._index(message_id)
        old = self.conversation.messages[index]
        if old.role != "user":
            raise ValueError("only your own messages can be edited")
        self._set_aside(index)
        return self.conversation.add(Message(role="user", content=text, attachments=list(old.attachments)))

    def delete_message(self, message_id: str) -> list[Message]:
        """Remove a message from the conversation (kept as a branch). An assistant message
        takes the tool results that answer its calls with it, so the history stays valid."""
        conv = self.conversation
        index = self._index(message_id)
        message = conv.messages[index]
        end = index + 1
        if message.role == "assistant" and message.tool_calls:
            ids = {c.id for c in message.tool_calls}
            while end < len(conv.messages) and conv.messages[end].role == "tool" \
                    and conv.messages[end].tool_call_id in ids:
                end += 1
        return self._set_aside(index, end)

    def actions_for(self, message_id: str) -> list[str]:
        """What can be done with a message, in menu order: `copy`, `copy-code`, `edit`,
        `regenerate`, `continue`, `toggle-reasoning`, `delete`."""
        from vllm_chat.core.markdown_code import code_blocks

        conv = self.conversation
        index = self._index(message_id)
        message = conv.messages[index]
        is_last_reply = message.role == "assistant" and all(
            m.role in ("assistant", "tool") for m in conv.messages[index + 1:])
        actions = ["copy"]
        if code_blocks(message.content):
            actions.append("copy-code")
        if message.role == "user":
            actions.append("edit")
        if is_last_reply and self.can_regenerate():
            actions.append("regenerate")
        if index == len(conv.messages) - 1 and self.can_continue():
            actions.append("continue")
        if message.reasoning:
            actions.append("toggle-reasoning")
        actions.append("delete")
        return actions

    def can_regenerate(self) -> bool:
        """Whether there is a reply (or a failed turn) after the last prompt to do again."""
        conv = self.conversation
        return bool(conv.messages) and conv.messages[-1].role != "user" and any(
            m.role == "user" for m in conv.messages)

    def can_continue(self) -> bool:
        """Whether the last message is a reply that can be continued (stopped or cut)."""
        conv = self.conversation
        if not conv.messages:
            return False
        last = conv.messages[-1]
        # Calls in the last message never got results (they were cut off, or the app
        # stopped first); continuing drops them and carries on with the text. A reply
        # with no answer text yet (cut while thinking) can't be continued: vLLM isn't
        # sent the reasoning back, so it would start thinking again from scratch.
        return _was_cut(last) and bool(last.content)

    def cut_while_thinking(self) -> bool:
        """Whether the last reply stopped or was cut before any answer text, mid-reasoning."""
        conv = self.conversation
        last = conv.messages[-1] if conv.messages else None
        return last is not None and _was_cut(last) and not last.content and bool(last.reasoning)

    def wants_model_title(self) -> bool:
        """Whether to ask the model for a title now: the option is on and the
        conversation has just got its first complete reply."""
        conv = self.conversation
        replies = [m for m in conv.messages if m.role == "assistant" and m.status == "complete" and m.content]
        return self.settings.sessions.auto_title and len(replies) == 1 and conv.messages[-1] is replies[0]

    async def generate_title(self) -> str | None:
        """Ask the model for a short title (no tools, no thinking, few tokens); the
        conversation keeps its first-prompt title when the answer is unusable."""
        from vllm_chat.core.store import clean_model_title, title_request_messages

        conv = self.conversation
        request = {
            "model": conv.model,
            "messages": title_request_messages(conv),
            "max_tokens": 24,
            "temperature": 0.2,
            "extra_body": {"chat_template_kwargs": {"enable_thinking": False}},
        }
        try:
            response = await self.client.complete(request)
        except Exception:
            return None  # a title is a nicety; the turn already succeeded
        choices = getattr(response, "choices", None) or []
        title = clean_model_title(choices[0].message.content or "") if choices else None
        if title and conv is self.conversation:
            conv.title = title
            conv.touch()
            self.save()
        return title

    # -- conversations -------------------------------------------------------------

    def _forget_approvals(self) -> None:
        # "Allow for this session" means this conversation: the next one asks again.
        if self.engine.approval is not None:
            self.engine.approval.reset()

    def new_conversation(self) -> Conversation:
        """Start over with an empty conversation (the old one stays saved); tools
        allowed "for this session" need approval again."""
        if self.recorder is not None:
            self.recorder.save_now()
        self._forget_approvals()
        model = self.conversation.model
        self.conversation = self._fresh_conversation()
        self.conversation.model = model or self.conversation.model
        self.recorder = self._recorder_for(self.conversation)
        return self.conversation

    def open_conversation(self, conv: Conversation) -> None:
        """Show and continue a saved conversation; tools allowed "for this session"
        need approval again."""
        if self.recorder is not None:
            self.recorder.save_now()
        self._forget_approvals()
        if not conv.model and self.conversation.model:
            conv.model = self.conversation.model
        self.conversation = conv
        self.recorder = self._recorder_for(conv)

    def set_tools(self, on: bool) -> bool:
        """Offer tools in this conversation, or stop offering them (saved at once);
        returns whether tools are on now."""
        self.conversation.tools_enabled = on
        self.conversation.touch()
        self.save()
        return self.tools_on

    def save(self) -> None:
        """Save the conversation now (if it has any message)."""
        if self.recorder is not None:
            self.recorder.save_now()

    async def aclose(self) -> None:
        """Stop any turn, save, close the connection, and stop the MCP tool servers."""
        self.stop()
        self.save()
        await self.client.aclose()
        if self.mcp is not None:
            await self.mcp.aclose()

    # -- MCP tool servers (issue 16) ---------------------------------------------------
    # Everything the session knows about MCP servers is in this block; the manager
    # (core/mcp/manager.py) does the work. Front ends call these methods only.

    def _build_mcp(self, registry: ToolRegistry) -> McpManager | None:
        if not self.settings.mcp.servers:
            return None
        from vllm_chat.core.mcp.manager import McpManager

        return McpManager(self.settings.mcp, registry, root=self._root, attachments=self.settings.attachments)

    def start_tool_servers(self) -> None:
        """Connect the configured MCP servers in the background (once; needs a running
        event loop). Chatting works meanwhile; their tools join as each server is ready."""
        if self.mcp is not None:
            self.mcp.start()

    async def wait_for_tool_servers(self) -> None:
        """Start the MCP servers if needed and wait until none is still connecting
        (each gives up after its `connect_timeout`); for one-shot runs."""
        if self.mcp is not None:
            self.mcp.start()
            await self.mcp.wait_settled()

    def tool_servers(self) -> list[ServerStatus]:
        """A snapshot of every configured MCP server: state, tools, reason, stderr tail."""
        return self.mcp.statuses() if self.mcp is not None else []

    async def reconnect_tool_servers(self, name: str | None = None) -> None:
        """Connect one MCP server (by name) or every enabled one again."""
        if self.mcp is not None:
            await self.mcp.reconnect(name)

    def watch_tool_servers(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` whenever an MCP server's state changes; returns the unsubscriber."""
        if self.mcp is None:
            return lambda: None
        return self.mcp.subscribe(listener)

    def tool_catalog(self) -> list[ToolEntry]:
        """Every tool offered now (built-in, Python, shell, MCP), with source, approval and schema."""
        from vllm_chat.core.tools.catalog import catalog

        return catalog(self.engine.tools) if self.engine.tools is not None else []

    def tool_source(self, name: str) -> str | None:
        """Where the tool the model calls `name` runs: `MCP server X`, or None for local tools."""
        tool = self.mcp.tool(name) if self.mcp is not None else None
        return f"MCP server {tool.server}" if tool is not None else None


def _was_cut(message: Message) -> bool:
    """A reply that ended before its end: stopped, failed, or cut at max_tokens."""
    return message.role == "assistant" and (
        message.status in ("stopped", "failed") or message.finish_reason == "length")
