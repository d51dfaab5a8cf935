"""Bridge from validated theme files (core.themes) to Textual `Theme`s.

Themes are registered once at start-up. A configured theme that doesn't
exist or doesn't load falls back to the default; all problems are reported
together in one notification, never as a crash.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.theme import Theme

from vllm_chat.core.themes import (
    BASE_COLOUR_KEYS,
    DEFAULT_THEME,
    ThemeProblem,
    app_variables_for,
    load_themes,
)


class ThemeBook:
    """Our themes, the user's themes, and the choice between them."""

    def __init__(self, wanted: str) -> None:
        specs, problems = load_themes()
        self.specs = specs
        """Theme files that loaded, by name."""
        self.problems: list[ThemeProblem] = list(problems)
        """Files that did not load, with the reason."""
        self.wanted = wanted
        """The theme the settings ask for."""
        self.active = ""
        """The theme in use, as last chosen at start-up or saved."""

    def register_all(self, app: App) -> None:
        """Register every loaded theme, pick the wanted one (or fall back), and report problems."""
        for spec in self.specs.values():
            try:
                theme = Theme(**spec.theme_kwargs())
                theme.to_color_system().generate()  # fails now rather than at the next repaint
            except Exception as exc:  # a theme that validated but Textual still refuses
                self.problems.append(ThemeProblem(spec.source, f"{type(exc).__name__}: {exc}"))
                continue
            app.register_theme(theme)
        notes = [f"{p.path}: {p.reason}" for p in self.problems]
        chosen = self.wanted
        if chosen not in app.available_themes:
            if chosen:
                notes.append(f"Theme {chosen!r} is not available; using {DEFAULT_THEME}.")
            chosen = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
        app.theme = chosen
        self.active = chosen
        if notes:
            app.notify("\n".join(notes), title="Themes", severity="warning", timeout=12, markup=False)

    def remember(self, name: str, config_file: Path | None) -> str | None:
        """Write `theme = name` into the config file; returns an error message, or None."""
        from vllm_chat.core.config_file import ConfigWriteError, save_setting
        from vllm_chat.core.paths import default_config_file

        try:
            save_setting(config_file or default_config_file(), "theme", name)
        except ConfigWriteError as exc:
            return str(exc)
        finally:
            self.active = name
        return None

    def app_variables(self, app: App) -> dict[str, str]:
        """Our CSS variables ($user-message-background, ...) for the current theme."""
        theme = app.current_theme
        base = {key: getattr(theme, key, None) for key in BASE_COLOUR_KEYS}
        return app_variables_for(base, theme.dark, theme.variables)
