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

from vllm_chat.core import tree
from vllm_chat.core.client import ChatClient, ModelInfo
from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.engine import Approver, Engine, TurnOptions
from vllm_chat.core.events import Event

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.media.policy import MediaPolicy
    from vllm_chat.core.params_form import SessionSettingsResult
    from vllm_chat.core.recorder import SessionRecorder
    from vllm_chat.core.store import (
        DiskChange,
        SaveOutcome,
        SessionStore,
        SessionSummary,
        UnreadableSession,
    )
    from vllm_chat.core.store.search import SearchHit


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
        self._reported_change: DiskChange | None = None  # issue 18: the last file change offered

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
        decides whether to retry (vLLM refuses connections while loading).
        """
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
            from vllm_chat.core.titles import title_from_prompt

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
        """Set aside everything after the last user message (kept as an earlier version:
        the reply run next becomes the newest one) so the turn can be run again.
        False if there is no user message to answer."""
        conv = self.conversation
        last_user = next((i for i in range(len(conv.messages) - 1, -1, -1)
                          if conv.messages[i].role == "user"), None)
        if last_user is None:
            return False
        tree.set_aside(conv, last_user + 1)
        return True

    def _index(self, message_id: str) -> int:
        for i, message in enumerate(self.conversation.messages):
            if message.id == message_id:
                return i
        raise KeyError(message_id)

    def edit_user_message(self, message_id: str, text: str) -> Message:
        """Send an earlier prompt again, changed: the new prompt becomes the newest version of
        that message and the old one, with what followed it, stays as an earlier version.
        Returns the new user message, ready to run."""
        index = self._index(message_id)
        old = self.conversation.messages[index]
        if old.role != "user":
            raise ValueError("only your own messages can be edited")
        tree.set_aside(self.conversation, index)
        return self.conversation.add(Message(role="user", content=text, attachments=list(old.attachments)))

    def delete_message(self, message_id: str) -> list[Message]:
        """Remove a message from the conversation (kept in the session file). An assistant message
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
        return tree.remove(conv, index, end)

    def actions_for(self, message_id: str) -> list[str]:
        """What can be done with a message, in menu order: `copy`, `copy-code`, `edit`,
        `regenerate`, `continue`, `toggle-reasoning`, `previous-version`, `next-version`,
        `fork`, `delete`."""
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
        version = tree.versions(conv).get(message.id)  # issue 18: versions and forks
        if version is not None and version[0] > 1:
            actions.append("previous-version")
        if version is not None and version[0] < version[1]:
            actions.append("next-version")
        if self.store is not None:
            actions.append("fork")
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
        from vllm_chat.core.titles import clean_model_title, title_request_messages

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
        """Stop any turn, save, and close the connection."""
        self.stop()
        self.save()
        await self.client.aclose()

    # ==== BEGIN issue 18: saved sessions, the conversation tree, forks, other windows ==========
    # One block on purpose, so it can move as a whole when ChatSession is reorganised.
    # Front ends reach saved sessions only through these methods (never the store).

    @property
    def saves_sessions(self) -> bool:
        """Whether this run saves conversations (and so can list, search and fork them)."""
        return self.store is not None

    def _need_store(self) -> SessionStore:
        from vllm_chat.core.store import StoreError

        if self.store is None:
            raise StoreError("this run does not save sessions")
        return self.store

    def list_sessions(self) -> tuple[list[SessionSummary], list[UnreadableSession]]:
        """Every saved session, newest first, and the files of the sessions folder that
        can't be read (with the reason). Raises `StoreError`."""
        return self._need_store().list()

    def search_sessions(self, query: str, *, everywhere: bool = True, limit: int = 100) -> list[SearchHit]:
        """Saved sessions holding every word of `query` (title or any message; with
        `everywhere` also reasoning and tool calls and results), best first, each with a
        snippet. May read many files the first time: call it from a worker thread."""
        return self._need_store().search(query, everywhere=everywhere, limit=limit)

    def open_session(self, session_id: str) -> Conversation:
        """Stop any turn and show the saved session `session_id` (the current one stays
        saved). Raises `StoreError` when it can't be read (the message says why)."""
        conv = self._need_store().load(session_id)
        self.stop()
        self.open_conversation(conv)
        return conv

    def rename_session(self, session_id: str, title: str) -> str:
        """Give a saved session (or the open one) a new title, saved at once; returns the
        title as kept (whitespace collapsed). Raises `StoreError` for an empty title."""
        from vllm_chat.core.store import StoreError

        clean = " ".join(title.split())
        if not clean:
            raise StoreError("a title can't be empty")
        if session_id == self.conversation.id:
            self.conversation.title = clean
            if self.recorder is not None:
                self.recorder.mark_changed()
            self.save()
        else:
            self._need_store().rename(session_id, clean)
        return clean

    def delete_session(self, session_id: str) -> None:
        """Delete a saved session's file for good. The open conversation can't be deleted
        (its next save would bring it back): start a new one first. Raises `StoreError`."""
        from vllm_chat.core.store import StoreError

        if session_id == self.conversation.id:
            raise StoreError("this is the open conversation: start a new one first, then delete it")
        self._need_store().delete(session_id)

    def alternatives(self, message_id: str) -> tuple[int, int]:
        """(k, n): the shown message is version k of n (1 of 1 when it has no alternatives)."""
        return tree.version(self.conversation, message_id)

    def versions(self) -> dict[str, tuple[int, int]]:
        """(k, n) for every shown message that has alternatives (for the `‹ k/n ›` marks)."""
        return tree.versions(self.conversation)

    def choose_alternative(self, message_id: str, k: int) -> Message:
        """Show version `k` (1-based) of the shown message `message_id`; the conversation
        below follows the branch last shown under it. Saved at once; returns the message
        now shown there. Raises KeyError / IndexError for a message or version that isn't,
        RuntimeError while a turn runs (it is writing into the branch shown)."""
        self._not_while_running("switch versions")
        message = tree.choose(self.conversation, message_id, k)
        self._save_change()
        return message

    def step_alternative(self, message_id: str, step: int) -> Message | None:
        """Show the previous (`step` -1) or next (+1) version of a shown message; None when
        there is none that way (nothing changes)."""
        k, n = self.alternatives(message_id)
        if not 1 <= k + step <= n:
            return None
        return self.choose_alternative(message_id, k + step)

    def fork(self, message_id: str | None = None) -> Conversation:
        """Start a new session holding this conversation up to `message_id` (with the
        results of its tool calls), or all of it, and continue in it; the original stays
        saved as it is, and the new one records where it came from. Saved at once.
        Raises `StoreError` when there is nothing to fork or it can't be saved."""
        from vllm_chat.core.store import StoreError

        store = self._need_store()
        if self.running:
            raise StoreError("a reply is still streaming: stop it first, then fork")
        conv = self.conversation
        try:
            count = tree.cut_after(conv, message_id) if message_id else len(conv.messages)
            forked = tree.fork_at(conv, count)
        except (KeyError, ValueError) as exc:
            raise StoreError(str(exc).strip("'\"")) from None
        self.save()
        store.save(forked)
        self.open_conversation(forked)
        return forked

    def take_save_outcomes(self) -> list[SaveOutcome]:
        """Saves since the last call that merged another window's changes in, or had to make
        this conversation a new session (its id changed); each has a `notice` for the user.
        The front end shows the conversation again when there are any."""
        return self.recorder.take_outcomes() if self.recorder is not None else []

    def disk_change(self) -> DiskChange | None:
        """How this conversation's file was changed by another process since this one last
        read or wrote it (None: no change, or nothing new since the last report: a reply
        streaming in the other window is reported once, not at every save). Cheap: one
        `stat` when nothing changed. Offer `reload` when it returns something."""
        if self.store is None or self.running:
            return None
        change = self.store.disk_change(self.conversation)
        if change is None or (change.new_messages == 0 and not change.deleted):
            self._reported_change = None
            return None
        last = self._reported_change
        if last is not None and last.deleted == change.deleted and change.new_messages <= last.new_messages:
            return None  # the other window is still streaming, or saved again with nothing new
        self._reported_change = change
        return change

    def reload(self) -> Conversation:
        """Show the conversation as its file holds it now, with the branch holding the newest
        message shown (what another window added). Unsaved changes here are saved (merged)
        first. Raises `StoreError` when the file can't be read, RuntimeError while a turn runs."""
        self._not_while_running("reload the conversation")
        self.save()
        conv = self._need_store().load(self.conversation.id)
        tree.show_latest(conv)
        if not conv.model:
            conv.model = self.conversation.model
        self.conversation = conv
        self.recorder = self._recorder_for(conv)
        self._reported_change = None
        return conv

    def _not_while_running(self, what: str) -> None:
        if self.running:
            raise RuntimeError(f"can't {what} while a reply is streaming: stop it first")

    def _save_change(self) -> None:
        self.conversation.touch()
        if self.recorder is not None:
            self.recorder.mark_changed()
        self.save()

    # ==== END issue 18 =====================================================================


def _was_cut(message: Message) -> bool:
    """A reply that ended before its end: stopped, failed, or cut at max_tokens."""
    return message.role == "assistant" and (
        message.status in ("stopped", "failed") or message.finish_reason == "length")
