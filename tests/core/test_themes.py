"""Theme files: what loads, what is refused and why, and that it all works in Textual.

Validation lives in `vllm_chat.core.themes`, which never imports Textual; these tests
do import Textual, to prove that whatever the core accepts also works there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from textual._color_constants import COLOR_NAME_TO_RGB
from textual.app import App, ComposeResult
from textual.color import Color, ColorParseError
from textual.design import ColorSystem
from textual.theme import BUILTIN_THEMES, Theme
from textual.widgets import Static

from vllm_chat.core.themes import (
    ANSI_COLOUR_NAMES,
    APP_COLOUR_VARIABLES,
    APP_VARIABLES,
    BASE_COLOUR_KEYS,
    CSS_COLOUR_NAMES,
    DEFAULT_THEME,
    TEXTUAL_VARIABLES,
    ThemeError,
    ThemeProblem,
    ThemeSpec,
    app_variables_for,
    contrast_ratio,
    load_theme_file,
    load_themes,
    parse_colour,
    shipped_themes_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"vllm-night", "vllm-day", "vllm-contrast", "vllm-ember"}

GOOD_THEME = """\
name = "{name}"
primary = "#6cb0ff"
background = "#14171f"
foreground = "#d7dce6"
"""


def write(folder: Path, filename: str, text: str | bytes) -> Path:
    path = folder / filename
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def shipped_specs() -> list[ThemeSpec]:
    themes, problems = load_themes([shipped_themes_dir()])
    assert problems == []
    return [themes[name] for name in sorted(themes)]


def textual_accepts(text: str) -> bool:
    try:
        Color.parse(text)
    except ColorParseError:
        return False
    return True


def textual_colour(value: str) -> Color:
    """A CSS colour value as Textual's stylesheet resolves it (`#abc`, `#abc 50%`)."""
    head, _, tail = value.rpartition(" ")
    if head and tail.endswith("%"):
        return Color.parse(head).multiply_alpha(float(tail[:-1]) / 100)
    return Color.parse(value)


# ------------------------------------------------------------------- shipped themes


def test_the_shipped_folder_is_the_repository_themes_folder_in_a_checkout():
    assert shipped_themes_dir() == REPO_ROOT / "themes"


def test_the_four_shipped_themes_load_without_problems():
    themes, problems = load_themes([shipped_themes_dir()])
    assert problems == []
    assert SHIPPED <= set(themes)
    for name in SHIPPED:
        assert themes[name].source == shipped_themes_dir() / f"{name}.toml"


def test_the_default_theme_is_the_dark_vllm_night_and_vllm_day_is_light():
    themes, _ = load_themes([shipped_themes_dir()])
    assert DEFAULT_THEME == "vllm-night"
    assert themes["vllm-night"].dark is True
    assert themes["vllm-day"].dark is False


@pytest.mark.parametrize("spec", shipped_specs(), ids=lambda spec: spec.name)
def test_shipped_themes_design_every_app_variable_themselves(spec: ThemeSpec):
    assert set(APP_VARIABLES) <= set(spec.variables)


@pytest.mark.parametrize("spec", shipped_specs(), ids=lambda spec: spec.name)
def test_shipped_themes_keep_all_text_readable(spec: ThemeSpec):
    v = spec.app_variables()
    # WCAG AA for body text; the high-contrast theme promises AAA.
    minimum = 7.0 if spec.name == "vllm-contrast" else 4.5
    text_on_background = [
        (spec.foreground, spec.background),
        (spec.foreground, v["user-message-background"]),
        (spec.foreground, v["assistant-message-background"]),
        (spec.foreground, v["tool-panel-background"]),
        (v["reasoning-foreground"], v["assistant-message-background"]),
        (v["tool-ok"], v["tool-panel-background"]),
        (v["tool-error"], v["tool-panel-background"]),
        (v["tool-pending"], v["tool-panel-background"]),
        (v["error-foreground"], v["error-background"]),
        (v["status-bar-foreground"], v["status-bar-background"]),
        (spec.variables["footer-key-foreground"], spec.panel),
    ]
    for text, background in text_on_background:
        assert contrast_ratio(text, background) >= minimum, (text, background)


