"""What the chat screen does about the context window: hands the draft to the session as it
changes (the header's meter follows), shows the breakdown, compacts (`/compact`, its key,
the palette), and before a message is sent offers the ways to make room when it would not
fit. The one-time remark about tool schemas is shown here too.

A mixin of `ChatScreen` (plain `on_...` handler names: Textual's @on decorator is only
collected from classes its metaclass builds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.widgets import TextArea

from vllm_chat.core import format as fmt
from vllm_chat.core.attachments import PreparedAttachment
from vllm_chat.core.context.compaction import CompactionFinished, CompactionStarted
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.events import ContentDelta, TurnFailed, TurnStopped
from vllm_chat.core.session import NothingToCompact, SessionStatus
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.attachment_bar import AttachmentBar

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.ui.screens.chat import ChatScreen
    from vllm_chat.ui.widgets.compaction_views import CompactionPanel

MAX_ROUNDS = 6
"""Ways to make room tried for one message before it is sent as it is."""


class ContextActions:
    """The draft, the breakdown, compaction, and making room before a send."""

    # -- the draft ------------------------------------------------------------------------------

    def on_text_area_changed(self: ChatScreen, event: TextArea.Changed) -> None:
        if event.text_area is self.prompt:
            self.session.set_draft(self.prompt.text, self.attachments.attachments)

    def on_attachment_bar_changed(self: ChatScreen, event: AttachmentBar.Changed) -> None:
        self.session.set_draft(self.prompt.text, event.attachments)

    def show_context_notice(self: ChatScreen, status: SessionStatus) -> None:
        """Say the session's remark about the context once (tool schemas taking the window)."""
        if status.context_notice and status.context_notice not in self._notices_shown:
            self._notices_shown.add(status.context_notice)
            self.notify(with_keys(self.app, status.context_notice), title="Context", severity="warning",
                        timeout=15, markup=False)

    # -- the breakdown ------------------------------------------------------------------------------

    @work(exclusive=True, group="context", exit_on_error=False)
    async def action_show_context(self: ChatScreen) -> None:
        """Show what the next request takes of the window, part by part."""
        from vllm_chat.ui.screens.context_view import ContextScreen

        breakdown = await self.session.context_breakdown()
        await self.app.push_screen(ContextScreen(breakdown, tools_on=self.session.tools_on))

    # -- compaction ------------------------------------------------------------------------------

    def action_compact(self: ChatScreen) -> None:
        """Summarise the older turns into one message (the originals stay in the session file)."""
        if self.session.running or self._turn_pending:
            self.notify("A reply is still streaming: esc stops it, then compact.", severity="warning", markup=False)
            return
        self._turn_pending = True
        self._stop_requested = False
        self._compact_worker()

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def _compact_worker(self: ChatScreen) -> None:
        try:
            await self.compact_now()
        finally:
            self._turn_pending = self._stop_requested = False
            self.show_status()

    async def compact_now(self: ChatScreen, keep_turns: int | None = None) -> bool:
        """Run a compaction, streaming the summary below the conversation (esc stops it);
        True when the conversation was compacted."""
        panel: CompactionPanel | None = None
        ticker = self.set_interval(0.5, self.show_status)
        try:
            async for event in self.session.compact(keep_turns):
                if self._stop_requested:
                    self.session.stop()
                match event:
                    case CompactionStarted():
                        panel = self.messages.start_compaction(event)
                    case ContentDelta(text=text) if panel is not None:
                        panel.append(text)
                    case CompactionFinished(compaction=record):
                        self.show_conversation()
                        about = "" if record.exact else "~"
                        self.notify(f"Compacted {len(record.messages)} earlier messages: "
                                    f"{about}{fmt.count(record.tokens_before or 0)} → "
                                    f"{about}{fmt.count(record.tokens_after or 0)} tokens. The originals are "
                                    "kept in the session file.", title="Compacted", markup=False)
                        return True
                    case TurnStopped():
                        self.notify("Compaction stopped: nothing changed.", title="Compaction", markup=False)
                    case TurnFailed(error=error):
                        self.notify(f"{error.message} {with_keys(self.app, error.hint)}".strip(),
                                    title="Compaction failed", severity="error", markup=False)
        except NothingToCompact as exc:
            self.notify(str(exc), title="Compaction", severity="warning", markup=False)
        except ChatErrorException as exc:
            self.notify(str(exc.error), title="Compaction failed", severity="error", markup=False)
        finally:
            ticker.stop()
            if panel is not None and panel.is_attached:
                panel.remove()
        return False

    # -- making room before a send ------------------------------------------------------------------

    async def make_room(self: ChatScreen, *, sent: bool) -> bool:
        """Check that the next request fits (compacting first when `context.auto_compact_at`
        says so); when it does not, offer the ways to make room. True: send now. False: the
        user kept the message to edit (a just-sent prompt goes back into the prompt box)."""
        from vllm_chat.ui.screens.room_offers import RoomOffersScreen

        compacted = False
        for _ in range(MAX_ROUNDS):
            check = await self.session.check_send()
            if check.auto_compact and not compacted:
                compacted = True
                if not await self.compact_now():
                    return self._give_back(sent)
                continue
            if check.fits:
                return True
            choice = await self.app.push_screen_wait(RoomOffersScreen(check))
            offer = check.offer(choice) if choice else None
            if offer is None:
                return self._give_back(sent)
            match offer.kind:
                case "send":
                    return True
                case "compact":
                    if not await self.compact_now(keep_turns=offer.turns):
                        return self._give_back(sent)
                case "drop":
                    record = await self.session.leave_out_oldest_turns(offer.turns)
                    self.show_conversation()
                    self.notify(f"Left out the {offer.turns} oldest turns ({len(record.messages)} messages); "
                                "they are kept in the session file.", title="Context", markup=False)
                case "attachments":
                    self.session.leave_out_attachments()
                    self.notify("Attachments are left out of this conversation's requests (each becomes a "
                                "note) while this model is in use.", title="Context", markup=False)
                case "tools":
                    self.session.set_tools(False)
                    self.notify(with_keys(self.app, "Tools off for this conversation ({toggle-tools} switches "
                                          "them back on)."), title="Tools", markup=False)
        return True

    def _give_back(self: ChatScreen, sent: bool) -> bool:
        """Nothing is sent: a just-sent prompt goes back into the prompt box."""
        if sent and self.session.withdraw_prompt() is not None:
            self.show_conversation()
            text, attachments = self.sent_prompt or ("", [])
            typed = self.prompt.text  # typed since Enter: kept after the message, never lost
            self.prompt.load_text(text + (f"\n{typed}" if typed.strip() else ""))
            self.prompt.move_cursor(self.prompt.document.end)
            for attachment in attachments:
                self.attachments.add(PreparedAttachment(attachment, None))
        self.prompt.focus()
        return False
