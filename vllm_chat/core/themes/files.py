"""Theme files: reading and checking one `*.toml` file into a `ThemeSpec`, and finding
the themes in the shipped folder and the user's.

A broken file becomes one `ThemeProblem` (file + reason, every issue named) instead
of a crash on the next CSS refresh.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_chat.core.themes.colours import parse_colour
from vllm_chat.core.themes.schema import BASE_COLOUR_KEYS, KNOWN_KEYS, NAME_RE, NUMBER_KEYS, check_variable, toml_type
from vllm_chat.core.themes.spec import ThemeSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MAX_THEME_FILE_BYTES = 256 * 1024
"""Theme files are tiny; anything larger is a mistake (and not worth parsing)."""


class ThemeError(Exception):
    """A theme file cannot be used; `reason` says why, phrased for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ThemeProblem:
    """A theme file (or folder) that was skipped, and why."""

    path: Path
    """The file or folder."""
    reason: str
    """What is wrong, e.g. `unknown key 'primry' (did you mean 'primary'?)`."""

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_THEME_FILE_BYTES:
            raise ThemeError(f"is {size // 1024} KiB; a theme file is a few lines of TOML")
        raw = path.read_bytes()
    except OSError as error:
        raise ThemeError(f"cannot be read: {error.strerror or error}") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ThemeError(
            f"is not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); save it as UTF-8"
        ) from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ThemeError(f"is not valid TOML: {error}") from error


def load_theme_file(path: Path) -> ThemeSpec:
    """Read and validate one theme file; raise `ThemeError` listing everything wrong with it."""
    path = Path(path)
    data = _read_toml(path)
    issues: list[str] = []

    for key in data:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            known = ", ".join(KNOWN_KEYS)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {known})"
            issues.append(f"unknown key {key!r}{hint}")

    name = data.get("name")
    if name is None:
        issues.append(f"missing 'name' (add name = \"{path.stem}\")")
    elif not isinstance(name, str):
        issues.append(f"'name' must be a string, not {toml_type(name)}")
    elif not NAME_RE.fullmatch(name):
        issues.append(f"'name' {name!r} may only contain letters, digits, '-' and '_'")
    elif name != path.stem:
        issues.append(
            f"'name' {name!r} does not match the file name; use name = \"{path.stem}\" "
            f"or rename the file to {name}.toml"
        )

    colours: dict[str, str | None] = {}
    if "primary" not in data:
        issues.append("missing 'primary' (the main colour, e.g. primary = \"#6cb0ff\")")
    for key in BASE_COLOUR_KEYS:
        value = data.get(key)
        if value is None:
            colours[key] = None
        elif not isinstance(value, str):
            issues.append(f'{key!r} must be a colour string such as "#6cb0ff", not {toml_type(value)}')
        else:
            try:
                parse_colour(value)
            except ValueError as error:
                issues.append(f"{key!r} {error}")
            else:
                colours[key] = value

    flags: dict[str, bool] = {}
    for key, default in (("dark", True), ("ansi", False)):
        value = data.get(key, default)
        if isinstance(value, bool):
            flags[key] = value
        else:
            issues.append(f"{key!r} must be true or false, not {toml_type(value)}")

    numbers: dict[str, float | None] = {}
    for key in NUMBER_KEYS:
        value = data.get(key)
        if value is None:
            numbers[key] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            issues.append(f"{key!r} must be a number from 0 to 1, not {toml_type(value)}")
        else:
            numbers[key] = float(value)

    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        issues.append(f"'variables' must be a table ([variables]), not {toml_type(variables)}")
        variables = {}
    for variable, value in variables.items():
        problem = check_variable(variable, value)
        if problem:
            issues.append(problem)

    if issues:
        raise ThemeError("; ".join(issues))
    # Each value was checked above (a wrong one is an issue), so `name` and `primary` are strings.
    checked: dict[str, Any] = {"name": name, **colours, **flags, **numbers}
    return ThemeSpec(**checked, variables=dict(variables), source=path)


def shipped_themes_dir() -> Path:
    """The themes that come with vllm-chat: `vllm_chat/themes` in an installed wheel,
    the repository's top-level `themes/` in a source checkout."""
    from importlib.resources import files

    packaged = files("vllm_chat").joinpath("themes")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "themes"


def _theme_files(folder: Path) -> list[Path]:
    # Dotfiles are editor lock and backup files (e.g. Emacs' `.#night.toml`).
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def load_themes(
    dirs: Sequence[Path] | None = None,
) -> tuple[dict[str, ThemeSpec], list[ThemeProblem]]:
    """Load every theme in `dirs` (default: the shipped folder, then the user's).

    A later folder's theme replaces an earlier one of the same name, so users can
    restyle a shipped theme by copying its file. Folders that do not exist are skipped.
    Problems are collected, never raised: each broken file is one `ThemeProblem` and
    the others still load.
    """
    problems: list[ThemeProblem] = []
    if dirs is None:
        from vllm_chat.core.paths import user_themes_dir

        shipped = shipped_themes_dir()
        if not shipped.is_dir():
            problems.append(ThemeProblem(shipped, "shipped themes are missing; reinstall vllm-chat"))
        dirs = [shipped, user_themes_dir()]

    themes: dict[str, ThemeSpec] = {}
    for folder in map(Path, dirs):
        if not folder.exists():
            continue
        if not folder.is_dir():
            problems.append(ThemeProblem(folder, "is not a folder (themes are *.toml files in a folder)"))
            continue
        try:
            files = _theme_files(folder)
        except OSError as error:
            problems.append(ThemeProblem(folder, f"cannot be listed: {error.strerror or error}"))
            continue
        for path in files:
            try:
                spec = load_theme_file(path)
            except ThemeError as error:
                problems.append(ThemeProblem(path, error.reason))
            else:
                themes[spec.name] = spec
    return themes, problems
