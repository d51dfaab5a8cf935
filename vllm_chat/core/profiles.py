"""The servers a config names: its `[profiles.NAME]` tables, and the settings for one.

Switching to a profile while the app runs changes only what reaches a server (its URL,
key, model, headers, TLS, routing header, timeouts); every other setting of the run
(sampling, theme, tools...) stays as it started. Flags given for the server the run
started with (`--base-url`, `--header`...) don't follow to another profile: a profile
is taken as the config file (and the environment) describe it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vllm_chat.core.config import ConfigError, Settings, load_settings, read_config_file
from vllm_chat.core.urls import redact_url

SERVER_FIELDS = ("base_url", "api_key", "model", "profile", "headers", "ca_bundle", "insecure",
                 "routing_header", "max_busy_wait", "request_timeout", "connect_timeout")
"""The settings a profile switch changes."""


@dataclass(frozen=True)
class Profile:
    """One server the config names (or the one the run started with)."""

    name: str
    """The profile's name ('' for the server the run started with, when no profile chose it)."""
    base_url: str
    """Its base URL (credentials never included)."""
    current: bool = False
    """The session talks to this one now."""

    @property
    def label(self) -> str:
        """How lists name it."""
        return self.name or "as started"


def profile_names(config_file: Path | None) -> list[str]:
    """The `[profiles.NAME]` tables of the config file, in file order (none without a file)."""
    if config_file is None:
        return []
    data = read_config_file(config_file, explicit=False)
    profiles = data.get("profiles")
    return [name for name, table in profiles.items() if isinstance(table, dict)] if isinstance(profiles, dict) else []


def settings_for(settings: Settings, name: str) -> Settings:
    """`settings` with the server settings of the profile `name` (see the module docstring);
    raises `config.ConfigError` when the profile does not exist or is not valid."""
    chosen = load_settings(config_path=settings.config_file, profile=name) if settings.config_file else \
        load_settings(profile=name)
    update = {field: getattr(chosen, field) for field in SERVER_FIELDS}
    update["profile"] = name  # VLLM_CHAT_PROFILE, read as the `profile` setting, would say the start's
    return settings.model_copy(update=update)


def profiles_of(settings: Settings, started: Settings) -> list[Profile]:
    """The servers to choose from: the one the run started with when no profile chose it,
    then every profile of the config file; `settings` says which is current."""
    names = profile_names(started.config_file)
    out = []
    if not started.profile or started.profile not in names:
        out.append(Profile("", redact_url(started.base_url), current=not settings.profile))
    for name in names:
        try:
            url = settings_for(started, name).base_url
        except ConfigError as exc:  # a broken profile is listed with its problem
            url = f"(can't be used: {exc})"
        out.append(Profile(name, redact_url(url), current=settings.profile == name))
    return out
