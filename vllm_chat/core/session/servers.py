"""Several servers: the config's profiles, what each serves, switching the session to
another one while the conversation stays, and how requests reach the server now
(proxy, TLS, extra headers, routing header)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.profiles import Profile, profiles_of, settings_for
from vllm_chat.core.session.base import Connected, SessionBase

SURVEY_TIMEOUT = 3.0
"""Seconds each server gets to list its models for the server picker."""


@dataclass(frozen=True)
class ServerModels:
    """What one server serves, as far as it said."""

    profile: Profile
    """The server."""
    models: tuple[str, ...] = ()
    """The models it lists (adapters included)."""
    problem: str = ""
    """Why it listed none ('' when it answered)."""


class ServersPart(SessionBase):
    """The config's servers and switching between them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started = self.settings

    def profiles(self) -> list[Profile]:
        """The servers to choose from: the one the run started with (when no profile chose
        it), then the config's profiles; `current` marks the one in use."""
        return profiles_of(self.settings, self._started)

    async def survey_servers(self, timeout: float = SURVEY_TIMEOUT) -> list[ServerModels]:
        """Every server's models, asked all at once (each within `timeout` seconds; the
        current one's list is the session's own when it has one)."""
        return list(await asyncio.gather(*(self._survey(p, timeout) for p in self.profiles())))

    async def _survey(self, profile: Profile, timeout: float) -> ServerModels:
        if profile.current and self.models:
            return ServerModels(profile, tuple(m.id for m in self.models))
        from vllm_chat.core.config import ConfigError

        try:
            settings = settings_for(self._started, profile.name) if profile.name else self._started
        except ConfigError as exc:
            return ServerModels(profile, problem=str(exc))
        client = self._client_for(settings)
        try:
            models = await asyncio.wait_for(client.list_models(), timeout)
        except ChatErrorException as exc:
            return ServerModels(profile, problem=exc.error.message)
        except asyncio.TimeoutError:
            return ServerModels(profile, problem=f"no answer within {timeout:g} s")
        finally:
            await client.aclose()
        return ServerModels(profile, tuple(m.id for m in models))

    async def switch_profile(self, name: str) -> Connected:
        """Talk to the server of profile `name` ('' for the one the run started with) from
        now on; the conversation stays, on the profile's model, else the same model when that
        server serves it, else its first. Raises `config.ConfigError` for a profile that can't
        be used and RuntimeError while a turn runs; the result says whether it answered (the
        connection state too)."""
        if self._engine.running:  # a turn, a compaction or candidates
            raise RuntimeError("a turn is running")
        settings = settings_for(self._started, name) if name else self._started
        old = self._client
        self.settings = settings
        self._client = self._client_for(settings)
        self._engine.client = self._client
        self._engine.max_busy_wait = settings.max_busy_wait
        self.models = []
        self._server_changed()
        self._set_connection("connecting")
        await old.aclose()
        try:
            models = await self.connect()
        except ChatErrorException as exc:
            return Connected(exc.error)
        served = [m.id for m in models]
        conv = self.conversation
        model = settings.model or (conv.model if conv.model in served else (served[0] if served else conv.model))
        if model != conv.model:
            conv.model = model
            self._context_used = self._last_usage()
            self._changed()
        return Connected(None)

    def connection_facts(self) -> list[tuple[str, str]]:
        """How requests reach the server now, as (label, value) lines: the proxy, TLS, the
        extra headers (names only) and the routing header."""
        from vllm_chat.core.transport import connection_facts

        return connection_facts(self._client.transport, self.settings.base_url)
