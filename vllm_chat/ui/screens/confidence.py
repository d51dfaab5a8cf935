"""ConfidenceScreen: a reply as a confidence heat-map, token by token.

Each token's background says how likely the model thought it was (the theme's
colours, see `ui.heat`); a cursor moves token by token and the side panel
shows the token, its probability and the alternatives the model weighed.
`n` jumps to the next unlikely token (under 30 %). The reply's mean logprob
and perplexity head the screen. Everything shown comes from the session
(`ChatSession.logprobs_of`); this screen only draws.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from vllm_chat.core.logprobs import TokenLogprobs, TokenTable, summary
from vllm_chat.core.text import inert
from vllm_chat.ui.heat import LEVELS, heat_palette, level_of
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.token_text import TokenText

UNLIKELY = 0.3
"""Tokens under this probability are the ones `n` jumps to."""
_BAR = 8
"""Cells of the widest bar in the alternatives list."""


def shown_token(text: str) -> str:
    """A token as the side panel writes it: quoted, with its spaces and breaks visible."""
    visible = inert(text).replace("\n", "↵").replace("\t", "→")
    return f"“{visible}”" if visible.strip() == visible and visible else f"“{visible.replace(' ', '·')}”"


def percent(probability: float) -> str:
    """0.421 -> '42.1 %'; tiny ones stay readable ('< 0.1 %')."""
    if probability >= 0.001:
        return f"{probability * 100:.1f} %"
    return "< 0.1 %" if probability > 0 else "0 %"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class ConfidenceScreen(ModalScreen[None]):
    """The heat-map of one reply, with the token under the cursor explained."""

    DEFAULT_CSS = """
    ConfidenceScreen {
        align: center middle;
        & > Vertical {
            width: 100%;
            height: 100%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        & .title { text-style: bold; color: $primary; height: auto; }
        & .hint { color: $text-muted; height: auto; }
        & #confidence-body { height: 1fr; }
        & TokenText { width: 1fr; background: $background; }
        & #token-detail {
            width: 36;
            height: 1fr;
            padding: 0 0 0 1;
            border-left: vkey $primary 50%;
        }
        & #confidence-legend { height: auto; }
        &.-narrow #confidence-body { layout: vertical; }
        &.-narrow #token-detail {
            width: 100%;
            height: 8;
            border-left: none;
            border-top: hkey $primary 50%;
            padding: 0;
        }
        &.-short #confidence-legend { display: none; }
    }
    """

    BINDINGS = [Binding("escape,q", "close", "Close", id="close-confidence")]

    def __init__(self, table: TokenTable, packed: TokenLogprobs, *, title: str = "") -> None:
        super().__init__()
        self.table = table
        """The reply's tokens."""
        self.packed = packed
        """The reply's logprobs as kept (for the summary)."""
        self.title_text = title or "Confidence"
        """What the screen is about."""
        self._probabilities = [math.exp(lp) for lp in table.logprobs]

    def compose(self) -> ComposeResult:
        palette = heat_palette(self.app)
        styles = [palette.styles[level_of(p)] for p in self._probabilities]
        with Vertical():
            yield Static(self._heading(), classes="title", markup=False)
            with Horizontal(id="confidence-body"):
                yield TokenText(self.table.texts, styles, marked=[p < UNLIKELY for p in self._probabilities],
                                id="heatmap")
                yield Static("", id="token-detail", markup=False)
            yield Static(self._legend(palette.styles), id="confidence-legend", markup=False)
            yield Static(with_keys(self.app, "{token-previous:first} / {token-next:first} token · "
                                             "{token-line-up:first} / {token-line-down:first} line · "
                                             "{token-next-marked} next unlikely · {close-confidence:first} close"),
                         classes="hint", markup=False)

    def _heading(self) -> str:
        n = self.packed.count
        alternatives = f" · top {self.packed.top_n} alternatives" if self.packed.top_n else ""
        return f"{self.title_text} · {n} token{'s' if n != 1 else ''} · {summary(self.packed)}{alternatives}"

    def _legend(self, styles: tuple) -> Text:
        text = Text("probability: ")
        for (_, label), style in zip(LEVELS, styles, strict=True):
            text.append(f" {label} ", style=style)
            text.append(" ")
        return text

    def on_mount(self) -> None:
        heatmap = self.query_one(TokenText)
        heatmap.focus()
        self._fit(self.size.width)
        if heatmap.count:
            heatmap.move_to(0)
        else:
            self.query_one("#token-detail", Static).update("This reply has no tokens.")

    def on_resize(self) -> None:
        self._fit(self.size.width)

    def _fit(self, width: int) -> None:
        self.set_class(width < 80, "-narrow")
        self.set_class(self.size.height < 24, "-short")

    @on(TokenText.CursorMoved)
    def _explain(self, event: TokenText.CursorMoved) -> None:
        self.query_one("#token-detail", Static).update(self.detail(event.index))

    def detail(self, index: int) -> Text:
        """What the side panel says about token `index`."""
        token = self.table[index]
        text = Text()
        text.append(f"token {index + 1} of {len(self.table)}", style="bold")
        if token.kind != "content":
            text.append(f" · {'reasoning' if token.kind == 'reasoning' else 'tool call'}", style="italic")
        text.append("\n" + (shown_token(token.text) if token.text else "(no text: part of a character)"))
        text.append(f"\nprobability {percent(token.probability)}")
        logprob = f"{token.logprob:.3f}" if math.isfinite(token.logprob) else "-inf"
        text.append(f"\nlogprob {logprob}")
        rank = token.rank
        if token.alternatives:
            where = f"the likeliest of {len(token.alternatives)}" if rank == 1 else (
                f"#{rank} of {len(token.alternatives)}" if rank else f"not among the top {len(token.alternatives)}")
            text.append(f"\n{where}\n")
            best = max((math.exp(lp) for _, lp in token.alternatives), default=1.0) or 1.0
            for alt_text, alt_logprob in token.alternatives:
                probability = math.exp(alt_logprob)
                mark = "▶ " if alt_text == token.text else "  "
                bar = "█" * max(1, round(_BAR * probability / best)) if probability > 0 else ""
                text.append(f"\n{mark}{_cut(shown_token(alt_text), 14):<14} {percent(probability):>7} {bar}")
        return text

    def action_close(self) -> None:
        """Back to the conversation."""
        self.dismiss(None)