@pytest.mark.parametrize("spec", shipped_specs(), ids=lambda spec: spec.name)
def test_shipped_themes_set_user_messages_apart_and_reasoning_quieter_than_text(spec: ThemeSpec):
    v = spec.app_variables()
    assert v["user-message-background"] != v["assistant-message-background"]
    assert v["assistant-message-background"] == spec.background  # replies stay plain
    assert contrast_ratio(v["user-message-border"], spec.background) >= 3.0  # visible edge
    assert contrast_ratio(v["error-border"], spec.background) >= 3.0
    quieter = contrast_ratio(v["reasoning-foreground"], spec.background)
    assert quieter < contrast_ratio(spec.foreground, spec.background)


def test_the_ember_theme_has_no_blue_in_its_palette():
    themes, _ = load_themes([shipped_themes_dir()])
    ember = themes["vllm-ember"]
    colours = [c for c in ember.base_colours().values() if c] + [
        ember.variables[name] for name in APP_COLOUR_VARIABLES
    ]
    for value in colours:
        r, g, b, *_ = parse_colour(value)
        assert b <= min(r, g), value


# -------------------------------------------------------------- parity with Textual


def test_our_colour_names_are_textuals_colour_names():
    ours = {**CSS_COLOUR_NAMES, **ANSI_COLOUR_NAMES, "transparent": (0, 0, 0, 0)}
    assert ours == COLOR_NAME_TO_RGB


TRICKY_COLOURS = [
    "#fff", "#FFF", "#ffff", "#fffff", "#ffffff", "#FfFfFf", "#ffffff0", "#ffffff80",
    "fff", "#ggg", "#", "", " ", " #fff", "#fff ", "#fff\n", "#fff;",
    "rgb(1,2,3)", "rgb( 1 , 2 , 3 )", "rgb(1 2 3)", "rgb(1,2)", "rgb(1.5,2.7,3)",
    "rgb(-1,2,300)", "rgb(1,2,3,0.5)", "rgb(1.,2.,3.)", "rgb(01,02,03)", "rgb(.5,1,1)",
    "RGB(1,2,3)", "rgb(10%,20%,30%)", "rgba(1,2,3,0.5)", "rgba(1,2,3)", "rgba(1,2,3,50%)",
    "rgba(1,2,3,7)", "hsl(120,50%,50%)", "hsl(120,50,50)", "hsl(-30,50%,50%)",
    "hsl(400,50%,50%)", "hsl(1.5,10.5%,20.5%)", "hsl(10,150%,50%)", "hsl(120deg,50%,50%)",
    "hsla(120,50%,50%,0.3)", "hsla(120,50%,50%)", "red", "Red", "RED", "rebeccapurple",
    "grey", "gray", "transparent", "none", "auto", "inherit", "currentColor",
    "ansi_red", "ansi_bright_red", "ansi_default", "ansi_purple", "bright_red",
    "#6cb0ff 30%", "red 50%",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY_COLOURS)
def test_our_colour_parser_accepts_exactly_what_textual_accepts(text: str):
    try:
        ours = parse_colour(text)
    except ValueError:
        assert not textual_accepts(text)
    else:
        assert textual_accepts(text)
        theirs = Color.parse(text)
        assert (ours.r, ours.g, ours.b) == (theirs.r, theirs.g, theirs.b)
        assert ours.a == pytest.approx(theirs.a)
        assert (ours.ansi is not None) == (theirs.ansi is not None)


@pytest.mark.parametrize("spec", shipped_specs(), ids=lambda spec: spec.name)
def test_every_colour_in_the_shipped_themes_parses_in_textual(spec: ThemeSpec):
    for value in spec.base_colours().values():
        if value is not None:
            Color.parse(value)
    for name in APP_COLOUR_VARIABLES:
        textual_colour(spec.variables[name])


@pytest.mark.parametrize("spec", shipped_specs(), ids=lambda spec: spec.name)
def test_shipped_themes_become_textual_themes_whose_colour_system_generates(spec: ThemeSpec):
    theme = Theme(**spec.theme_kwargs())
    generated = theme.to_color_system().generate()
    # Textual round-trips base colours through CIE-Lab, so allow a rounding step.
    made, meant = Color.parse(generated["background"]), Color.parse(spec.background or "")
    assert max(abs(made.r - meant.r), abs(made.g - meant.g), abs(made.b - meant.b)) <= 2


def test_our_list_of_textual_variables_is_textuals():
    generated = set(ColorSystem(primary="#000000").generate())
    generated |= set(ColorSystem(primary="#000000", ansi=True).generate())
    generated.discard("surface-actrive")  # a typo in Textual's ANSI palette
    assert TEXTUAL_VARIABLES == generated


