"""Bridge from validated theme files (core.themes) to Textual `Theme`s, and the
theme picker.

Themes are registered once at start-up. A configured theme that doesn't
exist or doesn't load falls back to the default; all problems are reported
together in one notification, never as a crash. The picker (palette → Theme)
shows each highlighted theme at once; Enter keeps it and writes it to the
config, Esc goes back to the theme from before.
"""

from __future__ import annotations

from pathlib import Path

from textual import events, on
from textual.app import App
from textual.command import CommandPalette, DiscoveryHit, Hits
from textual.theme import Theme, ThemeProvider
from textual.widgets import OptionList

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
        self.previewing = False
        """True while the theme picker is open: the themes it shows are not saved."""

    def register_all(self, app: App) -> None:
        """Register every loaded theme, pick the wanted one (or fall back), and report problems."""
        for spec in self.specs.values():
            try:
                theme = Theme(**spec.theme_kwargs())
                theme.to_color_system().generate()  # fails now rather than at the next repaint
            except Exception as exc:  # noqa: BLE001 - a theme that validated but Textual still refuses
                self.problems.append(ThemeProblem(spec.source, f"{type(exc).__name__}: {exc}"))
                continue
            app.register_theme(theme)
        notes = [f"{p.path}: {p.reason}" for p in self.problems]
        chosen = self.wanted
        if chosen not in app.available_themes:
            if chosen:
                ours = sorted(name for name in self.specs if name in app.available_themes)
                notes.append(f"Theme {chosen!r} is not available; using {DEFAULT_THEME}. "
                             f"Ours: {', '.join(ours)}; Textual's own (nord, dracula, …) are listed in "
                             "the command palette under Theme.")
            chosen = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
        app.theme = chosen
        self.active = chosen
        if notes:
            app.notify("\n".join(notes), title="Themes", severity="warning", timeout=12, markup=False)

    def remember(self, name: str, config_file: Path | None) -> str | None:
        """Write `theme = name` into the config file; returns an error message, or None.

        Does nothing while the picker previews themes: it saves the one picked itself."""
        from vllm_chat.core.config_file import ConfigWriteError, save_setting
        from vllm_chat.core.paths import default_config_file

        if self.previewing:
            return None
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


class _CurrentThemeFirst(ThemeProvider):
    """Textual's theme list, with the theme in use first: the palette highlights the
    first entry when it opens, and with a live preview that must not change anything."""

    async def discover(self) -> Hits:
        current = self.app.theme
        for name, callback in sorted(self.commands, key=lambda command: command[0] != current):
            yield DiscoveryHit(name, callback)


class ThemePicker(CommandPalette):
    """Type to search the themes; the highlighted one is shown at once. Enter keeps it
    (written to the config file), Esc goes back to the theme from before."""

    def __init__(self, book: ThemeBook, config_file: Path | None) -> None:
        super().__init__(providers=[_CurrentThemeFirst], placeholder="Search for themes…")
        self.book = book
        """The app's themes (the picked one is saved through it)."""
        self.config_file = config_file
        """Where the pick is written (None: the default config file)."""
        self.picked: str | None = None
        """The theme chosen with Enter (None while browsing, or after Esc)."""
        self._before = ""

    def on_mount(self) -> None:
        self._before = self.app.theme
        self.book.previewing = True

    def _theme_of(self, option: object) -> str | None:
        hit = getattr(option, "hit", None)
        name = getattr(hit, "text", None)
        return name if name in self.app.available_themes else None

    @on(OptionList.OptionHighlighted)
    def _preview(self, event: OptionList.OptionHighlighted) -> None:
        name = self._theme_of(event.option)
        if name is not None and name != self.app.theme:
            self.app.theme = name

    @on(OptionList.OptionSelected)
    def _pick(self, event: OptionList.OptionSelected) -> None:
        self.picked = self._theme_of(event.option)

    def on_unmount(self, event: events.Unmount) -> None:
        self.book.previewing = False
        if self.picked is None:
            if self._before in self.app.available_themes:
                self.app.theme = self._before
            return
        self.app.theme = self.picked
        error = self.book.remember(self.picked, self.config_file)
        if error:
            self.app.notify(error, title="Theme not saved", severity="warning", markup=False)
