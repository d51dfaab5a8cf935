"""Where vllm-chat keeps its files: config, sessions, media, user themes.

All folders are created on first use with mode 0700, because sessions hold
private conversations. `VLLM_CHAT_DATA_DIR` moves all data (tests use it);
`VLLM_CHAT_CONFIG` or `--config` choose the config file.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vllm-chat"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        path.chmod(0o700)
    except OSError:
        pass  # a folder we don't own (e.g. a shared mount): use it as it is
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
        return _private_dir(Path(override).expanduser())
    import platformdirs

    return _private_dir(platformdirs.user_data_path(APP_NAME))


def sessions_dir() -> Path:
    """One JSON file per session lives here."""
    return _private_dir(data_dir() / "sessions")


def media_dir() -> Path:
    """Attached files, stored once under their content hash."""
    return _private_dir(data_dir() / "media")


def history_file() -> Path:
    """Prompt history for ↑ recall (one JSON string per line)."""
    return data_dir() / "prompt_history.jsonl"
