"""Making room in a conversation: compaction (a summary the model writes in place of the
older turns) and leaving out the oldest turns. The originals always stay in the session
file (`Conversation.compactions`) and can be shown again.

A compaction is a turn like any other: `compact()` yields the engine's events
for the summary as it streams (Esc stops it through `stop()`, and nothing
changes then), between a `CompactionStarted` and a `CompactionFinished` that
carries the token counts before and after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from vllm_chat.core.context import compaction
from vllm_chat.core.context.compaction import (
    CompactionFinished,
    CompactionPlan,
    CompactionStarted,
)
from vllm_chat.core.context.request import turn_starts, with_messages
from vllm_chat.core.conversation import Compaction, Conversation, Message
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    TURN_ENDS,
    Event,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from vllm_chat.core.session.context import ContextPart
from vllm_chat.core.session.turns import TurnsPart
from vllm_chat.core.turn_request import TurnOptions

CompactionEvent = Event | CompactionStarted | CompactionFinished
"""What `ChatSession.compact` yields."""

_FIT_ATTEMPTS = 3
"""Times the transcript is shortened to fit the summary request into the window."""


class NothingToCompact(Exception):
    """The conversation has nothing older than the turns compaction keeps."""


class CompactionPart(TurnsPart, ContextPart):
    """Compacting, and leaving out the oldest turns."""

    def compaction_plan(self, keep_turns: int | None = None) -> CompactionPlan | None:
        """What `compact(keep_turns)` would summarise (None: nothing older to summarise)."""
        keep = self.settings.context.compact_keep_turns if keep_turns is None else keep_turns
        return compaction.plan(self.conversation, keep)

    def compaction_of(self, message_id: str) -> Compaction | None:
        """The record of what a summary (or the mark of left-out turns) stands for: the
        original messages, and the token counts before and after."""
        message = self.conversation.messages[self._index(message_id)]
        return self.conversation.compaction(message.compaction_id) if message.compaction_id else None

    async def compact(self, keep_turns: int | None = None) -> AsyncIterator[CompactionEvent]:
        """Summarise the older part of the conversation into one message, keeping the last
        `keep_turns` turns (default `context.compact_keep_turns`) as they are; the originals
        stay in the session file. Raises `NothingToCompact` when there is nothing older,
        and `ChatErrorException` when the server can't be asked."""
        if self.running:
            raise RuntimeError("a turn is running")
        found = self.compaction_plan(keep_turns)
        if found is None:
            keep = self.settings.context.compact_keep_turns if keep_turns is None else keep_turns
            raise NothingToCompact(f"There is nothing to compact: the conversation has no more than the last "
                                   f"{keep} turn{'s' if keep != 1 else ''} that compaction keeps "
                                   "(context.compact_keep_turns).")
        await self.ensure_model()
        conv = self.conversation
        before = await self._count(conv)
        yield CompactionStarted(found.cut, before.tokens, before.exact)
        window = self.context_window or before.max_model_len
        side, problem = await self._summary_request(conv, found, window)
        if problem is not None:
            yield TurnFailed(problem, None)
            return
        final: Event | None = None
        self._compacting = True
        try:
            async for event in self._engine.run(side, TurnOptions(tools_enabled=False, reply_room=self._reply_room)):
                self._follow(event)
                if isinstance(event, TurnStarted) and self._activity is not None:
                    self._mark_activity(replace(self._activity, task="compact"))
                if isinstance(event, TURN_ENDS):
                    final = event
                yield event
        finally:
            self._compacting = False
            if self._activity is not None:
                self._mark_activity(None)
        if not isinstance(final, TurnFinished) or conv is not self.conversation:
            return
        reply = final.message
        if not reply.content.strip():
            yield TurnFailed(ChatError(
                "bad_request", "The model wrote no summary (its reply had no text), so nothing was compacted.",
                "Try again, or pick another model for the compaction ({pick-model})."), reply)
            return
        stand_in = Message(role="user", content=reply.content.strip(), compaction_id="trial")
        after = await self._count(with_messages(conv, [stand_in, *conv.messages[found.cut:]]))
        if after.tokens >= before.tokens:
            yield TurnFailed(ChatError(
                "bad_request", f"The summary would not make the conversation shorter ({before.tokens:,} → "
                f"{after.tokens:,} tokens), so nothing was compacted.",
                "Compact later, when there is more to summarise, or leave out the oldest turns."), reply)
            return
        record, summary = compaction.apply_summary(conv, found.cut, reply.content, model=conv.model,
                                                   usage=reply.usage, tokens_before=before.tokens,
                                                   exact=before.exact)
        record.tokens_after, record.exact = after.tokens, before.exact and after.exact
        self._changed()
        yield CompactionFinished(record, summary)

    async def _summary_request(self, conv: Conversation, found: CompactionPlan,
                               window: int | None) -> tuple[Conversation, ChatError | None]:
        """The side conversation asking for the summary, its transcript shortened until the
        request leaves the summary its room in the window."""
        setting = self.settings.context.summary_max_tokens
        limit = compaction.summary_tokens(window, setting) if window else setting
        older = found.older(conv)
        budget = compaction.transcript_budget(window or 10 * limit, limit, self._meter.tokens_per_char)
        side = compaction.summary_conversation(conv, compaction.transcript(older, budget), limit)
        if window is None:
            return side, None
        options = TurnOptions(tools_enabled=False)
        for _ in range(_FIT_ATTEMPTS):
            count = await self._count(side, options)
            if count.tokens + limit <= window:
                return side, None
            budget = int(budget * (window - limit) / count.tokens * 0.9)
            side = compaction.summary_conversation(conv, compaction.transcript(older, budget), limit)
        return side, ChatError("context_length", "The older messages can't be shortened enough to be summarised "
                               f"within the {window:,}-token window.",
                               "Leave out the oldest turns instead, or start a new conversation ({new-conversation}).")

    async def leave_out_oldest_turns(self, turns: int) -> Compaction:
        """Take the `turns` oldest turns out of the conversation (the system prompt stays);
        they are kept in the session file, with a mark where they were."""
        if self.running:
            raise RuntimeError("a turn is running")
        conv = self.conversation
        starts = turn_starts(conv.messages)
        if not 0 < turns <= len(starts):
            raise ValueError(f"the conversation has {len(starts)} turns, not {turns}")
        before = await self._count(conv)
        cut = starts[turns] if turns < len(starts) else len(conv.messages)
        record, _ = compaction.leave_out(conv, cut, tokens_before=before.tokens, exact=before.exact)
        after = await self._count(conv)
        record.tokens_after, record.exact = after.tokens, before.exact and after.exact
        self._changed()
        return record

    def withdraw_prompt(self) -> Message | None:
        """Take back the last prompt before it was sent (the user chose to keep editing it
        rather than make room); returns it, or None when the last message is no such prompt."""
        conv = self.conversation
        if self.running or not conv.messages or not self._pending(None):
            return None
        prompt = conv.messages.pop()
        if not any(m.role == "user" and m.compaction_id is None for m in conv.messages):
            conv.title = ""  # it was titled from this prompt
        self._changed()
        return prompt
