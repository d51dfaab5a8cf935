"""What the chat screen does with what the user writes before it is sent: suggestions
for `@file` and `/prompt` as they type, saved prompts (with a form for their variables),
mentioned files that look like secrets, the queue of prompts sent while a reply
streams, and images pasted from the clipboard.

A mixin of `ChatScreen` (plain `on_...` handler names: Textual's @on decorator is only
collected from classes its metaclass builds). The decisions are the session's
(`prepare`, `completion`, `use_template`, `enqueue`, `next_queued`); this only asks
and shows.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import TextArea

from vllm_chat.core.attachments import PreparedAttachment
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.prompting.mentions import MentionError
from vllm_chat.core.prompting.templates import TemplateError
from vllm_chat.core.session import SecretsMentioned
from vllm_chat.ui.keys import key_hint
from vllm_chat.ui.widgets.prompt_input import PromptInput

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.candidates import CandidatePlan
    from vllm_chat.ui.screens.chat import ChatScreen


class WorkbenchActions:
    """Turning what was typed into a message: mentions, saved prompts, the queue."""

    # -- sending -----------------------------------------------------------------------

    def on_prompt_input_empty_submitted(self: ChatScreen, event: PromptInput.EmptySubmitted) -> None:
        # Enter on an empty prompt sends the prompts that wait after a stopped or failed turn.
        if not self.session.running:
            waiting = self.session.next_queued(after_failure=True)
            if waiting is not None:
                self.send_now(waiting.text, waiting.attachments)
                self.show_queue()

    def submit_text(self: ChatScreen, text: str, attachments: list[Attachment], *,
                    plan: CandidatePlan | None = None) -> None:
        """Send `text` now, or queue it while a turn runs (`plan`: answered by several replies,
        see `chat_candidates`; never queued, that is checked before)."""
        if plan is not None:
            self.send_now(text, attachments, plan=plan)
            return
        if self.session.running or self._turn_pending:
            self.session.enqueue(text, attachments)
            self.attachments.clear()
            self.show_queue()
            return
        self.send_now(text, attachments)

    def send_now(self: ChatScreen, text: str, attachments: list[Attachment], *, allow_secrets: bool = False,
                 plan: CandidatePlan | None = None) -> None:
        """Read the mentions, add the message and run the turn (`plan`: several replies side
        by side); a mention that can't be sent puts the text back and says why, a
        secret-looking file asks first."""
        try:
            draft = self.session.prepare(text, attachments, allow_secrets=allow_secrets)
        except SecretsMentioned as exc:
            self._confirm_secrets(exc, text, attachments, plan)
            return
        except MentionError as exc:
            self.prompt.restore(text)
            self.notify(str(exc), title="Not sent", severity="error", timeout=12, markup=False)
            return
        self.close_candidates_panel()  # a new turn: the last group's first reply stays shown
        try:
            message = self.session.send(draft)
        except ValueError as exc:  # attachments or files in completion mode: nothing lost, nothing sent
            self.prompt.restore(text)
            self.notify(str(exc), title="Not sent", severity="warning", markup=False)
            return
        self.attachments.clear()
        self.messages.add_message(message)
        self.sent_prompt = (text, list(attachments))  # given back if it won't fit and the user keeps it
        if plan is not None:
            self.run_candidates(plan)
        else:
            self.run_turn(sent=True)

    def _confirm_secrets(self: ChatScreen, refused: SecretsMentioned, text: str,
                         attachments: list[Attachment], plan: CandidatePlan | None = None) -> None:
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        names = ", ".join(s.path for s in refused.secrets)

        def answered(go: bool | None) -> None:
            if go:
                self.send_now(text, attachments, allow_secrets=True, plan=plan)
            else:
                self.prompt.restore(text)

        detail = "\n".join(f"{s.path}: {s.reason}" for s in refused.secrets)
        self.app.push_screen(ConfirmScreen(f"Send {names} to the server?", "Send them", "Don't send",
                                           detail=detail + "\nThe model and the server's logs would see "
                                           "their contents.", destructive=True, guarded=True), answered)

    def send_queued_if_ready(self: ChatScreen) -> None:
        """After a turn: send the next queued prompt if the turn ended well, else say they wait."""
        nxt = self.session.next_queued()
        if nxt is not None:
            self.send_now(nxt.text, nxt.attachments)
        elif self.session.queued:
            count = len(self.session.queued)
            self.notify(f"{count} queued prompt{'s' if count > 1 else ''} wait: the turn did not end "
                        f"normally. {key_hint(self.app, 'send')} on an empty prompt sends "
                        f"{'them' if count > 1 else 'it'}.", title="Queue", markup=False)
        self.show_queue()

    def show_queue(self: ChatScreen) -> None:
        """Show the prompts waiting to be sent."""
        self.queue_view.show(self.session.queued)

    def action_edit_queued(self: ChatScreen) -> None:
        """Take the last queued prompt back into the prompt box, to edit it or drop it."""
        if not self.session.queued:
            self.notify("No prompt is queued.", severity="warning", markup=False)
            return
        if self.prompt.text.strip():
            self.notify("The prompt box has text: send or clear it first.", severity="warning", markup=False)
            return
        taken = self.session.unqueue(len(self.session.queued) - 1)
        self.prompt.load_text(taken.text)
        self.prompt.move_cursor(self.prompt.document.end)
        for attachment in taken.attachments:
            self.attachments.add(PreparedAttachment(attachment, None))
        self.show_queue()
        self.prompt.focus()

    # -- suggestions while typing ------------------------------------------------------------

    def on_text_area_changed(self: ChatScreen, event: TextArea.Changed) -> None:
        if event.text_area is self.prompt:
            self._suggest(self.prompt.text, self._cursor_index())

    def _cursor_index(self: ChatScreen) -> int:
        prompt = self.prompt
        return prompt.document.get_index_from_location(prompt.cursor_location)

    @work(thread=True, exclusive=True, group="suggest", exit_on_error=False)
    def _suggest(self: ChatScreen, text: str, cursor: int) -> None:
        # In a thread: listing the start folder or matching 20,000 paths must not slow typing.
        fresh = not self.completions.is_open
        completion = self.session.completion(text, cursor, fresh=fresh)
        self.app.call_from_thread(self._offer, text, completion)

    def _offer(self: ChatScreen, text: str, completion: object) -> None:
        if self.prompt.text == text:  # not a suggestion for text that has changed since
            self.completions.offer(completion)  # type: ignore[arg-type]  # a Completion or None

    def on_prompt_input_completion_chosen(self: ChatScreen, event: PromptInput.CompletionChosen) -> None:
        completion = self.completions.completion
        text, cursor = self.prompt.text, self._cursor_index()
        found = self.session.completion(text, cursor)
        kind = found.kind if found is not None else (completion.kind if completion else "file")
        if kind == "prompt":
            self.prompt.load_text("")
            self.use_saved_prompt(event.value)
            return
        start = found.start if found is not None else text.rfind("@", 0, cursor)
        value = f'"{event.value}"' if " " in event.value else event.value
        self.prompt.load_text(text[:start + 1] + value + " " + text[cursor:])
        self.prompt.move_cursor(self.prompt.document.get_location_from_index(start + 2 + len(value)))

    # -- saved prompts -----------------------------------------------------------------------

    def use_saved_prompt(self: ChatScreen, name: str) -> None:
        """Fill in the saved prompt `name` (asking for its variables) and put it in the prompt."""
        try:
            template = self.session.templates().get(name)
        except TemplateError as exc:
            self.notify(str(exc), title="Saved prompt", severity="error", markup=False)
            return
        if not template.variables:
            self._apply_template(name, {})
            return
        from vllm_chat.ui.screens.template_form import TemplateFormScreen

        def filled(values: dict[str, str] | None) -> None:
            if values is not None:
                self._apply_template(name, values)
            self.prompt.focus()

        self.app.push_screen(TemplateFormScreen(template), filled)

    def _apply_template(self: ChatScreen, name: str, values: dict[str, str]) -> None:
        before = (self.session.conversation.system_prompt, self.session.conversation.model)
        try:
            text = self.session.use_template(name, values)
        except TemplateError as exc:
            self.notify(str(exc), title="Saved prompt", severity="error", markup=False)
            return
        if text:
            self.prompt.load_text(text)
            self.prompt.move_cursor(self.prompt.document.end)
        changed = []
        if self.session.conversation.system_prompt != before[0]:
            changed.append("system prompt")
        if self.session.conversation.model != before[1]:
            changed.append(f"model {self.session.conversation.model}")
        if changed:
            self.notify(f"{name} set the {' and the '.join(changed)} of this conversation.",
                        title="Saved prompt", markup=False)
        self.prompt.focus()

    def pick_saved_prompt(self: ChatScreen) -> None:
        """Choose a saved prompt from a list."""
        from vllm_chat.ui.screens.pick_list import PickListScreen

        book = self.session.templates()
        items = [(name, f"{name} — {t.fields.description}" if t.fields.description else name)
                 for name, t in sorted(book.templates.items())]

        def picked(name: str | None) -> None:
            if name:
                self.use_saved_prompt(name)

        self.app.push_screen(PickListScreen("Saved prompts", items, empty="No saved prompts yet."), picked)
        for problem in book.problems:
            self.notify(problem, title="Saved prompt skipped", severity="warning", markup=False)

    # -- images from the clipboard -------------------------------------------------------------

    @work(group="paste-image", exit_on_error=False)
    async def action_paste_image(self: ChatScreen) -> None:
        """Attach the image on the system clipboard."""
        from vllm_chat.core.attachments import AttachmentError, prepare_bytes
        from vllm_chat.core.clipboard import ClipboardError, paste_image

        try:
            data, program = await asyncio.to_thread(paste_image)
            prepared = await asyncio.to_thread(prepare_bytes, data, self.session.settings.attachments)
        except (ClipboardError, AttachmentError) as exc:
            self.notify(str(exc), title="No image pasted", severity="warning", timeout=10, markup=False)
            return
        self._add_attachment(prepared)
        self.notify(f"Attached the clipboard's image (read with {program}).", title="Attached", markup=False)
