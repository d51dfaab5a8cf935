"""ImageViewScreen: one attached image, as large as the screen allows.

Opened from a thumbnail (`ImageThumb.Opened`). The picture keeps its aspect
ratio and is fitted again when the terminal is resized. In `auto` mode a
Sixel terminal draws it with Sixel here (a still modal does not flicker),
while inline thumbnails use half blocks. An image that can't be shown
(missing file, web address, pictures off) is described instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from vllm_chat.core.attachments import AttachmentError, describe, load_image
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.text import inert
from vllm_chat.ui import images
from vllm_chat.ui.colors import theme_color
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog

if TYPE_CHECKING:
    from PIL import Image


class ImageViewScreen(Dialog[None]):
    """An attached image, large, with its description; Esc, Enter or q closes."""

    DEFAULT_CSS = """
    ImageViewScreen {
        & > Vertical {
            width: 95%;
            height: 95%;
        }
        & #image-canvas { height: 1fr; align: center middle; }
        & #image-note { width: auto; color: $text-muted; }
        & #image-note.-problem { color: $error; }
        & #image-description { color: $text-muted; }
    }
    """

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="close-image-view")]

    def __init__(
        self, attachment: Attachment, *, media_root: Path | None = None, protocol: str | None = None
    ) -> None:
        """`protocol` overrides the prepared `image_protocol` (tests pin `halfcell`)."""
        super().__init__()
        self.attachment = attachment
        """The image shown."""
        self.media_root = media_root
        """The media folder stored files are read from (None: the user's)."""
        self.problem = ""
        """Why the image is not drawn (empty while it is, or is loading)."""
        self._picture_class = images.image_widget_class("viewer", protocol)
        self._image: Image.Image | None = None

    @property
    def picture(self) -> Widget | None:
        """The textual-image widget, once the image is drawn."""
        found = self.query("#image-canvas > .picture")
        return found.first() if found else None

    def compose(self) -> ComposeResult:
        att = self.attachment
        with Vertical():
            yield Static(Text(inert(att.name), no_wrap=True, overflow="ellipsis"), classes="title")
            with Container(id="image-canvas"):
                yield Static("", id="image-note")
            yield Static(Text(inert(describe(att)), no_wrap=True, overflow="ellipsis"),
                         id="image-description")
            yield Static(with_keys(self.app, "{close-image-view} close"), classes="hint", markup=False)

    def on_mount(self) -> None:
        note = self._why_not_drawn()
        if note:
            self._note(note)
            return
        background = theme_color(self.app, "surface", "#000000")
        width, height = self.app.size
        self.run_worker(lambda: self._load((width, height), background), thread=True,
                        exit_on_error=False, group="image-view")

    def _why_not_drawn(self) -> str:
        att = self.attachment
        if att.kind != "image":
            return f"This is {'an' if att.kind == 'audio' else 'a'} {att.kind}; there is no picture to show."
        if att.url and att.url[:5].lower() != "data:":
            return f"A web address, not downloaded here:\n{att.url}"
        if self._picture_class is None:
            reason = images.unavailable_reason()
            if images.effective_protocol() == "off":
                return 'Pictures are switched off (attachments.image_protocol = "off").'
            return f"This terminal can't draw pictures{f' ({reason})' if reason else ''}."
        return ""

    def _load(self, screen_cells: tuple[int, int], background: str) -> Image.Image | str:
        """Runs in a thread: a copy of the image sized for the screen, or what went wrong."""
        try:
            image = load_image(self.attachment, media_root=self.media_root)
            return images.display_copy(image, screen_cells, background)
        except AttachmentError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - Pillow fails in many ways; say so, don't crash
            return f"{self.attachment.name} can't be shown ({type(exc).__name__}: {exc})."

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "image-view":
            return
        if event.state == WorkerState.SUCCESS:
            result = event.worker.result
            if isinstance(result, str):
                self._note(result, problem=True)
            elif result is not None:
                self._show(result)
        elif event.state == WorkerState.ERROR:
            self._note(f"{self.attachment.name} can't be shown ({event.worker.error}).", problem=True)

    def _note(self, text: str, *, problem: bool = False) -> None:
        self.problem = text if problem else self.problem
        note = self.query_one("#image-note", Static)
        note.update(Text(inert(text)))
        note.set_class(problem, "-problem")

    def _show(self, image: Image.Image) -> None:
        assert self._picture_class is not None
        self._image = image
        try:
            picture = self._picture_class(image, classes="picture")
        except Exception as exc:  # noqa: BLE001 - a renderer that chokes on this image
            self._note(f"{self.attachment.name} can't be drawn ({type(exc).__name__}: {exc}).", problem=True)
            return
        self.query_one("#image-note").display = False
        self._fit(picture)
        self.query_one("#image-canvas").mount(picture)

    def _fit(self, picture: Widget) -> None:
        """Size the picture to the canvas, keeping the image's aspect ratio."""
        if self._image is None:
            return
        canvas = self.query_one("#image-canvas")
        box = canvas.content_size
        if not box.width or not box.height:
            box = self.app.size - (6, 6)
        cols, rows = images.fit_cells(self._image.size, (box.width, box.height))
        picture.styles.width, picture.styles.height = cols, rows

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        picture = self.picture
        if picture is not None:
            self._fit(picture)

    def action_close(self) -> None:
        """Back to the conversation."""
        self.dismiss(None)
