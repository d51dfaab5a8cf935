"""ImageThumb: one attachment shown inline, as a small picture or as a text chip.

An image is drawn with the renderer `ui.images` chose (kitty graphics, Sixel
or half blocks). Everything that can't be drawn becomes a chip with its name
and details: video and audio, web addresses (never downloaded), pictures
when `image_protocol = "off"` or the terminal can't draw them, and images
whose stored file is missing or broken. Nothing here raises.

Images are decoded lazily: only when the thumbnail is mounted, in a thread
worker, and into a small display copy that is cached by content, so a long
session with many images opens fast and scrolls cheaply.

`thumbnails_for(message)` gives the widget a user message shows under its
text: every attachment of the message, laid out as a grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, ItemGrid, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from vllm_chat.core.attachments import AttachmentError, describe
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.conversation import Message as ChatMessage
from vllm_chat.core.text import inert
from vllm_chat.ui import images

if TYPE_CHECKING:
    from PIL import Image

THUMB_WIDTH = 24
"""Default widest thumbnail, in columns."""
THUMB_HEIGHT = 8
"""Default tallest thumbnail picture, in rows (the caption line below it is extra)."""


def details(att: Attachment) -> str:
    """`describe(att)` without the leading name: `image · 1.2 MB · 640×480`."""
    return describe(att)[len(att.name) + len(" · "):]


def _line(text: str) -> Text:
    return Text(inert(text), no_wrap=True, overflow="ellipsis")


class ImageThumb(Widget, can_focus=True):
    """An attachment inline: a thumbnail for images that can be drawn, else a text chip.

    Enter, space or a click on an image posts `ImageThumb.Opened` (the chat
    screen opens `ImageViewScreen`). Video and audio chips post nothing.
    """

    DEFAULT_CSS = """
    ImageThumb {
        width: auto;
        height: auto;
        & > .frame { width: auto; height: auto; background: $panel; }
        & > .caption { width: auto; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
        & > .chip {
            width: auto;
            height: auto;
            padding: 0 1;
            background: $panel;
            & > Static { text-wrap: nowrap; text-overflow: ellipsis; }
            & > .name { width: auto; text-style: bold; }
            & > .details, & > .problem { width: auto; color: $text-muted; }
            & > .problem { text-style: italic; }
        }
        &:hover > .caption, &:hover > .chip > .name { color: $accent; }
        &:focus > .caption { color: $accent; text-style: bold; }
        &:focus > .chip { background: $accent 25%; }
    }
    """

    BINDINGS = [Binding("enter,space", "open", "View", show=False, id="open-attachment")]

    class Opened(Message):
        """The user asked to see an attached image large."""

        def __init__(self, thumb: ImageThumb, attachment: Attachment) -> None:
            super().__init__()
            self.thumb = thumb
            """The thumbnail that was chosen."""
            self.attachment = attachment
            """The image to show."""

        @property
        def control(self) -> ImageThumb:
            """The thumbnail that posted this."""
            return self.thumb

    def __init__(
        self,
        attachment: Attachment,
        *,
        media_root: Path | None = None,
        max_width: int = THUMB_WIDTH,
        max_height: int = THUMB_HEIGHT,
        protocol: str | None = None,
        image: Image.Image | None = None,
        caption: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`image`, if given, is drawn as it is (no file is read); `protocol` overrides the
        prepared `image_protocol`; `caption` adds the name under the picture."""
        super().__init__(name=name, id=id, classes=classes)
        self.attachment = attachment
        """The attachment shown."""
        self.media_root = media_root
        """The media folder stored files are read from (None: the user's)."""
        self.max_cells = (max(4, max_width), max(1, max_height))
        """The largest picture, in columns and rows."""
        self.problem = ""
        """Why the picture could not be drawn (empty if it was, or if it is not an image)."""
        self._image = image
        self._caption = caption
        self._picture_class = self._choose_class(protocol)
        self.styles.max_width = self.max_cells[0]

    def _choose_class(self, protocol: str | None) -> type[Widget] | None:
        att = self.attachment
        if att.kind != "image":
            return None
        is_data_url = (att.url or "")[:5].lower() == "data:"
        if self._image is None and not att.ref and not is_data_url:
            return None  # a web address: never downloaded, so nothing to draw
        return images.image_widget_class("inline", protocol)

    @property
    def shows_picture(self) -> bool:
        """True while the thumbnail draws (or is loading) a picture rather than a chip."""
        return self._picture_class is not None and not self.problem

    @property
    def picture(self) -> Widget | None:
        """The textual-image widget, once the picture is drawn."""
        frames = self.query(".frame > *")
        return frames.first() if frames else None

    def compose(self) -> ComposeResult:
        if self._picture_class is None:
            yield self._chip()
            return
        frame = Container(classes="frame")
        att = self.attachment
        if att.width and att.height:
            cols, rows = images.fit_cells((att.width, att.height), self.max_cells)
        else:
            cols, rows = self.max_cells
        frame.styles.width, frame.styles.height = cols, rows
        yield frame
        if self._caption:
            yield Static(_line(att.name), classes="caption")
        self.tooltip = inert(describe(att))

    def _chip(self) -> Vertical:
        att = self.attachment
        lines = [Static(_line(att.name), classes="name"), Static(_line(details(att)), classes="details")]
        if self.problem:
            lines.append(Static(_line("can't be shown"), classes="problem"))
            self.tooltip = inert(self.problem)
        else:
            self.tooltip = inert(describe(att))
        return Vertical(*lines, classes="chip")

    def on_mount(self) -> None:
        if self._picture_class is None:
            return
        if self._image is not None:
            self._show(self._image)
        else:
            # Transparent parts are flattened onto whatever this sits on (a message's colour).
            self._load(self.background_colors[1].hex6)

    def _load(self, background: str) -> Worker[Image.Image | str]:
        return self.run_worker(
            lambda: self._make_thumbnail(background), thread=True, exit_on_error=False, group="thumbnail"
        )

    def _make_thumbnail(self, background: str) -> Image.Image | str:
        """Runs in a thread: the display copy, or what went wrong, in words."""
        try:
            return images.attachment_thumbnail(
                self.attachment, self.max_cells, media_root=self.media_root, background=background
            )
        except AttachmentError as exc:
            return str(exc)
        # Pillow and the file system fail in many ways; any of them means "show a chip".
        except Exception as exc:  # noqa: BLE001
            return f"{self.attachment.name} can't be shown ({type(exc).__name__}: {exc})."

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "thumbnail":
            return
        if event.state == WorkerState.SUCCESS:
            result = event.worker.result
            if isinstance(result, str):
                self._fall_back(result)
            elif result is not None:
                self._show(result)
        elif event.state == WorkerState.ERROR:
            self._fall_back(f"{self.attachment.name} can't be shown ({event.worker.error}).")

    def _show(self, image: Image.Image) -> None:
        assert self._picture_class is not None
        try:
            picture = self._picture_class(image)
        except Exception as exc:  # noqa: BLE001 - a renderer that chokes on this image
            self._fall_back(f"{self.attachment.name} can't be drawn ({type(exc).__name__}: {exc}).")
            return
        cols, rows = images.fit_cells(image.size, self.max_cells)
        picture.styles.width, picture.styles.height = cols, rows
        frame = self.query_one(".frame", Container)
        frame.styles.width, frame.styles.height = cols, rows
        frame.remove_children()
        frame.mount(picture)

    def _fall_back(self, problem: str) -> None:
        """Replace the picture with a chip that says it can't be shown (details in the tooltip)."""
        self.problem = problem or f"{self.attachment.name} can't be shown."
        self.remove_children()
        self.mount(self._chip())

    def action_open(self) -> None:
        """Ask for the large view (images only)."""
        if self.attachment.kind == "image":
            self.post_message(self.Opened(self, self.attachment))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_open()


class ThumbnailGrid(ItemGrid):
    """A message's attachments side by side, wrapping onto more rows when the pane is narrow."""

    DEFAULT_CSS = """
    ThumbnailGrid {
        grid-gutter: 1 2;
        margin: 1 0 0 0;
    }
    """

    def __init__(self, *thumbs: ImageThumb, column_width: int = THUMB_WIDTH) -> None:
        # Column count = width // (column + gutter); the max keeps columns from widening.
        super().__init__(
            *thumbs,
            min_column_width=column_width,
            max_column_width=column_width + 2,
            stretch_height=False,
        )


def thumbnails_for(
    message: ChatMessage,
    *,
    media_root: Path | None = None,
    protocol: str | None = None,
    max_width: int = THUMB_WIDTH,
    max_height: int = THUMB_HEIGHT,
) -> Iterator[Widget]:
    """The widget that shows `message.attachments` (nothing if it has none).

    For `UserMessageView.compose`: `yield from thumbnails_for(self.message)`.
    """
    if not message.attachments:
        return
    thumbs = [
        ImageThumb(att, media_root=media_root, protocol=protocol, max_width=max_width, max_height=max_height)
        for att in message.attachments
    ]
    yield ThumbnailGrid(*thumbs, column_width=max_width)
