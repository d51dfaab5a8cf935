"""Which textual-image widget draws pictures, and small display copies of images.

textual-image probes the terminal **when it is imported** (Sixel via the
primary device attributes, then the kitty graphics protocol), and the probe
only works while we still own stdin: once `App.run()` starts, Textual's input
thread swallows the answers. So the app calls `prepare_terminal()` first, and
nothing here imports textual-image (or Pillow) before that call, or at all
when `image_protocol = "off"`.

The choice (`choose_renderer`):

- `off`: no pictures; attachments show as text chips.
- `tgp`, `sixel`, `halfcell`: that renderer, everywhere.
- `auto`: what the terminal answered, except that **Sixel becomes half blocks
  for inline pictures** (thumbnails in the scrolling chat, previews): Sixel
  inside Textual flickers whenever the pane scrolls or restyles. The large
  image viewer, a still modal, keeps Sixel. Without a terminal (headless,
  tests, textual-serve) textual-image would pick its greyscale text renderer;
  half blocks look better wherever colour works, so `auto` uses them.

`VLLM_CHAT_IMAGE_RENDERER` (same values) overrides the setting, so tests and
bug reports can pin a renderer without a config file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO, get_args

from vllm_chat.core.attachments import load_image
from vllm_chat.core.conversation import Attachment

if TYPE_CHECKING:
    from PIL import Image
    from textual.widget import Widget

log = logging.getLogger(__name__)

Protocol = Literal["auto", "tgp", "sixel", "halfcell", "off"]
"""The values of `attachments.image_protocol`."""
Renderer = Literal["tgp", "sixel", "halfcell"]
"""A way of drawing pixels that textual-image offers."""
Purpose = Literal["inline", "viewer"]
"""Where a picture is drawn: inline (chat pane, previews) or in the large viewer modal."""

RENDERER_ENV = "VLLM_CHAT_IMAGE_RENDERER"
"""Environment variable that overrides `attachments.image_protocol` (tests pin `halfcell`)."""

DEFAULT_CELL_SIZE = (10, 20)
"""Pixels per terminal cell when the terminal does not say (textual-image's VT340 default)."""

_PROTOCOLS: tuple[str, ...] = get_args(Protocol)
_THUMBNAIL_CACHE_SIZE = 64


class _State:
    """What `prepare_terminal` found out; one per process, like the terminal."""

    configured: Protocol = "auto"
    """The `image_protocol` setting given to `prepare_terminal`."""
    prepared = False
    """Whether `prepare_terminal` ran (so textual-image may be imported safely)."""
    detected: Renderer | None = None
    """What the terminal answered, once textual-image is imported."""
    available: bool | None = None
    """Whether textual-image could be imported (None: not tried yet)."""
    problem = ""
    """Why it could not, in words."""


_state = _State()


def choose_renderer(protocol: Protocol, detected: Renderer | None, purpose: Purpose) -> Renderer | None:
    """The renderer for `purpose` given the setting and the terminal's answer; None: text only.

    `detected` is what the terminal supports (None if textual-image could not
    be loaded at all, which leaves only text chips).
    """
    if protocol == "off" or detected is None:
        return None
    if protocol != "auto":
        return protocol
    if detected == "sixel" and purpose == "inline":
        return "halfcell"
    return detected


def effective_protocol(protocol: str | None = None) -> Protocol:
    """The protocol in force: the environment override, else `protocol`, else the prepared one."""
    override = os.environ.get(RENDERER_ENV, "").strip().lower()
    if override in _PROTOCOLS:
        return override  # type: ignore[return-value]  # one of _PROTOCOLS, checked above
    if override:
        log.info("%s=%r is not one of %s; ignored", RENDERER_ENV, override, ", ".join(_PROTOCOLS))
    if protocol in _PROTOCOLS:
        return protocol  # type: ignore[return-value]  # one of _PROTOCOLS, checked above
    return _state.configured


def prepare_terminal(protocol: str = "auto") -> Renderer | None:
    """Probe the terminal for graphics now; call it before `App.run()`.

    Remembers `protocol` (the `attachments.image_protocol` setting) as the
    default for every picture. With "off" nothing is imported. Returns the
    renderer thumbnails will use, or None for text chips. Never raises: a
    terminal that can't be probed just means text chips.
    """
    _state.configured = protocol if protocol in _PROTOCOLS else "auto"  # type: ignore[assignment]  # checked: a Protocol
    _state.prepared = True
    chosen = effective_protocol()
    if chosen == "off":
        return None
    return choose_renderer(chosen, _detect(), "inline")


def renderer_for(purpose: Purpose, protocol: str | None = None) -> Renderer | None:
    """The renderer a picture for `purpose` uses now, or None for a text chip."""
    chosen = effective_protocol(protocol)
    if chosen == "off":
        return None
    return choose_renderer(chosen, _detect(), purpose)


def image_widget_class(purpose: Purpose, protocol: str | None = None) -> type[Widget] | None:
    """The textual-image widget class for `purpose`, or None when only text can be shown."""
    renderer = renderer_for(purpose, protocol)
    if renderer is None:
        return None
    from textual_image import widget

    classes: dict[str, type[Widget]] = {
        "tgp": widget.TGPImage,
        "sixel": widget.SixelImage,
        "halfcell": widget.HalfcellImage,
    }
    return classes[renderer]


def unavailable_reason() -> str:
    """Why pictures can't be drawn at all (empty if they can, or if nobody asked yet)."""
    return _state.problem


def cell_size() -> tuple[int, int]:
    """Pixels per terminal cell (width, height), as textual-image measured them."""
    if "textual_image._terminal" not in sys.modules:
        return DEFAULT_CELL_SIZE
    from textual_image._terminal import get_cell_size

    try:
        size = get_cell_size()
    except Exception:  # noqa: BLE001
        return DEFAULT_CELL_SIZE
    return (size.width or DEFAULT_CELL_SIZE[0], size.height or DEFAULT_CELL_SIZE[1])


def fit_cells(
    pixels: tuple[int, int], max_cells: tuple[int, int], *, upscale: bool = False
) -> tuple[int, int]:
    """Columns and rows that show an image of `pixels` inside `max_cells`, keeping its shape.

    Without `upscale`, an image smaller than the box keeps its own size
    (in cells of `cell_size()`). Never less than 1×1.
    """
    width, height = max(1, pixels[0]), max(1, pixels[1])
    cell_w, cell_h = cell_size()
    max_cols, max_rows = max(1, max_cells[0]), max(1, max_cells[1])
    scale = min(max_cols * cell_w / width, max_rows * cell_h / height)
    if not upscale:
        scale = min(scale, 1.0)
    cols = min(max_cols, max(1, round(width * scale / cell_w)))
    rows = min(max_rows, max(1, round(height * scale / cell_h)))
    return cols, rows


def display_copy(image: Image.Image, cells: tuple[int, int], background: str = "#000000", *,
                 owned: bool = False) -> Image.Image:
    """A small RGB copy of `image` with enough pixels for `cells`, transparency flattened.

    Renderers re-scale the image on every frame; handing them a copy this
    size keeps that cheap. Transparent parts get `background` (half blocks
    have no transparency and would show them black). With `owned`, `image` is
    the caller's to give away and is shrunk in place instead of copied first.
    """
    from PIL import Image as PILImage

    cell_w, cell_h = cell_size()
    box = (max(1, cells[0] * cell_w), max(1, cells[1] * cell_h))
    copy = image if owned else image.copy()
    if copy.mode in ("P", "PA", "1", "I", "I;16", "F"):
        copy = copy.convert("RGBA")
    # thumbnail() with reducing_gap first shrinks by whole factors, which is
    # both fast and sharp for big photos.
    copy.thumbnail(box, PILImage.Resampling.LANCZOS, reducing_gap=2.0)
    if copy.mode in ("RGBA", "LA"):
        flat = PILImage.new("RGB", copy.size, background)
        flat.paste(copy, mask=copy.getchannel("A"))
        return flat
    return copy.convert("RGB")


class ThumbnailCache:
    """Recently drawn display copies, so re-mounting a message does not decode again.

    Keys name the content (a stored file's ref is its hash), the size and the
    background. Thread-safe: thumbnails are made in thread workers.
    """

    def __init__(self, size: int = _THUMBNAIL_CACHE_SIZE) -> None:
        self.size = size
        """How many display copies to keep."""
        self._items: OrderedDict[tuple[str, int, int, str], Image.Image] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int, str]) -> Image.Image | None:
        """The cached copy for `key`, or None."""
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def put(self, key: tuple[str, int, int, str], image: Image.Image) -> None:
        """Keep `image`, forgetting the least recently used beyond `size`."""
        with self._lock:
            self._items[key] = image
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every copy."""
        with self._lock:
            self._items.clear()


THUMBNAILS = ThumbnailCache()
"""The process-wide cache `attachment_thumbnail` uses."""


def attachment_thumbnail(
    att: Attachment, cells: tuple[int, int], *, media_root: Path | None = None, background: str = "#000000"
) -> Image.Image:
    """A display copy of an attached image for `cells`; raises `AttachmentError` if it can't be read.

    Slow (it decodes the image): call it from a thread worker.
    """
    content = att.ref or att.url or att.name
    key = (content, cells[0], cells[1], background)
    cached = THUMBNAILS.get(key)
    if cached is not None:
        return cached
    image = display_copy(load_image(att, media_root=media_root), cells, background)
    THUMBNAILS.put(key, image)
    return image


def _detect() -> Renderer | None:
    """What the terminal supports, importing textual-image (and probing) the first time."""
    if _state.available is None:
        _state.available = _import_textual_image()
    return _state.detected if _state.available else None


def _import_textual_image() -> bool:
    stdout = sys.__stdout__
    on_terminal = bool(stdout and stdout.isatty())
    if on_terminal and not _state.prepared:
        # The probe would now race Textual's input thread for the answers.
        _state.problem = "vllm_chat.ui.images.prepare_terminal() was not called before the app started"
        log.info("%s; attachments show as text", _state.problem)
        return False
    # Without a handler of its own, textual-image's warnings (e.g. "Failed to
    # get cell size") would go to Python's last-resort handler: stderr, under the TUI.
    logging.getLogger("textual_image").addHandler(logging.NullHandler())
    try:
        with _quiet_in_multiplexer():
            import textual_image.widget  # noqa: F401
    except Exception as first:  # noqa: BLE001 - any failure means "text chips"
        if not _retry_with_default_cell_size():
            _state.problem = f"textual-image could not start ({type(first).__name__}: {first})"
            log.info("%s; attachments show as text", _state.problem)
            return False
    from textual_image.renderable import Image, SixelImage, TGPImage

    if Image is SixelImage:
        _state.detected = "sixel"
    elif Image is TGPImage:
        _state.detected = "tgp"
    else:
        _state.detected = "halfcell"
    return True


def in_multiplexer() -> bool:
    """Whether the app runs inside tmux or GNU screen."""
    term = os.environ.get("TERM", "")
    return bool(os.environ.get("TMUX") or os.environ.get("STY")) or term.startswith(("tmux", "screen"))


class _NoApcWriter:
    """`sys.__stdout__` without APC strings (`ESC _ ... ESC \\`), for the probe in tmux:
    tmux takes an APC string for a pane title, so the kitty-graphics query would become
    the pane's title; and tmux does not pass kitty graphics through anyway."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if text.startswith("\x1b_"):
            return len(text)  # never answered: the probe times out and picks another renderer
        return self._stream.write(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


class _quiet_in_multiplexer:
    """While the probe runs inside tmux or screen, its APC query is not written."""

    def __enter__(self) -> None:
        self._saved = sys.__stdout__
        if in_multiplexer() and sys.__stdout__ is not None:
            sys.__stdout__ = _NoApcWriter(sys.__stdout__)  # type: ignore[assignment, misc]  # typeshed: read-only TextIO

    def __exit__(self, *exc: object) -> None:
        sys.__stdout__ = self._saved  # type: ignore[misc]  # typeshed declares it read-only


def _retry_with_default_cell_size() -> bool:
    """Import textual-image again after seeding its cell size with the usual default.

    textual-image 0.12 divides the window's pixel size by its column count;
    ptys that report 0×0 (`script`, some containers) make that a
    ZeroDivisionError at import. Its cache is a plain function attribute.
    """
    try:
        from textual_image import _terminal

        if not hasattr(_terminal.get_cell_size, "_result"):
            cell_size = _terminal.CellSize(*DEFAULT_CELL_SIZE)
            _terminal.get_cell_size._result = cell_size  # type: ignore[attr-defined]  # its private cache
        with _quiet_in_multiplexer():
            import textual_image.widget  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True
