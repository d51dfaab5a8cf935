"""The context a conversation takes: the exact size of the next request, kept up to date.

The front end hands over the draft on every change (`set_draft`, which only
stores it); after a short pause the request the draft would make is built
exactly as the engine builds it (`Engine.request_for`) and counted by the
server's `/tokenize` in the background. Until the count arrives, or when the
server can't count, the status carries an estimate and says so. Any other
change that alters the next request (a turn, the model, tools, another
conversation, the connection) is noticed in `_status_changed` and counted
again at once.

Also here: the check before sending (`check_send`, with the ways to make
room), the breakdown of a count by part, the room left for a reply (the
`max_tokens` clamp), and the one-time remark when tool schemas take a large
share of the window.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from vllm_chat.core.context import fit
from vllm_chat.core.context.compaction import plan, summary_tokens
from vllm_chat.core.context.meter import SHORT_PROBLEM, ContextCount, ContextMeter
from vllm_chat.core.context.request import (
    Measured,
    Prefix,
    attachment_tokens,
    draft_message,
    measure,
    media_of,
    tokenize_body,
    turn_starts,
    with_draft,
    with_messages,
)
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.prompting.mentions import MentionError, mentioned_paths, plain_text, resolve_mentions
from vllm_chat.core.session.base import SessionBase
from vllm_chat.core.session.status import SessionStatus
from vllm_chat.core.session.workbench import WorkbenchPart
from vllm_chat.core.turn_request import TurnOptions, default_messages

CHECK_WAIT = 2.0
"""Seconds a send waits for the server's count before it goes by the estimate (a slow
`/tokenize` must not hold messages back)."""


@dataclass(frozen=True)
class Breakdown:
    """A count split by what takes the tokens."""

    total: int
    """The whole prompt of the next request."""
    total_exact: bool
    """Whether `total` is the server's count."""
    exact: bool
    """Whether every part is the server's count (else some are estimates)."""
    max_model_len: int | None
    """The context window."""
    parts: tuple[tuple[str, int], ...]
    """(part, tokens): system prompt (with the template's own tokens), history, draft,
    attachments, tools; each is what the request would be without it, less."""
    note: str = ""
    """Why some figures are estimates ('' when exact)."""


@dataclass(frozen=True)
class _Basis:
    """The last figure for the next request, and what it was a figure of."""

    history: tuple[Any, ...]
    draft_version: int
    draft_chars: int
    draft_media: int
    count: ContextCount