def test_app_variables_do_not_collide_with_textuals():
    assert not set(APP_VARIABLES) & TEXTUAL_VARIABLES


class ThemeProbe(App[None]):
    """Styles one widget per app variable, as the real widgets will."""

    CSS = "\n".join(
        f"#{name} {{ background: ${name}; color: ${name}; }}" for name in APP_COLOUR_VARIABLES
    )

    def __init__(self, specs: list[ThemeSpec]) -> None:
        super().__init__()
        for spec in specs:
            self.register_theme(Theme(**spec.theme_kwargs()))

    def get_theme_variable_defaults(self) -> dict[str, str]:
        theme = self.current_theme
        base = {key: getattr(theme, key) for key in BASE_COLOUR_KEYS}
        return app_variables_for(base, theme.dark, theme.variables)

    def compose(self) -> ComposeResult:
        for name in APP_COLOUR_VARIABLES:
            yield Static(name, id=name)


async def test_css_using_every_app_variable_works_under_every_theme_ours_and_textuals():
    app = ThemeProbe(shipped_specs())
    async with app.run_test() as pilot:
        names = sorted(app.available_themes)
        assert SHIPPED | set(BUILTIN_THEMES) <= set(names)
        for name in names:
            app.theme = name
            await pilot.pause()
            expected = app.get_theme_variable_defaults() | app.current_theme.variables
            for variable in APP_COLOUR_VARIABLES:
                widget = app.query_one(f"#{variable}", Static)
                wanted = textual_colour(expected[variable])
                assert widget.styles.background == wanted, (name, variable)
            assert app.theme_variables["code-theme"] == expected["code-theme"]


# ------------------------------------------------------------------- broken files

BROKEN_FILES = {
    "bad-toml": (
        'name = "bad-toml"\nprimary = "#6cb0ff"\nbackground = "#14171f\n',
        ["is not valid TOML", "line 3"],
    ),
    "unknown-key": (
        'name = "unknown-key"\nprimry = "#6cb0ff"\nprimary = "#6cb0ff"\n',
        ["unknown key 'primry' (did you mean 'primary'?)"],
    ),
    "bad-colour": (
        'name = "bad-colour"\nprimary = "#6cb0ff"\nbackground = "#12345"\n',
        ["'background' is not a colour: '#12345'"],
    ),
    "misspelt-colour-name": (
        'name = "misspelt-colour-name"\nprimary = "bleu"\n',
        ["'primary' is not a colour: 'bleu' (did you mean 'blue'?)"],
    ),
    "upper-case-colour": (
        'name = "upper-case-colour"\nprimary = "Red"\n',
        ["'primary' is not a colour: 'Red'", "lower-case"],
    ),
    "colour-wrong-type": (
        'name = "colour-wrong-type"\nprimary = 42\n',
        ["'primary' must be a colour string", "not an integer (42)"],
    ),
    "dark-wrong-type": (
        'name = "dark-wrong-type"\nprimary = "#6cb0ff"\ndark = "yes"\n',
        ["'dark' must be true or false, not a string ('yes')"],
    ),
    "number-out-of-range": (
        'name = "number-out-of-range"\nprimary = "#6cb0ff"\ntext_alpha = 2\n',
        ["'text_alpha' must be a number from 0 to 1"],
    ),
    "missing-primary": (
        'name = "missing-primary"\nbackground = "#14171f"\n',
        ["missing 'primary'"],
    ),
    "missing-name": (
        'primary = "#6cb0ff"\n',
        ["missing 'name' (add name = \"missing-name\")"],
    ),
    "name-differs": (
        'name = "something-else"\nprimary = "#6cb0ff"\n',
        ["'name' 'something-else' does not match the file name", 'name = "name-differs"'],
    ),
    "bad-code-theme": (
        'name = "bad-code-theme"\nprimary = "#6cb0ff"\n[variables]\n"code-theme" = "monokay"\n',
        ["'code-theme' is not a Pygments style: 'monokay' (did you mean 'monokai'?)"],
    ),
    "unknown-variable": (
        'name = "unknown-variable"\nprimary = "#6cb0ff"\n'
        '[variables]\n"user-mesage-border" = "#fff"\n',
        ["unknown variable 'user-mesage-border' (did you mean 'user-message-border'?)"],
    ),
    "variable-not-a-string": (
        'name = "variable-not-a-string"\nprimary = "#6cb0ff"\n[variables]\n"tool-ok" = 3\n',
        ["variable 'tool-ok' must be a string, not an integer (3)"],
    ),
    "variable-bad-colour": (
        'name = "variable-bad-colour"\nprimary = "#6cb0ff"\n[variables]\n"tool-ok" = "#12"\n',
        ["variable 'tool-ok' is not a colour: '#12'"],
    ),
    "variable-bad-text-style": (
        'name = "variable-bad-text-style"\nprimary = "#6cb0ff"\n'
        '[variables]\n"block-cursor-text-style" = "bold blinking"\n',
        ["variable 'block-cursor-text-style' is not a text style: 'bold blinking'"],
    ),
    "variables-not-a-table": (
        'name = "variables-not-a-table"\nprimary = "#6cb0ff"\nvariables = "x"\n',
        ["'variables' must be a table"],
    ),
    "non-utf8": (
        b'name = "non-utf8"\nprimary = "#6cb0ff"\n# caf\xe9\n',
        ["is not UTF-8 text (byte 0xe9 on line 3)"],
    ),
}


