"""The first ten minutes, how things read (issue 12): no words of ours lost to markup, text
in replies readable and the focused message's bars visible in every theme the palette offers,
the theme picker's preview undimmed, the session browser's preview as prose and its
marks readable, and prose no wider than the reading width on a wide terminal."""

from __future__ import annotations

import pytest
from rich.style import Style
from textual.content import Content
from textual.theme import Theme

from tests.support.pilot import cell_style, screen_text, turn, wait_for_screen, wait_for_text, wait_until
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.store import SessionStore
from vllm_chat.core.themes import contrast_ratio
from vllm_chat.ui.markdown_render import markdown_theme, render_markdown
from vllm_chat.ui.screens.sessions import SessionBrowserScreen
from vllm_chat.ui.theming import ThemePicker
from vllm_chat.ui.widgets.message_views import AssistantMessageView, UserMessageView
from vllm_chat.ui.widgets.session_rows import SessionList

SAMPLE = """# Heading one

Text with `inline code`, **bold**, *italic* and [a link](https://docs.vllm.ai).

| Field | Where |
|---|---|
| `content` | delta |
| `reasoning` | delta |

- a list item
1. a numbered item

> a quote

#### Heading four

##### Heading five

###### Heading six
"""
"""Every Markdown element a reply draws in a colour of its own (code fences excepted:
their colours are the Pygments style's)."""


RULES = " " + "".join(chr(c) for c in range(0x2500, 0x2580))
"""Spaces and box-drawing characters: table rules, not text."""


def offered_themes(app) -> list[Theme]:
    """The themes the palette's Theme command lists, but those in the terminal's own
    colours (their real values are the terminal's secret)."""
    return [t for t in app.available_themes.values() if not t.name.startswith("ansi-") and t.name != "textual-ansi"]


def hex_of(colour) -> str:
    return colour.triplet.hex


async def test_no_palette_command_loses_words_to_markup(sim, make_app) -> None:
    prompts = {"draft": {"text": "Draft: {topic}", "description": "A [draft] reply about [b]topic[/b]"}}
    async with make_app(base_url=sim.base_url, prompts=prompts) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        commands = list(app.get_system_commands(app.screen))
        assert len(commands) > 40
        for command in commands:
            for text in (command.title, command.help):
                # What shows is what we wrote: only the escapes that keep brackets literal go.
                assert Content.from_markup(text).plain == text.replace("\\[", "["), text
        await pilot.press("ctrl+p")
        await pilot.press(*"Key bindings")
        await wait_until(pilot, lambda: "with the ids [keymap] uses" in screen_text(app))


async def test_text_in_replies_reads_at_least_4_5_to_1_in_every_theme_the_palette_offers(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        checked = []
        for theme in offered_themes(app):
            app.theme = theme.name
            await pilot.pause()
            variables = app.theme_variables
            reply = variables["assistant-message-background"]
            base = Style(color=variables["foreground"], bgcolor=reply)
            strips = render_markdown(SAMPLE, console=app.console, width=80, base=base,
                                     rich_theme=markdown_theme(variables), code_style="monokai")
            for strip in strips:
                for segment in strip:
                    if not segment.text.strip(RULES) or segment.style is None or segment.style.color is None:
                        continue
                    background = segment.style.bgcolor or base.bgcolor
                    ratio = contrast_ratio(hex_of(segment.style.color), hex_of(background))
                    assert ratio >= 4.5, (theme.name, segment.text, ratio)
            checked.append(theme.name)
        assert {"textual-light", "textual-dark", "vllm-night", "vllm-day", "nord"} <= set(checked)


async def test_the_focused_messages_bars_stand_out_in_every_theme_the_palette_offers(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        for theme in offered_themes(app):
            app.theme = theme.name
            await pilot.pause()
            v = app.theme_variables
            assert contrast_ratio(v["focus-border"], v["background"]) >= 3.0, theme.name  # as a focus mark must
            assert contrast_ratio(v["focus-border"], v["user-message-background"]) >= 3.0, theme.name
            assert v["focus-border"].lower() != v["assistant-message-border"].lower(), theme.name


async def test_the_theme_picker_shows_the_highlighted_theme_undimmed(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 30)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "connected")
        app.search_themes()
        await wait_for_screen(pilot, app, ThemePicker)
        await pilot.press(*"textual-light")
        await wait_until(pilot, lambda: app.theme == "textual-light", message="the preview")

        def header_undimmed() -> bool:
            header = app.theme_variables["status-bar-background"]
            shown = cell_style(app, app.size.width - 1, 0)  # the header's last cell, beside the list
            return shown.bgcolor is not None and hex_of(shown.bgcolor).lower() == header.lower()

        await wait_until(pilot, header_undimmed, message="the header in the previewed theme's own colour")
        await pilot.press("escape")


async def test_the_session_browser_previews_markdown_as_prose(make_app, sim) -> None:
    conv = Conversation(model="sim-chat", title="Batching notes")
    conv.add(Message(role="user", content="Tell me about batching"))
    conv.add(Message(role="assistant", content="# A long reply\n\nAbout **batching**:\n\n## 1. Batching\n\n"
                                               "| Setting | Effect |\n|---|---|\n| `max_num_seqs` | requests |"))
    SessionStore().save(conv)
    async with make_app(base_url=sim.base_url, size=(120, 30)) as (app, pilot):
        await pilot.press("ctrl+l")
        await wait_for_screen(pilot, app, SessionBrowserScreen)
        # The preview, read as prose.
        await wait_for_text(pilot, app, "A long reply About batching: 1. Batching · Setting · Effect · max_num_seqs",
                            absent=["## 1.", "**"])


async def test_the_open_conversations_dot_reads_on_the_highlighted_row_in_every_theme(make_app, sim) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 30)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo the open one")
        await pilot.press("ctrl+l")
        browser = await wait_for_screen(pilot, app, SessionBrowserScreen)
        rows = browser.query_one(SessionList)
        await wait_until(pilot, lambda: rows.highlighted_id == app.session.conversation.id)
        for theme in offered_themes(app):
            app.theme = theme.name
            await pilot.pause()
            rows._visuals.clear()
            strip = rows.render_line(rows.highlighted - round(rows.scroll_offset.y))
            segments = list(strip)
            at = next(i for i, segment in enumerate(segments) if "●" in segment.text)
            dot = segments[at]
            title = next(segment for segment in segments[at + 1:] if segment.text.strip())
            ratio = contrast_ratio(hex_of(dot.style.color), hex_of(dot.style.bgcolor))
            row = contrast_ratio(hex_of(title.style.color), hex_of(title.style.bgcolor))
            # As readable as the row's own title (a theme's cursor can be fainter than 3:1: gruvbox's).
            assert ratio >= min(3.0, row), (theme.name, ratio, row)


@pytest.mark.parametrize("width", [200, 120])
async def test_prose_stops_at_the_reading_width_on_a_wide_terminal(sim, make_app, width: int) -> None:
    async with make_app(base_url=sim.base_url, size=(width, 40), reading_width=100) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo " + "word " * 80)
        for view in [*app.chat.messages.query(UserMessageView), *app.chat.messages.query(AssistantMessageView)]:
            assert view.outer_size.width == 100
        assert app.chat.prompt.outer_size.width > 100, "the prompt keeps the whole width"


async def test_a_reading_width_of_0_lets_prose_run_the_whole_width(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(200, 40), reading_width=0) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await turn(app, pilot, "echo " + "word " * 80)
        assert app.chat.messages.query(AssistantMessageView).last().outer_size.width > 190
