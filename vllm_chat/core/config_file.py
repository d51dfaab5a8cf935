"""Writing a choice back into the config file (e.g. the theme), keeping the user's
comments and layout (tomlkit), atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


class ConfigWriteError(Exception):
    """The config file could not be updated; the message says why."""


def save_setting(path: Path, key: str, value: Any) -> None:
    """Set the top-level `key` to `value` in the TOML file at `path` (created if missing)."""
    import tomlkit

    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigWriteError(f"Can't read {path}: {exc}") from None
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigWriteError(f"{path} is not valid TOML ({exc}); it was left unchanged.") from None
    if key in doc and not isinstance(doc[key], (str, int, float, bool)):
        raise ConfigWriteError(f"{path}: {key} is a table; it was left unchanged.")
    _set_top_level(doc, key, value)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigWriteError(f"Can't write {path}: {exc.strerror or exc}") from None


def _set_top_level(doc: Any, key: str, value: Any) -> None:
    """Top-level keys must come before the first table, or TOML would put them inside it."""
    import tomlkit

    if key in doc:
        doc[key] = value
        return
    body = doc.body
    first_table = next((i for i, (_, item) in enumerate(body)
                        if isinstance(item, (tomlkit.items.Table, tomlkit.items.AoT))), None)
    if first_table is None:
        doc[key] = value
        return
    at = first_table
    while at > 0 and isinstance(body[at - 1][1], tomlkit.items.Whitespace):
        at -= 1  # right after the last top-level line, before the blank lines
    # tomlkit has no public "insert at"; the container's own method keeps its index right.
    doc._insert_at(at, key, value)