@pytest.mark.parametrize("stem", sorted(BROKEN_FILES))
def test_each_broken_file_is_one_problem_naming_file_and_reason_and_the_rest_still_load(
    tmp_path: Path, stem: str
):
    text, fragments = BROKEN_FILES[stem]
    bad = write(tmp_path, f"{stem}.toml", text)
    write(tmp_path, "good.toml", GOOD_THEME.format(name="good"))

    themes, problems = load_themes([tmp_path])

    assert list(themes) == ["good"]
    assert len(problems) == 1
    assert problems[0].path == bad
    for fragment in fragments:
        assert fragment in problems[0].reason
    assert str(problems[0]).startswith(f"{bad}: ")


def test_load_theme_file_raises_theme_error_with_the_reason(tmp_path: Path):
    bad = write(tmp_path, "oops.toml", 'name = "oops"\n')
    with pytest.raises(ThemeError) as caught:
        load_theme_file(bad)
    assert caught.value.reason == str(caught.value)
    assert "missing 'primary'" in caught.value.reason


def test_every_mistake_in_a_file_is_named_in_its_one_problem(tmp_path: Path):
    write(
        tmp_path,
        "many.toml",
        'name = "many"\nprimary = "#zzz"\nsurfce = "#000"\ndark = 1\n'
        '[variables]\n"tool-ok" = "nope"\n',
    )
    _, problems = load_themes([tmp_path])
    assert len(problems) == 1
    reason = problems[0].reason
    assert "'primary' is not a colour" in reason
    assert "unknown key 'surfce' (did you mean 'surface'?)" in reason
    assert "'dark' must be true or false" in reason
    assert "variable 'tool-ok' is not a colour" in reason


def test_a_file_that_cannot_be_read_is_reported(tmp_path: Path):
    (tmp_path / "folder.toml").mkdir()
    _, problems = load_themes([tmp_path])
    assert [p.path.name for p in problems] == ["folder.toml"]
    assert problems[0].reason.startswith("cannot be read")


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, and root reads anything"
)
def test_a_file_without_read_permission_is_reported(tmp_path: Path):
    locked = write(tmp_path, "locked.toml", GOOD_THEME.format(name="locked"))
    locked.chmod(0)
    try:
        _, problems = load_themes([tmp_path])
    finally:
        locked.chmod(0o600)
    assert problems == [ThemeProblem(locked, "cannot be read: Permission denied")]


def test_an_oversized_file_is_refused_without_parsing_it(tmp_path: Path):
    huge = write(tmp_path, "huge.toml", GOOD_THEME.format(name="huge") + "#" * 300_000 + "\n")
    _, problems = load_themes([tmp_path])
    assert [p.path for p in problems] == [huge]
    assert "a theme file is a few lines of TOML" in problems[0].reason


def test_a_theme_name_must_fit_in_a_css_class(tmp_path: Path):
    bad = write(tmp_path, "my theme.toml", 'name = "my theme"\nprimary = "#6cb0ff"\n')
    _, problems = load_themes([tmp_path])
    reason = "'name' 'my theme' may only contain letters, digits, '-' and '_'"
    assert problems == [ThemeProblem(bad, reason)]


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path):
    write(tmp_path, "bom.toml", "\ufeff".encode() + GOOD_THEME.format(name="bom").encode())
    themes, problems = load_themes([tmp_path])
    assert problems == [] and list(themes) == ["bom"]


# ----------------------------------------------------------------- folders, overrides


