"""The confidence heat-map is readable in every theme: each level's background comes from
the theme's own colours, text on it keeps a 4.5:1 contrast, and the levels stay apart
(terminal-colour themes get underlines and the terminal's colours instead)."""

from __future__ import annotations

from vllm_chat.core.config import load_settings
from vllm_chat.core.session import ChatSession
from vllm_chat.core.themes import contrast_ratio
from vllm_chat.ui.app import VllmChatApp
from vllm_chat.ui.heat import LEVELS, MIN_CONTRAST, heat_palette, level_of


def test_probabilities_fall_into_five_levels() -> None:
    assert [level_of(p) for p in (1.0, 0.9, 0.89, 0.6, 0.45, 0.3, 0.2, 0.1, 0.05, 0.0)] == \
        [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len(LEVELS) == 5


async def test_every_theme_gives_readable_distinct_levels() -> None:
    app = VllmChatApp(ChatSession(load_settings({"base_url": "http://127.0.0.1:9/v1"})))
    async with app.run_test(size=(80, 24)) as pilot:
        themes = sorted(app.available_themes)
        assert {"vllm-night", "vllm-day", "vllm-contrast", "vllm-ember", "nord", "ansi-dark"} <= set(themes)
        for name in themes:
            app.theme = name
            await pilot.pause()
            palette = heat_palette(app)
            if app.current_theme.ansi:
                assert set(palette.foregrounds) == {None}
                assert all(style.underline for style in palette.styles[1:]), name
                continue
            assert palette.backgrounds[0] is None, name  # sure tokens are left plain
            shades = palette.backgrounds[1:]
            assert all(shades) and len(set(shades)) == len(shades), (name, shades)
            plain = app.theme_variables["background"].lower()
            assert all(shade.lower() != plain for shade in shades), name
            for text, shade in zip(palette.foregrounds[1:], shades, strict=True):
                assert contrast_ratio(text, shade) >= MIN_CONTRAST, (name, text, shade)
