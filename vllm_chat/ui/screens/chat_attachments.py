"""What the chat screen does with attachments: pick, paste, /attach, view, and the
offer to send without them (or fewer) when the server refuses media.

An accepted offer holds for the conversation while its model stays
(`ChatSession.media_policy`): every later request is built with it, and the
status line says what is left out.

A mixin of `ChatScreen` (plain `on_...` handler names: Textual's @on decorator
is only collected from classes its metaclass builds).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from vllm_chat.core.errors import ChatError
from vllm_chat.ui.widgets.image_thumb import ImageThumb
from vllm_chat.ui.widgets.prompt_input import PromptInput

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.attachments import PreparedAttachment
    from vllm_chat.ui.screens.chat import ChatScreen


class AttachmentActions:
    """Attaching media to the next prompt, showing attached images, and leaving media
    out of requests the server refused them in."""

    def action_attach(self: ChatScreen) -> None:
        """Pick an image, video or audio file (with a preview) to send with the next prompt."""
        from pathlib import Path

        from vllm_chat.ui.screens.attach import AttachScreen

        def picked(prepared: PreparedAttachment | None) -> None:
            if prepared is not None:
                self._add_attachment(prepared)
            self.prompt.focus()

        self.app.push_screen(AttachScreen(Path.cwd(), self.session.settings.attachments), picked)

    def _add_attachment(self: ChatScreen, prepared: PreparedAttachment) -> None:
        from vllm_chat.core.text import inert

        twin = self.attachments.duplicate_of(prepared)
        if twin is not None:
            name, other = inert(prepared.attachment.name), inert(twin.name)
            said = f"{name} is attached already." if name == other else \
                f"{name} has the same content as {other}, which is attached already."
            self.notify(f"{said} It goes with the next message once.", title="Not attached again",
                        severity="warning", markup=False)
            return
        self.attachments.add(prepared)

    def on_prompt_input_pasted_path(self: ChatScreen, event: PromptInput.PastedPath) -> None:
        self.attach_source(event.text)

    @work(group="attach", exit_on_error=False)
    async def attach_source(self: ChatScreen, source: str) -> None:
        """Attach a path or URL (pasted, or given to /attach); bad input is explained."""
        from vllm_chat.core.attachments import AttachmentError, prepare_attachment

        try:
            prepared = await asyncio.to_thread(prepare_attachment, source,
                                               self.session.settings.attachments)
        except AttachmentError as exc:
            self.notify(str(exc), title="Not attached", severity="error", markup=False)
            return
        self._add_attachment(prepared)

    def on_image_thumb_opened(self: ChatScreen, event: ImageThumb.Opened) -> None:
        from vllm_chat.ui.screens.image_view import ImageViewScreen

        self.app.push_screen(ImageViewScreen(event.attachment))

    def _offer_without_media(self: ChatScreen, error: ChatError) -> None:
        """The server refused the media: offer to send without them (or fewer), unless
        the refused request already left out what the offer would."""
        from vllm_chat.core.attachments import offer_for, still_refused
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        offer = offer_for(error, self.session.conversation, self.session.media_policy,
                          self.session.settings.attachments.recent_images)
        if offer is None:
            self.notify(still_refused(error), title="Media refused", severity="error", timeout=20,
                        markup=False)
            return

        def answered(go: bool | None) -> None:
            if go and self.session.rewind_to_last_user():
                self.session.accept_media_offer(offer.policy)
                self.notify(offer.policy.notice, title="Attachments", markup=False)
                self.show_conversation()
                self.run_turn()

        self.app.push_screen(ConfirmScreen(offer.question, offer.accept, "Not now", detail=offer.detail,
                                           destructive=False, guarded=True), answered)