def test_a_user_theme_replaces_the_shipped_theme_of_the_same_name(tmp_path: Path):
    user = tmp_path / "user"
    user.mkdir()
    write(user, "vllm-night.toml", 'name = "vllm-night"\nprimary = "#ff0000"\n')
    themes, problems = load_themes([shipped_themes_dir(), user])
    assert problems == []
    assert themes["vllm-night"].primary == "#ff0000"
    assert themes["vllm-night"].source == user / "vllm-night.toml"
    assert themes["vllm-day"].source == shipped_themes_dir() / "vllm-day.toml"


def test_a_broken_user_override_is_reported_and_the_shipped_theme_stays(tmp_path: Path):
    write(tmp_path, "vllm-night.toml", 'name = "vllm-night"\nprimary = "#ff000"\n')
    themes, problems = load_themes([shipped_themes_dir(), tmp_path])
    assert [p.path for p in problems] == [tmp_path / "vllm-night.toml"]
    assert themes["vllm-night"].source == shipped_themes_dir() / "vllm-night.toml"


def test_missing_folders_are_skipped_silently(tmp_path: Path):
    themes, problems = load_themes([tmp_path / "nowhere"])
    assert themes == {} and problems == []


def test_a_file_given_as_a_folder_is_reported(tmp_path: Path):
    not_a_folder = write(tmp_path, "themes", "")
    _, problems = load_themes([not_a_folder])
    assert [p.path for p in problems] == [not_a_folder]
    assert "is not a folder" in problems[0].reason


def test_dotfiles_and_other_extensions_are_not_themes(tmp_path: Path):
    write(tmp_path, ".#good.toml", "garbage = ")
    write(tmp_path, "notes.txt", "not a theme")
    write(tmp_path, "good.toml", GOOD_THEME.format(name="good"))
    themes, problems = load_themes([tmp_path])
    assert list(themes) == ["good"] and problems == []


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="XDG_CONFIG_HOME sets the config folder on Linux"
)
def test_by_default_the_user_config_themes_folder_overrides_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    user = tmp_path / "vllm-chat" / "themes"
    user.mkdir(parents=True)
    write(user, "vllm-day.toml", 'name = "vllm-day"\nprimary = "#00ff00"\ndark = false\n')
    write(user, "mine.toml", GOOD_THEME.format(name="mine"))
    write(user, "broken.toml", "name = ")
    themes, problems = load_themes()
    assert SHIPPED | {"mine"} <= set(themes)
    assert themes["vllm-day"].primary == "#00ff00"
    assert [p.path for p in problems] == [user / "broken.toml"]


