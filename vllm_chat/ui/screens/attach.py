"""AttachScreen: pick an image, video or audio file (or type a path or URL) to attach.

The folder tree lists only folders and files whose extension is a supported
image, video or audio type (hidden ones on request); the highlighted file is
previewed (a thumbnail for images) with a line saying what it is. The
extension only decides what is listed: on Enter the file is checked by its
content with `prepare_attachment`, in a thread (big photos take a moment),
and the screen returns the `PreparedAttachment`. A file that can't be used
shows the reason under the path box and the screen stays open.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DirectoryTree, Input, Static, Tree
from textual.worker import Worker, WorkerState

from vllm_chat.core.attachments import (
    AttachmentError,
    PreparedAttachment,
    describe,
    human_size,
    prepare_attachment,
)
from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.media.images import PreviewTooLarge, image_size, preview_image
from vllm_chat.core.media.sniff import (
    KIND_FOR_EXTENSION,
    SNIFF_BYTES,
    kind_of_mime,
    sniff_mime,
    what_it_looks_like,
)
from vllm_chat.core.text import inert
from vllm_chat.ui import images
from vllm_chat.ui.colors import theme_color
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog
from vllm_chat.ui.widgets.image_thumb import ImageThumb

if TYPE_CHECKING:
    from PIL import Image

LISTED_EXTENSIONS = frozenset(KIND_FOR_EXTENSION)
"""File extensions the picker lists (lower case, no dot); the content decides on Enter."""

PREVIEW_CELLS = (36, 12)
"""The largest preview picture, in columns and rows (less on a small terminal)."""

PREVIEW_DELAY = 0.12
"""Seconds the highlight must rest on a file before it is read (holding ↓ stays smooth)."""


class MediaTree(DirectoryTree):
    """A folder tree showing only folders and image, video and audio files."""

    ICON_NODE = "▸ "
    ICON_NODE_EXPANDED = "▾ "
    ICON_FILE = "  "

    BINDINGS = [Binding("backspace", "parent", "Up a folder", id="attach-parent-folder")]

    def __init__(self, path: Path, *, id: str | None = None) -> None:
        self.show_hidden = False
        """List files and folders whose name starts with a dot."""
        super().__init__(path, id=id)
        self.show_root = False
        self.guide_depth = 3

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        for path in paths:
            if path.name.startswith(".") and not self.show_hidden:
                continue
            if self._safe_is_dir(path) or path.suffix[1:].lower() in LISTED_EXTENSIONS:
                yield path

    def action_parent(self) -> None:
        """Show the folder above this one."""
        here = Path(self.path).resolve()
        if here.parent != here:
            self.path = here.parent

    async def on_click(self, event: events.Click) -> None:
        # The first click on a file only highlights it (and so previews it);
        # a click on the highlighted file attaches it.
        line = event.style.meta.get("line")
        if line is None or event.style.meta.get("toggle", False):
            return
        node = self.get_node_at_line(line)
        if node is not None and not node.allow_expand and line != self.cursor_line:
            event.prevent_default()
            self.cursor_line = line


@dataclass(frozen=True)
class FilePreview:
    """What the picker shows about the highlighted file."""

    path: Path
    """The file looked at."""
    about: str
    """One line: name, kind, size, pixels (or why it can't be attached)."""
    note: str = ""
    """A second line: a limit it breaks, or how it will be downscaled."""
    attachment: Attachment | None = None
    """The file described as an attachment (None if it isn't media)."""
    image: Image.Image | None = None
    """A display copy for the thumbnail (images only)."""


def look_at(path: Path, settings: AttachmentSettings, cells: tuple[int, int], background: str) -> FilePreview:
    """Read enough of `path` to describe it and, for an image, make a thumbnail. Never raises."""
    name = path.name
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return FilePreview(path, f"{name} is not a regular file")
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        return FilePreview(path, f"Can't read {name}: {exc.strerror or exc}")
    size = info.st_size
    mime = sniff_mime(head)
    kind = kind_of_mime(mime)
    if mime is None or kind is None:
        return FilePreview(path, f"{name} · {human_size(size)}",
                           f"not an image, video or audio file: it looks like {what_it_looks_like(head)}")
    if size > settings.max_file_mb * 1024 * 1024:
        att = Attachment(kind=kind, name=name, mime=mime, size=size)
        return FilePreview(path, describe(att), f"over the {settings.max_file_mb:g} MB limit for attachments", att)
    if kind != "image":
        att = Attachment(kind=kind, name=name, mime=mime, size=size)
        return FilePreview(path, describe(att), "", att)
    cell_w, cell_h = images.cell_size()
    try:
        data = path.read_bytes()
        picture, (width, height) = preview_image(data, mime, name, (cells[0] * cell_w, cells[1] * cell_h))
        thumb = images.display_copy(picture, cells, background, owned=True)
        del picture
    except PreviewTooLarge as exc:
        width, height = image_size(data) or (0, 0)
        att = Attachment(kind="image", name=name, mime=mime, size=size, width=width or None, height=height or None)
        return FilePreview(path, describe(att), str(exc), att)
    except AttachmentError as exc:
        return FilePreview(path, f"{name} · {human_size(size)}", str(exc))
    except Exception as exc:  # noqa: BLE001 - Pillow and the disk fail in many ways
        return FilePreview(path, f"{name} · {human_size(size)}", f"can't be read ({type(exc).__name__}: {exc})")
    att = Attachment(kind="image", name=name, mime=mime, size=size, width=width, height=height)
    note = ""
    if max(width, height) > settings.max_image_side:
        scale = settings.max_image_side / max(width, height)
        note = f"sent downscaled to {max(1, round(width * scale))}×{max(1, round(height * scale))}"
    return FilePreview(path, describe(att), note, att, thumb)


class AttachScreen(Dialog[PreparedAttachment | None]):
    """A file picker with a preview, plus a box for a path or URL; returns what was attached."""

    DEFAULT_CSS = """
    AttachScreen {
        & > Vertical {
            width: 110;
            height: 90%;
        }
        & #attach-folder { color: $text-muted; }
        & #attach-body { height: 1fr; margin: 1 0 0 0; }
        & MediaTree { width: 1fr; height: 1fr; background: $surface; border: round $panel; }
        & MediaTree:focus { border: round $primary; }
        & #attach-preview { width: 40; height: 1fr; padding: 0 0 0 2; }
        & #attach-picture { width: auto; height: auto; margin: 1 0 0 0; }
        & #attach-about { height: auto; }
        & #attach-note { height: auto; color: $text-muted; }
        & #attach-path { margin: 1 0 0 0; }
        & #attach-status { height: auto; color: $text-muted; display: none; }
        & #attach-status.-visible { display: block; }
        & #attach-status.-error { color: $error; }
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel-attach"),
        Binding("ctrl+t", "toggle_hidden", "Hidden files", id="attach-toggle-hidden"),
    ]

    def __init__(
        self,
        start_dir: Path,
        settings: AttachmentSettings,
        *,
        media_root: Path | None = None,
        protocol: str | None = None,
    ) -> None:
        """`media_root` is where attached files are stored (None: the user's media folder);
        `protocol` overrides the prepared `image_protocol` for the preview."""
        super().__init__()
        self.start_dir = _existing_folder(start_dir)
        """The folder the tree opens at (the nearest existing one)."""
        self.settings = settings
        """Size limits and downscaling for attachments."""
        self.media_root = media_root
        """Where prepared files are stored (None: the user's media folder)."""
        self.protocol = protocol
        """Overrides the prepared `image_protocol` for the preview (None: use it)."""
        self.preview: FilePreview | None = None
        """What is shown about the highlighted file."""
        self.status_text = ""
        """The message under the path box ("Preparing…" or why a file can't be used); empty if none."""
        self._highlighted: Path | None = None
        self._preview_timer: Timer | None = None

    @property
    def tree(self) -> MediaTree:
        """The folder tree."""
        return self.query_one(MediaTree)

    @property
    def path_input(self) -> Input:
        """The box for a typed or pasted path or URL."""
        return self.query_one("#attach-path", Input)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Attach an image, video or audio file", classes="title")
            yield Static(Text(inert(str(self.start_dir)), no_wrap=True, overflow="ellipsis"),
                         id="attach-folder")
            with Horizontal(id="attach-body"):
                yield MediaTree(self.start_dir, id="attach-tree")
                # The words first: on a short terminal the picture is what gets cut off.
                with Vertical(id="attach-preview"):
                    yield Static("", id="attach-about")
                    yield Static("", id="attach-note")
                    yield Container(id="attach-picture")
            yield Input(placeholder="or type or paste a path or an http(s) URL, then enter", id="attach-path")
            yield Static("", id="attach-status")
            yield Static(with_keys(self.app, "enter attach · tab path box · {attach-parent-folder} up · "
                                             "{attach-toggle-hidden} hidden files · {cancel-attach} cancel"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.path_input.cursor_blink = False
        self.watch(self.tree, "path", self._folder_changed, init=False)
        self.tree.focus()

    # -- browsing -------------------------------------------------------------------

    @on(Tree.NodeHighlighted, "#attach-tree")
    def _highlighted_node(self, event: Tree.NodeHighlighted) -> None:
        entry = event.node.data
        if entry is None:
            return
        path = Path(entry.path)
        self._highlighted = path
        if self._preview_timer is not None:
            self._preview_timer.stop()
        if event.node.allow_expand:
            self._show_preview(FilePreview(path, f"{path.name}/ · folder"))
            return
        self._preview_timer = self.set_timer(PREVIEW_DELAY, lambda: self._start_preview(path))

    def _start_preview(self, path: Path) -> None:
        if path != self._highlighted:
            return
        background = theme_color(self.app, "surface", "#000000")
        cells = self._preview_cells()
        self.run_worker(lambda: look_at(path, self.settings, cells, background), thread=True,
                        exclusive=True, exit_on_error=False, group="attach-preview")

    def _preview_cells(self) -> tuple[int, int]:
        """The picture's box: `PREVIEW_CELLS`, or what the preview column has room for."""
        room = self.query_one("#attach-preview").content_size
        if not room.width or not room.height:
            return PREVIEW_CELLS
        # Below the two lines of words and the margin.
        return (max(4, min(PREVIEW_CELLS[0], room.width)), max(2, min(PREVIEW_CELLS[1], room.height - 3)))

    def _show_preview(self, preview: FilePreview) -> None:
        self.preview = preview
        self.query_one("#attach-about", Static).update(Text(inert(preview.about)))
        self.query_one("#attach-note", Static).update(Text(inert(preview.note)))
        holder = self.query_one("#attach-picture", Container)
        holder.remove_children()
        if preview.attachment is not None:
            cols, rows = self._preview_cells()
            thumb = ImageThumb(preview.attachment, image=preview.image, caption=False, protocol=self.protocol,
                               max_width=cols, max_height=rows)
            thumb.can_focus = False
            holder.mount(thumb)

    def on_image_thumb_opened(self, event: ImageThumb.Opened) -> None:
        # The preview is of a file not stored yet: there is nothing for the viewer to load.
        event.stop()

    def _folder_changed(self, path: Path) -> None:
        self.query_one("#attach-folder", Static).update(
            Text(inert(str(path)), no_wrap=True, overflow="ellipsis"))

    @on(DirectoryTree.DirectorySelected, "#attach-tree")
    def _folder_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self._clear_status()

    def action_toggle_hidden(self) -> None:
        """Show or hide files and folders whose names start with a dot."""
        tree = self.tree
        tree.show_hidden = not tree.show_hidden
        tree.reload()

    def on_key(self, event: events.Key) -> None:
        # Typing a path from the tree starts it in the path box.
        if self.focused is self.tree and event.character in ("/", "~"):
            event.stop()
            box = self.path_input
            box.value = event.character
            box.cursor_position = len(box.value)
            box.focus()

    def on_paste(self, event: events.Paste) -> None:
        box = self.path_input
        if self.focused is not box:
            event.stop()
            box.value = event.text.strip()
            box.cursor_position = len(box.value)
            box.focus()

    # -- attaching ------------------------------------------------------------------

    @on(DirectoryTree.FileSelected, "#attach-tree")
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.attach(event.path)

    @on(Input.Submitted, "#attach-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self._status("Type a file path or an http(s) URL first, or pick a file above.", error=True)
            return
        folder = _as_folder(text, Path(self.tree.path))
        if folder is not None:
            self.tree.path = folder
            self.path_input.value = ""
            self._clear_status()
            self.tree.focus()
            return
        self.attach(text)

    @on(Input.Changed, "#attach-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._clear_status()

    def attach(self, source: str | Path) -> None:
        """Check and store `source` in a thread; the screen closes with it, or shows why not."""
        label = source.name if isinstance(source, Path) else source
        self._status(f"Preparing {label}…")
        base_dir = Path(self.tree.path)
        self.run_worker(
            lambda: prepare_attachment(source, self.settings, media_root=self.media_root, base_dir=base_dir),
            thread=True, exclusive=True, exit_on_error=False, group="attach-prepare",
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "attach-preview" and event.state == WorkerState.SUCCESS:
            preview = worker.result
            if isinstance(preview, FilePreview) and preview.path == self._highlighted:
                self._show_preview(preview)
        elif worker.group == "attach-prepare":
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, PreparedAttachment):
                self.dismiss(worker.result)
            elif event.state == WorkerState.ERROR:
                error = worker.error
                if isinstance(error, AttachmentError):
                    self._status(str(error), error=True)
                else:
                    self._status(f"Couldn't attach it ({type(error).__name__}: {error}).", error=True)

    def _status(self, text: str, *, error: bool = False) -> None:
        self.status_text = text
        status = self.query_one("#attach-status", Static)
        status.update(Text(inert(text)))
        status.set_class(True, "-visible")
        status.set_class(error, "-error")

    def _clear_status(self) -> None:
        self.status_text = ""
        self.query_one("#attach-status", Static).set_class(False, "-visible")

    def action_cancel(self) -> None:
        """Close without attaching anything."""
        self.dismiss(None)


def _existing_folder(path: Path) -> Path:
    """`path` if it is a folder, else its nearest existing parent, else the home folder."""
    try:
        candidate = path.expanduser().resolve()
    except (OSError, RuntimeError):
        return Path.home()
    for folder in (candidate, *candidate.parents):
        if folder.is_dir():
            return folder
    return Path.home()


def _as_folder(text: str, base_dir: Path) -> Path | None:
    """The folder `text` names (quotes and `~` allowed, relative to `base_dir`), or None."""
    cleaned = text.strip().strip("'\"")
    if "://" in cleaned or cleaned.lower().startswith("data:"):
        return None
    path = Path(cleaned).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        return path.resolve() if path.is_dir() else None
    except OSError:
        return None
