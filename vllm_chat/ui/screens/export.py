"""ExportScreen: write the conversation to a Markdown or JSON file.

The path box starts with `vllm-chat-<title>.md` in the working folder. The
format buttons and the path's suffix follow each other: picking JSON turns
`.md` into `.json`, and typing `.json` picks JSON. An existing file is only
replaced after a confirmation; anything that goes wrong (a missing or
read-only folder, a folder given as the file) is shown in the dialog, which
stays open so the path can be fixed.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, RadioButton, RadioSet, Static

from vllm_chat.core.conversation import Conversation
from vllm_chat.core.export import ExportFormat
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import StoreError
from vllm_chat.core.text import inert
from vllm_chat.core.titles import title_from_prompt
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.screens.dialog import Dialog

FORMAT_NAMES: dict[ExportFormat, str] = {"md": "Markdown", "json": "JSON"}
"""The formats as the dialog names them."""

FORMAT_SUFFIXES: dict[ExportFormat, str] = {"md": ".md", "json": ".json"}
"""The suffix a path gets when its format is picked."""

_FORMAT_OF_SUFFIX: dict[str, ExportFormat] = {".md": "md", ".markdown": "md", ".json": "json"}
_SLUG_CHARS = 40


def title_slug(title: str) -> str:
    """`title` as a file-name part: ASCII letters and digits joined by '-', at most ~40
    characters, cut between words; "conversation" when nothing is left."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    if len(slug) > _SLUG_CHARS:
        cut = slug[:_SLUG_CHARS + 1]
        slug = cut[:cut.rfind("-")] if "-" in cut[_SLUG_CHARS // 2:] else slug[:_SLUG_CHARS]
    return slug.strip("-") or "conversation"


def default_export_path(conv: Conversation, folder: Path) -> Path:
    """Where an export goes unless the user says otherwise: `<folder>/vllm-chat-<title>.md`."""
    first_prompt = next((m.content for m in conv.messages if m.role == "user"), "")
    title = conv.title.strip() or title_from_prompt(first_prompt)
    return folder / f"vllm-chat-{title_slug(title)}.md"


def shown_path(path: Path) -> str:
    """`path` as the box shows it: under the home folder it starts with `~`."""
    home = Path.home()
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)


def format_of(text: str) -> ExportFormat | None:
    """The format a path's suffix stands for (.md, .markdown, .json), or None."""
    return _FORMAT_OF_SUFFIX.get(os.path.splitext(text.strip())[1].lower())


def with_format(text: str, fmt: ExportFormat) -> str:
    """`text` with the suffix of `fmt`: a known export suffix is replaced, any other is kept
    and the new one added; an empty path or a folder path (ending in a separator) stays as it is."""
    stripped = text.rstrip()
    if not stripped or stripped.endswith(("/", os.sep)):
        return text
    stem, suffix = os.path.splitext(stripped)
    if _FORMAT_OF_SUFFIX.get(suffix.lower()) == fmt:
        return stripped
    if suffix.lower() in _FORMAT_OF_SUFFIX:
        return stem + FORMAT_SUFFIXES[fmt]
    return stripped + FORMAT_SUFFIXES[fmt]


def resolve_path(text: str, folder: Path) -> Path:
    """The file a typed path means: `~` expanded, a relative path taken from `folder`."""
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else folder / path