def test_an_installed_wheel_finds_its_themes_inside_the_package(tmp_path: Path):
    # The wheel's layout (see pyproject's force-include): vllm_chat/themes/*.toml.
    site = tmp_path / "site"
    package = site / "vllm_chat"
    (package / "core").mkdir(parents=True)
    for relative in ["__init__.py", "core/__init__.py", "core/paths.py"]:
        shutil.copy(REPO_ROOT / "vllm_chat" / relative, package / relative)
    shutil.copytree(REPO_ROOT / "vllm_chat" / "core" / "themes", package / "core" / "themes",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "themes", package / "themes")
    script = (
        "from vllm_chat.core.themes import load_themes, shipped_themes_dir\n"
        "themes, problems = load_themes([shipped_themes_dir()])\n"
        "print(shipped_themes_dir()); print(sorted(themes)); print(problems)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == str(package / "themes")
    assert SHIPPED <= set(eval(out[1]))
    assert out[2] == "[]"


# ----------------------------------------------------------------------- ThemeSpec


def test_theme_kwargs_carry_only_what_the_file_sets(tmp_path: Path):
    spec = load_theme_file(write(tmp_path, "small.toml", GOOD_THEME.format(name="small")))
    assert spec.theme_kwargs() == {
        "name": "small",
        "primary": "#6cb0ff",
        "background": "#14171f",
        "foreground": "#d7dce6",
        "dark": True,
        "variables": {},
    }


def test_theme_kwargs_carry_numbers_flags_and_variables(tmp_path: Path):
    spec = load_theme_file(
        write(
            tmp_path,
            "full.toml",
            'name = "full"\nprimary = "ansi_blue"\ndark = false\nansi = true\n'
            "luminosity_spread = 0.2\ntext_alpha = 1\n"
            "[variables]\n"
            '"tool-ok" = "ansi_green"\n"text" = "auto 90%"\n"link-style" = "bold not underline"\n',
        )
    )
    kwargs = spec.theme_kwargs()
    assert kwargs["luminosity_spread"] == 0.2 and kwargs["text_alpha"] == 1.0
    assert kwargs["ansi"] is True and kwargs["dark"] is False
    assert kwargs["variables"] == {
        "tool-ok": "ansi_green",
        "text": "auto 90%",
        "link-style": "bold not underline",
    }
    Theme(**kwargs).to_color_system().generate()


# ------------------------------------------------------------ derived app variables

TEXT_PAIRS = [
    ("reasoning-foreground", "assistant-message-background"),
    ("tool-ok", "tool-panel-background"),
    ("tool-error", "tool-panel-background"),
    ("tool-pending", "tool-panel-background"),
    ("error-foreground", "error-background"),
    ("status-bar-foreground", "status-bar-background"),
]


@pytest.mark.parametrize(
    "theme", [t for t in BUILTIN_THEMES.values() if not t.ansi], ids=lambda t: t.name
)
def test_textual_builtin_themes_get_every_app_variable_with_readable_text(theme: Theme):
    base = {key: getattr(theme, key) for key in BASE_COLOUR_KEYS}
    variables = app_variables_for(base, theme.dark)
    assert set(variables) == set(APP_VARIABLES)
    for name in APP_COLOUR_VARIABLES:
        assert parse_colour(variables[name]).a == 1.0
    for text, background in TEXT_PAIRS:
        assert contrast_ratio(variables[text], variables[background]) >= 4.5, (text, background)
    foreground = ColorSystem(**base, dark=theme.dark).generate()["foreground"]
    floor = min(4.5, contrast_ratio(foreground, variables["assistant-message-background"]))
    assert contrast_ratio(foreground, variables["user-message-background"]) >= floor
    assert variables["user-message-background"] != variables["assistant-message-background"]


def test_missing_base_colours_take_textuals_defaults():
    dark = app_variables_for({"primary": "#0178D4"}, dark=True)
    light = app_variables_for({"primary": "#0178D4"}, dark=False)
    assert dark["assistant-message-background"] == "#121212"
    assert light["assistant-message-background"] == "#efefef"
    assert (dark["code-theme"], light["code-theme"]) == ("monokai", "friendly")


def test_overrides_win_and_what_is_derived_adapts_to_them():
    base = {
        "primary": "#6cb0ff",
        "background": "#14171f",
        "foreground": "#d7dce6",
        "success": "#7fcf8e",
    }
    variables = app_variables_for(
        base, dark=True, overrides={"tool-panel-background": "#ffffff", "code-theme": "zenburn"}
    )
    assert variables["tool-panel-background"] == "#ffffff"
    assert variables["code-theme"] == "zenburn"
    assert contrast_ratio(variables["tool-ok"], "#ffffff") >= 4.5


def test_terminal_colour_themes_get_terminal_colours():
    ansi = BUILTIN_THEMES["ansi-dark"]
    variables = app_variables_for({key: getattr(ansi, key) for key in BASE_COLOUR_KEYS}, ansi.dark)
    assert variables["user-message-border"] == ansi.primary
    assert variables["tool-error"] == ansi.error
    assert variables["user-message-background"] == "transparent"
    assert variables["code-theme"] == "ansi_dark"


def test_unusable_base_values_are_ignored_rather_than_raising():
    base = {"primary": "nonsense", "background": None, "foreground": 12}
    variables = app_variables_for(base, dark=True)  # type: ignore[arg-type]
    assert set(variables) == set(APP_VARIABLES)


# ------------------------------------------------------------------------ boundaries


def test_the_core_themes_module_imports_neither_textual_nor_pygments_up_front():
    script = (
        "import sys\n"
        "import vllm_chat.core.themes as themes\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "assert 'pygments' not in sys.modules, 'pygments imported at import time'\n"
        "found, problems = themes.load_themes([themes.shipped_themes_dir()])\n"
        "assert found and not problems, problems\n"
        "assert 'textual' not in sys.modules, 'textual imported while loading'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_colour_errors_say_how_to_fix_them():
    cases = {
        " #fff": "remove the spaces",
        "Red": "lower-case: 'red'",
        "bleu": "did you mean 'blue'?",
        "#12345": "use #rrggbb",
        "": "is empty",
    }
    for text, hint in cases.items():
        with pytest.raises(ValueError) as caught:
            parse_colour(text)
        assert hint in str(caught.value), text
