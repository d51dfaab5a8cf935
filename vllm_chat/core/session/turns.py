"""Turns: sending a prompt, running the reply (with its tools), stopping it, and
doing a turn again (retry, edit and resend, continue)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import replace

from vllm_chat.core import tree
from vllm_chat.core.conversation import Message
from vllm_chat.core.events import (
    TURN_ENDS,
    ContentDelta,
    Event,
    ReasoningDelta,
    ServerBusy,
    ToolApprovalNeeded,
    ToolCallDelta,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
    UsageUpdated,
)
from vllm_chat.core.session.generation import GenerationPart
from vllm_chat.core.session.status import Activity, ActivityPhase
from vllm_chat.core.turn_request import TurnOptions
from vllm_chat.core.urls import redact_url


class TurnsPart(GenerationPart):
    """Running turns and changing what a turn answers."""

    @property
    def running(self) -> bool:
        """True while a turn streams or runs tools."""
        return self._engine.running

    async def run(self, options: TurnOptions | None = None) -> AsyncGenerator[Event, None]:
        """Run a turn on the conversation as it stands, saving as it goes.

        Besides the saves the recorder makes on events, the loop wakes up when
        no event came for a while (a stalled stream, a long tool run) so that
        text received before the stall reaches the disk too. The status
        (`activity`, context use) follows the events.
        """
        opts = await self._with_window(options or self.options())
        async with aclosing(self._recorded(
                lambda on_idle, every: self._engine.run(self.conversation, opts, on_idle=on_idle,
                                                        idle_every=every))) as events:
            async for event in events:
                yield event

    async def _recorded(self, start: Callable[[Callable[[bool], None] | None, float], AsyncGenerator[Event, None]]
                        ) -> AsyncGenerator[Event, None]:
        """Yield the events of the engine run `start(on_idle, idle_every)` begins, saving and
        following them (shared by plain turns and candidate runs)."""
        self.conversation.base_url = redact_url(self.settings.base_url)
        recorder = self._recorder
        on_idle = recorder.idle if recorder is not None else None
        idle_every = min(1.0, recorder.interval / 2) if recorder is not None else 1.0
        ended = False
        # Closed here (and by those who yield from this), not whenever it is collected: a
        # consumer may stop at the turn's end, and the engine's idle watch would go on.
        try:
            async with aclosing(start(on_idle, idle_every)) as events:
                async for event in events:
                    self._note_generation(event)  # the reply's check is saved with it
                    if recorder is not None:
                        saving = time.monotonic()
                        recorder.observe(event)
                        if not isinstance(event, TURN_ENDS):
                            # A long history's save. (The turn's end goes on at once: a prompt sent
                            # right after must find the turn over.)
                            await self._engine.loop_share.after_long_step(saving)
                    self._follow(event)
                    ended = isinstance(event, TURN_ENDS)
                    yield event
        finally:
            if not ended:  # e.g. the consumer was cancelled mid-turn
                if self._activity is not None:
                    self._mark_activity(None)
                self._flush()
        if recorder is not None:
            # The turn's last save is written in a thread. A consumer that stops taking events
            # at the turn's end (the chat screen, so that a prompt sent then finds the turn
            # over) leaves it to finish on its own; one that takes them all has a complete file.
            await recorder.settled()

    def _follow(self, event: Event) -> None:
        """Keep the status in step with the turn: what it is doing, and the context it takes."""
        activity = self._activity
        match event:
            case TurnStarted():
                now = self._now()
                self._tokens, self._first_token_at = 0, None
                self._mark_activity(Activity("waiting", since=now, sent_at=now))
            case ServerBusy(wait=wait) if activity is not None:
                now = self._now()
                self._mark_activity(replace(activity, phase="busy", since=now, retry_at=now + wait))
            case ContentDelta():
                self._streamed(activity, "answering")
            case ReasoningDelta():
                self._streamed(activity, "thinking")
            case ToolCallDelta():
                self._streamed(activity, "calling")
            case ToolApprovalNeeded(call=call) if activity is not None:
                self._mark_activity(replace(activity, phase="approval", since=self._now(), tool=call.name))
            case ToolRunning(call=call) if activity is not None:
                self._mark_activity(replace(activity, phase="tool", since=self._now(), tool=call.name))
            case ToolResult() if activity is not None:
                self._mark_activity(replace(activity, phase="waiting", since=self._now(), tool=None))
            case UsageUpdated(usage=usage):
                self._context_used = usage.prompt_tokens + usage.completion_tokens
                self._status_changed()
            case TurnFinished() | TurnStopped() | TurnFailed():
                self._mark_activity(None)

    def _streamed(self, activity: Activity | None, phase: ActivityPhase) -> None:
        """One more piece of the reply arrived. This runs per token, so it only counts;
        the listeners hear of a change of phase, and front ends redraw speed on a timer."""
        self._tokens += 1
        if activity is not None and phase != activity.phase:
            now = self._now()
            if self._first_token_at is None:
                self._first_token_at = now
            self._mark_activity(replace(activity, phase=phase, since=now, tool=None))

    def stop(self) -> bool:
        """Stop the running turn; False if none was running."""
        return self._engine.stop()

    # -- doing a turn again ---------------------------------------------------------------

    def rewind_to_last_user(self) -> bool:
        """Set aside everything after the last user message (kept as an earlier version:
        the reply run next becomes the newest one) so the turn can be run again. False if
        there is no user message to answer."""
        conv = self.conversation
        last_user = next((i for i in range(len(conv.messages) - 1, -1, -1)
                          if _is_prompt(conv.messages[i])), None)
        if last_user is None:
            return False
        if tree.set_aside(conv, last_user + 1):
            self._changed()
        return True

    def _index(self, message_id: str) -> int:
        for i, message in enumerate(self.conversation.messages):
            if message.id == message_id:
                return i
        raise KeyError(message_id)

    def edit_user_message(self, message_id: str, text: str) -> Message:
        """Send an earlier prompt again, changed: the new prompt becomes the newest version of
        that message, and the old one, with what followed it, stays as an earlier version.
        Returns the new user message, ready to run."""
        index = self._index(message_id)
        old = self.conversation.messages[index]
        if not _is_prompt(old):
            raise ValueError("only your own messages can be edited")
        tree.set_aside(self.conversation, index)
        message = self.conversation.add(Message(role="user", content=text, attachments=list(old.attachments)))
        self._changed()
        return message

    def delete_message(self, message_id: str) -> list[Message]:
        """Remove a message from the conversation (kept in the session file, saved at once).
        An assistant message takes the tool results that answer its calls with it, so the
        history stays valid."""
        conv = self.conversation
        index = self._index(message_id)
        message = conv.messages[index]
        end = index + 1
        if message.role == "assistant" and message.tool_calls:
            ids = {c.id for c in message.tool_calls}
            while end < len(conv.messages) and conv.messages[end].role == "tool" \
                    and conv.messages[end].tool_call_id in ids:
                end += 1
        removed = tree.remove(conv, index, end)
        if removed:
            self._context_used = self._last_usage()
            self._changed()
        return removed

    def actions_for(self, message_id: str) -> list[str]:
        """What can be done with a message, in menu order: `copy`, `copy-code`, `edit`,
        `regenerate`, `continue`, `toggle-reasoning`, `logprobs` (the confidence view),
        `request` (the exact request and the rendered prompt), `previous-version`,
        `next-version`, `fork`, `delete` (for a compaction's summary or mark: `copy`,
        `originals`, `delete`)."""
        from vllm_chat.core.markdown_code import code_blocks

        conv = self.conversation
        index = self._index(message_id)
        message = conv.messages[index]
        is_last_reply = message.role == "assistant" and all(
            m.role in ("assistant", "tool") for m in conv.messages[index + 1:])
        if message.compaction_id is not None:
            return (["copy"] if message.content else []) + ["originals", "delete"]
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
        if message.logprobs is not None and message.logprobs.count:
            actions.append("logprobs")
        if message.request is not None:
            actions.append("request")
        version = tree.versions(conv).get(message.id)
        if version is not None and version[0] > 1:
            actions.append("previous-version")
        if version is not None and version[0] < version[1]:
            actions.append("next-version")
        if self.saves:
            actions.append("fork")
        actions.append("delete")
        return actions

    def code_blocks_of(self, message_id: str) -> list[tuple[str, str]]:
        """The fenced code blocks of a message, as (label, code), in order."""
        from vllm_chat.core.markdown_code import code_blocks

        message = self.conversation.messages[self._index(message_id)]
        return [(block.label, block.code) for block in code_blocks(message.content)]

    def can_regenerate(self) -> bool:
        """Whether there is a reply (or a failed turn) after the last prompt to do again."""
        conv = self.conversation
        return bool(conv.messages) and conv.messages[-1].role != "user" and any(
            _is_prompt(m) for m in conv.messages)

    def can_continue(self) -> bool:
        """Whether the last message is a reply that can be continued (stopped or cut; in
        completion mode, any reply with text)."""
        conv = self.conversation
        if not conv.messages:
            return False
        last = conv.messages[-1]
        # Calls in the last message never got results (they were cut off, or the app
        # stopped first); continuing drops them and carries on with the text. A reply
        # with no answer text yet (cut while thinking) can't be continued: vLLM isn't
        # sent the reasoning back, so it would start thinking again from scratch.
        if self.completion_mode:  # a document can always be continued further
            return last.role == "assistant" and bool(last.content)
        return last.was_cut and bool(last.content)

    def cut_while_thinking(self) -> bool:
        """Whether the last reply stopped or was cut before any answer text, mid-reasoning."""
        conv = self.conversation
        last = conv.messages[-1] if conv.messages else None
        return last is not None and last.was_cut and not last.content and bool(last.reasoning)

    # -- titles ------------------------------------------------------------------------------

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
            response = await self._client.complete(request)
        except Exception:
            return None  # a title is a nicety; the turn already succeeded
        choices = getattr(response, "choices", None) or []
        title = clean_model_title(choices[0].message.content or "") if choices else None
        if title and conv is self.conversation:
            conv.title = title
            self._changed()
        return title


def _is_prompt(message: Message) -> bool:
    """Whether `message` is something the user wrote (not a compaction's summary or mark)."""
    return message.role == "user" and message.compaction_id is None
