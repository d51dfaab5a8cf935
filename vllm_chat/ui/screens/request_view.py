"""RequestScreen: the exact request behind a reply, and the prompt it became.

The request is shown as it went over the wire (method, URL, headers with the
API key redacted, the JSON body) in a read-only text box, and copied as JSON,
as a curl command or as a Python script with one key each. `r` asks the
server what its chat template made of it (`RenderedPromptScreen`): the
prompt text with special tokens highlighted, each token's boundaries on
`b`, the token under the cursor explained below. The text comes from the
session (`request_of`, `request_as`, `render_prompt`); the screens only draw.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from vllm_chat.core.prompt_render import RenderedPrompt
from vllm_chat.core.request_view import CopyForm, shown
from vllm_chat.core.session import ChatSession
from vllm_chat.core.telemetry.probe import ProbeError
from vllm_chat.core.text import inert
from vllm_chat.ui.colors import theme_color
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.token_text import TokenText

_FRAME_CSS = """
    align: center middle;
    & > Vertical {
        width: 100%;
        height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    & .title { text-style: bold; color: $primary; height: auto; }
    & .note { color: $warning; height: auto; }
    & .hint { color: $text-muted; height: auto; }
"""

COPY_WHAT = {"json": "the request as JSON", "curl": "the request as a curl command",
             "python": "the request as a Python script"}
"""How the copy notice names each form."""


class RequestScreen(ModalScreen[None]):
    """The exact request behind one reply, with copy actions."""

    DEFAULT_CSS = "RequestScreen {" + _FRAME_CSS + """
        & TextArea { height: 1fr; border: none; background: $background; }
    }
    """

    BINDINGS = [
        Binding("j", "copy('json')", "Copy JSON", id="copy-request-json"),
        Binding("c", "copy('curl')", "Copy curl", id="copy-request-curl"),
        Binding("p", "copy('python')", "Copy Python", id="copy-request-python"),
        Binding("r", "render", "Rendered prompt", id="show-rendered-prompt"),
        Binding("escape,q", "close", "Close", id="close-request"),
    ]

    def __init__(self, session: ChatSession, message_id: str, copy: Callable[[str, str], None]) -> None:
        super().__init__()
        self.session = session
        """Where the request comes from."""
        self.message_id = message_id
        """The reply whose request is shown."""
        self.copy = copy
        """Copies text to the clipboard and says so: `copy(text, what)` (the chat screen's)."""
        self.request = session.request_of(message_id)
        """The request (raises for a reply without one: the caller checks first)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("The request behind this reply", classes="title", markup=False)
            if self.request.note:
                yield Static(self.request.note, classes="note", markup=False)
            # Read-only text box: it draws only what is visible, so a long history stays fast.
            yield TextArea(inert(shown(self.request)), read_only=True, soft_wrap=True, show_line_numbers=False,
                           id="request-text")
            yield Static(with_keys(self.app, "copy as {copy-request-json} JSON · {copy-request-curl} curl · "
                                             "{copy-request-python} Python (the key from $OPENAI_API_KEY) · "
                                             "{show-rendered-prompt} rendered prompt · {close-request:first} close"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        if self.app.is_headless:
            area.cursor_blink = False
        area.focus()

    def action_copy(self, form: CopyForm) -> None:
        """Copy the request as JSON, curl or Python."""
        self.copy(self.session.request_as(self.message_id, form), COPY_WHAT[form])

    def action_render(self) -> None:
        """What the chat template made of this request."""
        self.app.push_screen(RenderedPromptScreen(self.session, self.message_id))

    def action_close(self) -> None:
        """Back to the conversation."""
        self.dismiss(None)


class RenderedPromptScreen(ModalScreen[None]):
    """The prompt a request became on the server, token by token."""

    DEFAULT_CSS = "RenderedPromptScreen {" + _FRAME_CSS + """
        & TokenText { background: $background; }
        & #prompt-token { height: auto; color: $text-muted; }
    }
    """

    BINDINGS = [
        Binding("b", "boundaries", "Token boundaries", id="toggle-token-boundaries"),
        Binding("escape,q", "close", "Close", id="close-rendered-prompt"),
    ]

    def __init__(self, session: ChatSession, message_id: str) -> None:
        super().__init__()
        self.session = session
        """Where the prompt comes from."""
        self.message_id = message_id
        """The reply whose request is rendered."""
        self.rendered: RenderedPrompt | None = None
        """The prompt, once the server answered."""
        self.boundaries = False
        """Whether each token's extent is shown."""

    def compose(self) -> ComposeResult:
        with Vertical(id="rendered-frame"):
            yield Static("The rendered prompt · asking the server…", classes="title", id="prompt-title",
                         markup=False)
            yield Static("", classes="note", id="prompt-notes", markup=False)
            yield Static("", id="prompt-token", markup=False)
            yield Static(with_keys(self.app, "{token-previous:first} / {token-next:first} token · "
                                             "{token-next-marked} next special token · {toggle-token-boundaries} "
                                             "token boundaries · {close-rendered-prompt:first} close"),
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#prompt-notes", Static).display = False
        self._load()

    @work(exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        try:
            rendered = await self.session.render_prompt(self.message_id)
        except ProbeError as exc:
            self._say(f"The server could not render this request: {exc.reason}")
            return
        self.rendered = rendered
        count = len(rendered.token_ids)
        self.query_one("#prompt-title", Static).update(
            f"The rendered prompt · {count} tokens · from {rendered.source}")
        notes = list(rendered.notes)
        if rendered.sampling_params:
            params = ", ".join(f"{k}={v}" for k, v in rendered.sampling_params.items()
                               if k in ("temperature", "top_p", "top_k", "min_p", "max_tokens", "seed",
                                        "repetition_penalty", "presence_penalty", "frequency_penalty"))
            notes.append(f"The server would sample with: {params}")
        if notes:
            self._say("\n".join(notes))
        pieces = list(rendered.pieces) or [rendered.text]
        view = TokenText(pieces, self._styles(), marked=[i in rendered.special for i in range(len(pieces))],
                         id="prompt-text")
        await self.query_one("#rendered-frame").mount(view, before=self.query_one("#prompt-token"))
        view.focus()
        view.move_to(0)

    def _say(self, text: str) -> None:
        notes = self.query_one("#prompt-notes", Static)
        notes.update(inert(text))
        notes.display = True

    def _styles(self) -> list[Style]:
        rendered = self.rendered
        if rendered is None:
            return []
        special = Style(color=theme_color(self.app, "accent") or None, bold=True)
        shades = [Style(), Style(bgcolor=theme_color(self.app, "panel") or None, underline=True)]
        count = max(1, len(rendered.pieces))
        styles = []
        for i in range(count):
            style = shades[i % 2] if self.boundaries else Style()
            styles.append(style + special if i in rendered.special else style)
        return styles

    @on(TokenText.CursorMoved)
    def _explain(self, event: TokenText.CursorMoved) -> None:
        rendered = self.rendered
        if rendered is None or not rendered.pieces:
            return
        i = event.index
        piece = inert(rendered.pieces[i]).replace("\n", "↵")
        kind = " · special token" if i in rendered.special else ""
        self.query_one("#prompt-token", Static).update(
            Text(f"token {i + 1} of {len(rendered.pieces)} · id {rendered.token_ids[i]}{kind} · “{piece}”"))

    def action_boundaries(self) -> None:
        """Show where each token begins and ends (alternating shades), or stop."""
        self.boundaries = not self.boundaries
        for view in self.query(TokenText):
            view.set_styles(self._styles())

    def action_close(self) -> None:
        """Back to the request."""
        self.dismiss(None)