class ContextPart(WorkbenchPart):
    """Counting the next request and keeping it within the context window (the draft is
    read as the workbench would send it, `@path` mentions included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._meter = ContextMeter()
        self._draft_text = ""
        self._draft_attachments: list[Attachment] = []
        self._draft_version = 0
        self._basis: _Basis | None = None
        self._seen: tuple[Any, ...] | None = None
        self._target: tuple[str, str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._compacting = False
        self._tool_tokens: dict[str, int] = {}
        self._notice = ""
        self._prefix: tuple[tuple[Any, ...], Prefix] | None = None
        super().__init__(*args, **kwargs)

    def _server_changed(self) -> None:
        self._meter.stop()
        self._meter = ContextMeter()  # another server counts for itself (or can't)
        self._seen = None
        super()._server_changed()

    async def aclose(self) -> None:
        """Stop counting, then close as the session does."""
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._meter.stop()
        await super().aclose()

    # -- the draft --------------------------------------------------------------------------

    def set_draft(self, text: str, attachments: list[Attachment] | None = None) -> None:
        """The text and attachments the user is writing now. Cheap enough for every key:
        it stores them, moves the estimate, and counts again after `context.recount_delay`."""
        atts = list(attachments or [])
        if text == self._draft_text and atts == self._draft_attachments:
            return
        before = self._context_now()
        self._draft_text, self._draft_attachments = text, atts
        self._draft_version += 1
        self._schedule(self.settings.context.recount_delay)
        if self._context_now() != before:
            SessionBase._status_changed(self)

    @property
    def draft(self) -> str:
        """The text the front end said the user is writing."""
        return self._draft_text

    # -- status ------------------------------------------------------------------------------

    def status(self) -> SessionStatus:
        tokens, exact, note = self._context_now()
        problem = self._meter.problem
        return replace(super().status(), context_used=tokens, context_exact=exact, context_note=note,
                       context_problem=SHORT_PROBLEM[problem.kind] if problem is not None else "",
                       context_min_reply=self._min_reply(), context_notice=self._notice)

    @property
    def context_window(self) -> int | None:
        """`max_model_len` of the current model: from the model list, else from `/tokenize`."""
        return super().context_window or self._meter.max_model_len

    def _min_reply(self) -> int:
        wanted = self.conversation.params.max_tokens
        setting = self.settings.context.min_reply_tokens
        return min(setting, wanted) if wanted else setting

    def _history_key(self) -> tuple[Any, ...]:
        """What the next request depends on besides the draft (cheap: no message is read)."""
        conv = self.conversation
        tools = self._engine.tools
        return (id(conv), conv.updated_at, len(conv.messages), conv.model, conv.system_prompt,
                id(conv.params), self.tools_on, tools.changes if tools is not None else 0,
                id(self.media_policy), self._connection)

    def _context_now(self) -> tuple[int | None, bool, str]:
        """(tokens, exact, note) for the status: the last count when nothing changed since,
        else that count moved by the draft's change in characters."""
        basis = self._basis
        if basis is None or (basis.history != self._history_key() and not self._engine.running):
            # Not counted yet: what the last reply's usage says, until the count comes.
            used = self._context_used if self._context_used is not None else \
                (basis.count.tokens if basis is not None else None)
            return used, False, "counting…"
        count = basis.count
        if self._engine.running:
            if self._compacting:
                return count.tokens, count.exact, count.note
            return count.tokens + self._tokens, False, "the reply is streaming"
        if basis.draft_version == self._draft_version:
            return count.tokens, count.exact, count.note if not count.exact else ""
        moved = round((len(self._draft_text) - basis.draft_chars) * self._meter.tokens_per_char)
        moved += attachment_tokens(self._draft_attachments) - basis.draft_media
        return max(0, count.tokens + moved), False, self._meter.why_estimate()

    # -- noticing changes --------------------------------------------------------------------

    def _status_changed(self) -> None:
        self._watch()
        super()._status_changed()

    def _watch(self) -> None:
        """Count again when something the next request depends on changed."""
        key = self._history_key()
        if key != self._seen:
            self._seen = key
            target = (self.settings.base_url, self.conversation.model)
            if target != self._target:
                self._target = target
                self._meter.try_again()
                self._notice = ""
            self._schedule(0)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a script building a session): counted when asked
        self._timer = loop.call_later(delay, self._start_count)

    def _start_count(self) -> None:
        self._timer = None
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._recount())

    async def _recount(self) -> None:
        while True:
            self._again = False
            try:
                await self._recount_once()
            except Exception as exc:  # a background count must never take the session down
                self._meter.problem = _internal(exc)
            if not self._again:
                return

    async def _recount_once(self) -> None:
        if self._engine.running:
            self._schedule(0.25)  # the conversation is still growing: count once the turn is over
            return
        conv, version, chars = self.conversation, self._draft_version, len(self._draft_text)
        media = attachment_tokens(self._draft_attachments)
        history = self._history_key()
        request = self._next_request(conv, self._draft_for_count(self._draft_text, self._draft_attachments))
        ask = self._may_ask(conv)
        basis = self._basis
        if self._meter.known(request) is None and (basis is None or basis.history != history):
            # A new history: estimate it now. (While only the draft changes, the estimate
            # already moves with each key, see `_context_now`.)
            self._set_basis(_Basis(history, version, chars, media, self._meter.guess(request)))
        count = await self._meter.count(self._client, request, timeout=self.settings.context.count_timeout,
                                        ask=ask)
        if conv is self.conversation and history == self._history_key():
            self._set_basis(_Basis(history, version, chars, media, count))
            if count.exact and self.tools_on:
                await self._check_tools()

    def _set_basis(self, basis: _Basis) -> None:
        self._basis = basis
        # The listeners only: `self._status_changed` would look for something to count again.
        SessionBase._status_changed(self)

    # -- counting ------------------------------------------------------------------------------

    def _measure(self, conv: Conversation, options: TurnOptions | None = None) -> Measured:
        """The request a turn on `conv` would send now, measured for counting."""
        return measure(self._request_for(conv, options or self.options()), media_of(conv))

    def _request_for(self, conv: Conversation, options: TurnOptions) -> dict[str, Any]:
        """`Engine.request_for`; when a media file the conversation refers to can't be read
        (gone, or the session file was edited), the request without media: counting goes on,
        and sending says what is wrong with the attachment."""
        try:
            return self._engine.request_for(conv, options)
        except AttachmentError:
            return self._engine.request_for(conv, replace(options, media_policy=_leave_out_media(conv)))

    def _next_request(self, conv: Conversation, draft: Message | None) -> Measured:
        """The request the draft would make, measured. Typed key by key in a long
        conversation, so the history's part is built and encoded once per change and
        only the draft's message per key; it is the same request, byte for byte, as
        `_measure(with_draft(conv, draft))` builds (where adding the draft could change
        earlier messages, that is what is used)."""
        options = self.options()
        policy = options.media_policy
        if draft is None or not conv.messages or conv.messages[-1].is_summary or conv.kind == "completion" \
                or (policy is not None and not policy.drop_all):
            return self._measure(with_draft(conv, draft), options)
        key = self._history_key()
        if self._prefix is None or self._prefix[0] != key:
            self._prefix = (key, Prefix(tokenize_body(self._request_for(conv, options))))
        last = default_messages(with_messages(conv, [draft]), options)[-1]
        return self._prefix[1].measure(last, attachment_tokens([*media_of(conv), *draft.attachments]))

    async def _count(self, conv: Conversation, options: TurnOptions | None = None, *,
                     wait: float | None = None) -> ContextCount:
        """The prompt of a turn on `conv` (the conversation as it stands, or a variant);
        `wait`: seconds to wait for the server before taking the estimate."""
        request = self._measure(conv, options)
        if request.empty:
            return ContextCount(0, True, self.context_window)  # nothing to send (templates refuse it)
        return await self._meter.count(self._client, request, timeout=self.settings.context.count_timeout,
                                       ask=self._may_ask(conv), wait=wait)

    def _draft_for_count(self, text: str, attachments: list[Attachment]) -> Message | None:
        """The message the draft would become, as `prepare` makes it: the text of mentioned
        files included (a file that looks like a secret is left out: counting must not send
        it anywhere before the user agreed), media mentions not (their tokens are estimated
        once they are attached)."""
        if not mentioned_paths(text):
            return draft_message(text, attachments)
        try:
            resolved = resolve_mentions(text, self._root, max_bytes=self.settings.mentions.max_file_kb * 1024,
                                        secret_patterns=self._secret_patterns(), allow_secrets=False)
        except MentionError:
            return draft_message(text, attachments)  # sending would say why; count what is typed
        return Message(role="user", content=plain_text(text), attachments=list(attachments), files=resolved.files)

    def _may_ask(self, conv: Conversation) -> bool:
        """Whether to ask the server to count: it names a model and is not known to be
        unreachable or unusable (one-shot mode counts without asking for the model list)."""
        return bool(conv.model) and self._connection in ("connected", "connecting")

    async def count_now(self, text: str | None = None, attachments: list[Attachment] | None = None) -> ContextCount:
        """The prompt the next request would send with this draft (default: the draft set
        with `set_draft`), counted by the server now when it can."""
        if text is None:
            text, attachments = self._draft_text, self._draft_attachments
        request = self._next_request(self.conversation, self._draft_for_count(text, attachments or []))
        count = await self._meter.count(self._client, request, timeout=self.settings.context.count_timeout,
                                        ask=self._may_ask(self.conversation))
        if count.max_model_len is None and self.context_window:
            count = replace(count, max_model_len=self.context_window)
        return count

    async def _reply_room(self, request: dict[str, Any]) -> int | None:
        window = self.context_window
        if not window:
            return None
        count = await self._meter.count(self._client, measure(request, media_of(self.conversation)),
                                        timeout=self.settings.context.count_timeout,
                                        ask=self._may_ask(self.conversation), wait=CHECK_WAIT)
        # An estimate can be wrong either way: leave it a margin.
        return window - (count.tokens if count.exact else int(count.tokens * 1.05) + 16)

    async def context_breakdown(self) -> Breakdown:
        """The next request's count split into system prompt, history, draft, attachments and
        tools, each the difference it makes (a few extra counts, so only on demand)."""
        conv = self.conversation
        full_draft = draft_message(self._draft_text, self._draft_attachments)
        bare_draft = draft_message(self._draft_text)
        no_tools = replace(self.options(), tools_enabled=False)
        no_media = replace(no_tools, media_policy=_leave_out_media(conv))
        counts = [
            await self._count(with_draft(conv, full_draft)),
            await self._count(with_draft(conv, full_draft), no_tools),
            await self._count(with_draft(conv, bare_draft), no_media),
            await self._count(conv, no_media),
        ]
        system = await self._count(with_messages(conv, []), no_media) if conv.system_prompt else None
        total, without_tools, without_media, without_draft = (c.tokens for c in counts)
        base = system.tokens if system is not None else 0
        parts = (("system prompt", base), ("history", without_draft - base), ("draft", without_media - without_draft),
                 ("attachments", without_tools - without_media), ("tools", total - without_tools))
        every = [*counts, *([system] if system else [])]
        exact = all(c.exact for c in every)
        note = next((c.note for c in every if not c.exact), "")
        sizes = tuple((name, max(0, tokens)) for name, tokens in parts)
        return Breakdown(total, counts[0].exact, exact, self.context_window, sizes, note)

    async def _check_tools(self) -> None:
        """Say once when the tool schemas alone take more than `context.tools_notice_share`."""
        window, tools = self.context_window, self._engine.tools
        if not window or tools is None or self._notice:
            return
        specs = tools.specs()
        if not specs:
            return
        key = hashlib.blake2b(json.dumps([self.conversation.model, specs], sort_keys=True).encode(),
                              digest_size=12).hexdigest()
        if key not in self._tool_tokens:
            probe = Conversation(model=self.conversation.model, messages=[Message(role="user", content="hi")])
            on = await self._count(probe, replace(self.options(), tools_enabled=True, media_policy=None))
            off = await self._count(probe, replace(self.options(), tools_enabled=False, media_policy=None))
            if not (on.exact and off.exact):
                return
            self._tool_tokens[key] = on.tokens - off.tokens
        cost = self._tool_tokens[key]
        if cost > self.settings.context.tools_notice_share * window:
            self._notice = fit.tools_notice(cost, window)
            SessionBase._status_changed(self)

    # -- the check before sending ------------------------------------------------------------------

    async def check_send(self, text: str = "", attachments: list[Attachment] | None = None, *,
                         patient: bool = False) -> fit.SendCheck:
        """Measure the request this prompt would make against the context window (no
        prompt: the conversation as it stands, its last message the prompt to answer);
        when it would not fit, say how to make room (`SendCheck.offers`). `patient`: wait for
        the server's count up to `context.count_timeout`, not `CHECK_WAIT` (one-shot mode)."""
        conv, window, min_reply = self.conversation, self.context_window, self._min_reply()
        draft = self._draft_for_count(text, attachments or [])
        timeout = self.settings.context.count_timeout
        now = await self._count(with_draft(conv, draft), wait=timeout if patient else min(CHECK_WAIT, timeout))
        share = self.settings.context.auto_compact_at
        auto = bool(share and window and now.tokens > share * window
                    and plan(conv, self.settings.context.compact_keep_turns) is not None)
        if draft is None:  # the conversation as it is sent: the meter shows this from now on
            self._set_basis(_Basis(self._history_key(), self._draft_version, len(self._draft_text),
                                   attachment_tokens(self._draft_attachments), now))
        check = fit.SendCheck(now.tokens, now.exact, window, min_reply, auto_compact=auto)
        if check.fits or window is None:
            return check
        offers = [o for o in (await self._compact_offer(draft, window, min_reply),
                              await self._drop_offer(draft, window, min_reply),
                              await self._media_offer(draft, attachments or [], now, window, min_reply),
                              await self._tools_offer(draft, now, window, min_reply)) if o is not None]
        offers.append(fit.send_offer(now.exact))
        return replace(check, offers=tuple(offers))

    async def _compact_offer(self, draft: Message | None, window: int, min_reply: int) -> fit.Offer | None:
        conv, summary = self.conversation, summary_tokens(window, self.settings.context.summary_max_tokens)
        best = None
        # The prompt waiting to be answered is never summarised.
        least = 1 if self._pending(draft) else 0
        for keep in range(max(least, self.settings.context.compact_keep_turns), least - 1, -1):
            found = plan(conv, keep)
            if found is None:
                continue
            kept = await self._count(with_draft(with_messages(conv, conv.messages[found.cut:]), draft))
            fits = kept.tokens + summary + min_reply <= window
            offer = fit.compact_offer(found.cut, keep, fits if kept.exact else None)
            offer = replace(offer, turns=keep)
            if fits:
                return offer
            best = best or offer
        return best

    async def _drop_offer(self, draft: Message | None, window: int, min_reply: int) -> fit.Offer | None:
        conv = self.conversation
        starts = turn_starts(conv.messages)
        if self._pending(draft):
            starts = starts[:-1]  # the prompt waiting to be answered stays

        async def spare(turns: int) -> int:
            cut = starts[turns] if turns < len(starts) else len(conv.messages) - (1 if self._pending(draft) else 0)
            count = await self._count(with_draft(with_messages(conv, conv.messages[cut:]), draft))
            return window - count.tokens - min_reply

        if not starts or await spare(len(starts)) < 0:
            return None
        low, high = 1, len(starts)
        while low < high:  # the fewest turns that make it fit
            middle = (low + high) // 2
            if await spare(middle) >= 0:
                high = middle
            else:
                low = middle + 1
        cut = starts[low] if low < len(starts) else len(conv.messages) - (1 if self._pending(draft) else 0)
        return fit.drop_offer(low, cut, await spare(low))

    def _pending(self, draft: Message | None) -> bool:
        """Whether the conversation's last message is the prompt being checked (no draft)."""
        messages = self.conversation.messages
        return draft is None and bool(messages) and messages[-1].role == "user" \
            and messages[-1].compaction_id is None

    async def _media_offer(self, draft: Message | None, attachments: list[Attachment], now: ContextCount,
                           window: int, min_reply: int) -> fit.Offer | None:
        conv = self.conversation
        earlier = len(media_of(conv)) if self.media_policy is None or not self.media_policy.drop_all else 0
        if not attachments and not earlier:
            return None
        bare = draft_message(draft.content) if draft is not None else None
        after = await self._count(with_draft(conv, bare), replace(self.options(), media_policy=_leave_out_media(conv)))
        return fit.attachments_offer(len(attachments), earlier, now.tokens - after.tokens,
                                     after.tokens + min_reply <= window)

    async def _tools_offer(self, draft: Message | None, now: ContextCount, window: int,
                           min_reply: int) -> fit.Offer | None:
        if not self.tools_on or self._engine.tools is None or not self._engine.tools.names():
            return None
        conv = with_draft(self.conversation, draft)
        now = now if now.exact else await self._count(conv)  # counts of one kind, not an estimate
        after = await self._count(conv, replace(self.options(), tools_enabled=False))
        return fit.tools_offer(now.tokens - after.tokens, after.tokens + min_reply <= window)

    def leave_out_attachments(self) -> None:
        """Send no earlier attachment in this conversation's requests (each becomes a note)
        while its model is in use; the front end drops the draft's own."""
        self._media_policy = _leave_out_media(self.conversation)
        self._status_changed()


def _leave_out_media(conv: Conversation) -> Any:
    from vllm_chat.core.media.policy import MediaPolicy

    return MediaPolicy(conv.id, conv.model, drop_all=True)


def _internal(exc: Exception) -> Any:
    from vllm_chat.core.tokenize import CountProblem

    return CountProblem("failed", f"counting failed: {type(exc).__name__}: {exc}")
