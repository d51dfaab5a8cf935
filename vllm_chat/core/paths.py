"""Where vllm-chat keeps its files: config, sessions, media, user themes.

The functions below only say where things are; a folder is created (mode
0700, because sessions hold private conversations) by whoever first writes
into it, with `ensure_private_dir`, so reading (`sessions list`) never creates
anything and a folder that can't be created is a save failure the user is
told about, not a crash at start. `VLLM_CHAT_DATA_DIR` moves all data (tests use it);
`VLLM_CHAT_CONFIG` or `--config` choose the config file.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vllm-chat"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parents, private to the user; raises `OSError`."""
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)  # whatever the umask says
    return path


def config_dir() -> Path:
    """The user's config folder (not created: reading a missing config is fine)."""
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def default_config_file() -> Path:
    """The config file used when neither `--config` nor `VLLM_CHAT_CONFIG` is given."""
    return config_dir() / "config.toml"


def user_themes_dir() -> Path:
    """Folder for the user's own theme files (`*.toml`)."""
    return config_dir() / "themes"


def data_dir() -> Path:
    """The data folder: `VLLM_CHAT_DATA_DIR`, else the platform's user data folder."""
    override = os.environ.get("VLLM_CHAT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def sessions_dir() -> Path:
    """One JSON file per session lives here."""
    return data_dir() / "sessions"


def media_dir() -> Path:
    """Attached files, stored once under their content hash."""
    return data_dir() / "media"


def history_file() -> Path:
    """Prompt history for ↑ recall (one JSON string per line)."""
    return data_dir() / "prompt_history.jsonl"


def user_prompts_dir() -> Path:
    """Folder for the user's saved prompts (`*.md`)."""
    return config_dir() / "prompts"