class ExportScreen(Dialog[Path | None]):
    """Pick a file and a format; Enter writes it. Dismisses with the path written, or None."""

    DEFAULT_CSS = """
    ExportScreen {
        & > Vertical {
            width: 90;
        }
        & .what { color: $text-muted; margin: 0 0 1 0; }
        & .label { color: $text-muted; width: 8; padding: 1 0 0 0; }
        & Horizontal { height: auto; }
        & #export-path { width: 1fr; }
        & RadioSet { border: none; padding: 0; background: $surface; layout: horizontal; width: auto; }
        & RadioSet > RadioButton { width: auto; margin: 0 2 0 0; }
        & .format-label { padding: 0; }
        & .problem { display: none; color: $error-foreground; background: $error-background;
                     padding: 0 1; margin: 1 0 0 0; }
        & .problem.-visible { display: block; }
        & .hint { color: $text-muted; margin: 1 0 0 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="cancel-export"),
        Binding("ctrl+s", "export", "Export", priority=True, id="export-conversation"),
        Binding("ctrl+t", "toggle_format", "Markdown / JSON", id="toggle-export-format"),
    ]

    def __init__(self, session: ChatSession, default_dir: Path | None = None) -> None:
        """`default_dir` is where the suggested file goes and where relative paths start
        (default: the working folder)."""
        super().__init__()
        self.session = session
        """The session whose conversation is exported."""
        self.conversation = session.conversation
        """The conversation to export."""
        self.folder = Path(default_dir).expanduser() if default_dir is not None else Path.cwd()
        """Where the suggested file goes and relative paths are taken from."""
        self.problem = ""
        """What went wrong with the last attempt, as shown in the dialog ('' when nothing)."""

    @property
    def path_box(self) -> Input:
        """The file path input."""
        return self.query_one("#export-path", Input)

    @property
    def format(self) -> ExportFormat:
        """The picked format."""
        return "json" if self.query_one("#export-json", RadioButton).value else "md"

    def compose(self) -> ComposeResult:
        conv = self.conversation
        count = len(conv.messages)
        first_prompt = next((m.content for m in conv.messages if m.role == "user"), "")
        title = " ".join(inert(conv.title.strip() or title_from_prompt(first_prompt)).split())
        with Vertical():
            yield Static("Export conversation", classes="title")
            yield Static(Text(f"“{title}” · {count} message{'s' if count != 1 else ''}"), classes="what")
            with Horizontal():
                yield Static("File", classes="label")
                yield Input(shown_path(default_export_path(conv, self.folder)), id="export-path",
                            placeholder="a file name ending in .md or .json")
            with Horizontal():
                yield Static("Format", classes="label format-label")
                with RadioSet(id="export-format"):
                    yield RadioButton("Markdown", value=True, id="export-md")
                    yield RadioButton("JSON (the session file)", id="export-json")
            yield Static("", classes="problem", markup=False)
            yield Static(self._hint(), classes="hint", markup=False)

    def _hint(self) -> str:
        return with_keys(self.app, "enter or {export-conversation} export · {toggle-export-format} "
                                   "Markdown / JSON · {cancel-export} cancel")

    def on_mount(self) -> None:
        box = self.path_box
        if self.app.is_headless:
            box.cursor_blink = False
        box.focus()
        box.cursor_position = len(box.value)

    # -- format and suffix follow each other ------------------------------------------

    @on(Input.Changed, "#export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._problem("")
        fmt = format_of(event.value)
        if fmt is not None and fmt != self.format:
            self.query_one(f"#export-{fmt}", RadioButton).value = True

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        box = self.path_box
        changed = with_format(box.value, self.format)
        if changed != box.value:
            box.value = changed
            box.cursor_position = len(changed)

    def action_toggle_format(self) -> None:
        """Switch between Markdown and JSON."""
        other = "md" if self.format == "json" else "json"
        self.query_one(f"#export-{other}", RadioButton).value = True

    # -- writing ------------------------------------------------------------------------

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_export()

    def action_export(self) -> None:
        """Write the file (asking first if it would replace one)."""
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        text = self.path_box.value
        if not text.strip():
            self._problem("Type a file name, e.g. chat.md or chat.json.")
            return
        fmt = self.format
        try:
            path = resolve_path(text, self.folder)
            replacing = path.exists() and not path.is_dir()
        except (OSError, ValueError) as exc:
            self._problem(f"{text.strip()} is not a usable path: {exc}")
            return
        if not replacing:
            self._write(path, fmt)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write(path, fmt)
            else:
                self.path_box.focus()

        self.app.push_screen(ConfirmScreen(
            f"Replace {path.name}?", "Replace", "Cancel",
            detail=f"{path} already exists; it will be overwritten with this conversation "
                   f"as {FORMAT_NAMES[fmt]}.", destructive=True), answered)

    def _write(self, path: Path, fmt: ExportFormat) -> None:
        try:
            written = self.session.export(path, fmt)
        except StoreError as exc:  # ExportError is one
            self._problem(str(exc))
            return
        self.dismiss(written)

    def _problem(self, text: str) -> None:
        self.problem = text
        problem = self.query_one(".problem", Static)
        problem.update(Text(inert(text)))
        problem.set_class(bool(text), "-visible")

    def action_cancel(self) -> None:
        """Close without writing anything."""
        self.dismiss(None)
