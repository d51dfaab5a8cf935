"""What the chat screen does with attachments: pick, paste, /attach, view, and the
offer to send without them when the server refuses images.

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
    from vllm_chat.ui.screens.chat import ChatScreen


class AttachmentActions:
    """Attaching media to the next prompt, and showing attached images."""

    def action_attach(self: ChatScreen) -> None:
        """Pick an image, video or audio file (with a preview) to send with the next prompt."""
        from pathlib import Path

        from vllm_chat.ui.screens.attach import AttachScreen

        def picked(prepared: object) -> None:
            if prepared is not None:
                self._add_attachment(prepared)
            self.prompt.focus()

        self.app.push_screen(AttachScreen(Path.cwd(), self.session.settings.attachments), picked)

    def _add_attachment(self: ChatScreen, prepared: object) -> None:
        if not self.attachments.add(prepared):  # type: ignore[arg-type]
            self.notify("That file is already attached.", severity="warning")

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
        """The server refused the images: offer to send the turn without them (or fewer)."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        if error.kind == "not_multimodal":
            question, yes, media = f"{error.message} Send without the attachments?", "Send without", "none"
            detail = "Each attachment is replaced by a note naming it; the files stay in the conversation."
        else:
            keep = self.session.settings.attachments.recent_images
            question = f"{error.message} Send only the {keep} most recent image(s)?"
            yes, media = f"Send {keep} recent", "recent"
            detail = "Older images are replaced by a note naming them (attachments.recent_images sets how many)."

        def answered(go: bool | None) -> None:
            if go and self.session.rewind_to_last_user():
                self.show_conversation()
                self.run_turn(media=media)

        self.app.push_screen(ConfirmScreen(question, yes, "Not now", detail=detail, destructive=False), answered)
