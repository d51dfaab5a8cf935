"""The parts every side of a `ChatSession` shares: what it owns, the connection to
its server, saving, and the status snapshot front ends draw.

`ChatSession` (in `__init__.py`) is assembled from this base and one mixin per
concern (turns, conversation controls, saved conversations). Each mixin
inherits from `SessionBase`, so every part sees the same state and a type
checker can follow it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Conversation
from vllm_chat.core.engine import Approver, Engine
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.models import ModelInfo, context_window
from vllm_chat.core.session.status import Activity, ConnectionState, SessionStatus
from vllm_chat.core.turn_request import TurnOptions
from vllm_chat.core.urls import redact_url

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

    from vllm_chat.core.media.policy import MediaPolicy
    from vllm_chat.core.model_prefetch import PrefetchedModels
    from vllm_chat.core.recorder import SessionRecorder
    from vllm_chat.core.store import SessionStore, StoreError

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 3.0, 5.0)
"""Seconds between connection attempts while the server can't be reached."""


@dataclass(frozen=True)
class Connected:
    """How `ChatSession.keep_connected` ended."""

    error: ChatError | None
    """Why the server can't be used (None: connected)."""
    recovered: bool = False
    """The server could not be reached at first and now answers."""


class SessionBase:
    """State shared by every part of `ChatSession`; see that class for the whole."""

    def __init__(
        self,
        settings: Settings,
        *,
        conversation: Conversation | None = None,
        store: SessionStore | None = None,
        approver: Approver | None = None,
        root: Path | None = None,
        demo: bool = False,
        models_prefetch: Future[PrefetchedModels | None] | None = None,
    ) -> None:
        self.settings = settings
        """The effective settings of this run."""
        self.demo = demo
        """The server is the built-in simulated one (shown in the header)."""
        self.models: list[ModelInfo] = []
        """The server's model list, once known."""
        self.problems: list[str] = []
        """Problems found while setting up (e.g. a user tool that failed to import)."""
        self.tools_enabled = settings.tools.enabled
        """The global tools switch for this run (a conversation may override it)."""
        self.tool_choice = settings.tools.choice
        """`tool_choice` sent with tools in this run: auto, none or required."""
        self._client = self._client_for(settings)
        self._client.adopt_prefetch(models_prefetch)
        self._store = store
        self._root = root or Path(os.getcwd())
        self._engine = self._build_engine(approver)
        self._media_policy: MediaPolicy | None = None
        self._listeners: list[Callable[[], None]] = []
        self._connection: ConnectionState = "connecting"
        self._connection_problem = ""
        self._activity: Activity | None = None
        self._tokens = 0
        self._first_token_at: float | None = None
        self._context_used: int | None = None
        self._save_problem = ""
        self.conversation = conversation or self._fresh_conversation()
        """The conversation being shown and continued."""
        self._recorder = self._recorder_for(self.conversation)
        self._context_used = self._last_usage()

    # -- assembly -------------------------------------------------------------------

    def _client_for(self, settings: Settings) -> ChatClient:
        """A client for the server `settings` name, through their headers and TLS trust (a
        header whose `${VAR}` is not set is left out, and said: the start-up check missed it)."""
        from vllm_chat.core.gateway_settings import transport_of
        from vllm_chat.core.transport import Transport, TransportError

        try:
            transport = transport_of(settings)
        except TransportError as exc:
            self.problems.append(str(exc))
            transport = Transport(insecure=settings.insecure, routing_header=settings.routing_header)
        return ChatClient(settings.base_url, settings.api_key.get_secret_value(), timeout=settings.request_timeout,
                          connect_timeout=settings.connect_timeout, transport=transport)

    def _fresh_conversation(self) -> Conversation:
        return Conversation(
            base_url=redact_url(self.settings.base_url),
            model=self.settings.model or "",
            system_prompt=self.settings.system_prompt,
            params=self.settings.sampling.model_copy(),
            kind="completion" if self.settings.completion else "chat",
            constraint=self.settings.constraint,
            reasoning_controls=self.settings.reasoning.model_copy(deep=True),
        )

    def _build_engine(self, approver: Approver | None) -> Engine:
        # The registry is built even when tools are off, so a conversation can switch them on.
        from vllm_chat.core.tools.approval import ApprovalPolicy
        from vllm_chat.core.tools.registry import ToolRegistry

        tools, problems = ToolRegistry.from_settings(self.settings.tools, root=self._root)
        self.problems.extend(problems)
        return Engine(self._client, tools=tools, approval=ApprovalPolicy(tools), approver=approver,
                      max_rounds=self.settings.tools.max_rounds, max_busy_wait=self.settings.max_busy_wait)

    def _recorder_for(self, conv: Conversation) -> SessionRecorder | None:
        if self._store is None:
            return None
        from vllm_chat.core.recorder import SessionRecorder

        return SessionRecorder(self._store, conv, interval=self.settings.sessions.save_interval,
                               on_state=self._save_state_changed, loop_share=self._engine.loop_share)

    @property
    def saves(self) -> bool:
        """Whether this session writes its conversations to disk."""
        return self._store is not None

    # -- status -----------------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` whenever the status changes; returns the call that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _status_changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def status(self) -> SessionStatus:
        """What a front end shows about this session now."""
        policy = self.media_policy
        return SessionStatus(
            server=redact_url(self.settings.base_url),
            model=self.conversation.model,
            connection=self._connection,
            connection_problem=self._connection_problem,
            context_used=self._context_used,
            context_max=self.context_window,
            tools_on=self.tools_on,
            tool_choice=self.tool_choice,
            activity=self._activity and replace(self._activity, tokens=self._tokens,
                                                first_token_at=self._first_token_at),
            note=policy.hint if policy is not None else "",
            save_problem=self._save_problem,
            demo=self.demo,
            insecure=self._client.transport.insecure,
            profile=self.settings.profile or "",
        )

    def options(self, *, continue_last: bool = False) -> TurnOptions:
        """Turn options from the settings and this conversation (`continue_last`: continue
        the last reply instead of writing a new one)."""
        return TurnOptions(tools_enabled=self.tools_on, tool_choice=self.tool_choice,
                           media_policy=self.media_policy, continue_last=continue_last,
                           chat_template=self.chat_template_for(self.conversation.model),
                           context_window=self.context_window, reply_room=self._reply_room,
                           model_templates={name: entry.chat_template for name, entry in self.settings.models.items()
                                            if entry.chat_template},
                           routing=self.routing)

    @property
    def routing(self) -> tuple[str, str] | None:
        """The routing header of this conversation's turns, (name, the conversation's id), when
        `routing_header` is set: the same on every request of its turns, absent elsewhere."""
        name = self._client.transport.routing_header
        return (name, self.conversation.id) if name else None

    def chat_template_for(self, model: str) -> str | None:
        """The chat template the config gives `model` (`[models."NAME"] chat_template`), if any."""
        entry = self.settings.models.get(model)
        return entry.chat_template if entry is not None else None

    async def _reply_room(self, request: dict[str, Any]) -> int | None:
        """How many tokens a reply to `request` can get at most (None: can't tell); the
        context part answers (see `TurnOptions.reply_room`)."""
        return None

    @property
    def tools_on(self) -> bool:
        """Whether tools are offered in this conversation now."""
        enabled = self.conversation.tools_enabled
        return self.tools_enabled if enabled is None else enabled

    @property
    def context_window(self) -> int | None:
        """`max_model_len` of the current model, when the server said."""
        return context_window(self.models, self.conversation.model)

    @property
    def media_policy(self) -> MediaPolicy | None:
        """The accepted offer to leave media out, while its conversation and model are in
        use (once either changed it lapses: switching back sends every attachment)."""
        policy = self._media_policy
        if policy is not None and not policy.applies_to(self.conversation):
            self._media_policy = policy = None
        return policy

    def _last_usage(self) -> int | None:
        last = next((m for m in reversed(self.conversation.messages) if m.usage is not None), None)
        return (last.usage.prompt_tokens + last.usage.completion_tokens) if last and last.usage else None

    # -- the server -------------------------------------------------------------------

    @property
    def connection(self) -> ConnectionState:
        """Where the session stands with its server."""
        return self._connection

    def _set_connection(self, state: ConnectionState, problem: str = "") -> None:
        if (state, problem) != (self._connection, self._connection_problem):
            self._connection, self._connection_problem = state, problem
            self._status_changed()

    def _server_changed(self) -> None:
        """The session now talks to another server: each part forgets what it learnt of the
        old one (its load, whether it loads LoRA adapters, counts it could not make)."""

    async def connect(self) -> list[ModelInfo]:
        """Ask the server for its models once and settle the model to use.

        Raises `ChatErrorException` when the server can't be asked; the
        connection state says why.
        """
        try:
            self.models = await self._client.list_models()
        except ChatErrorException as exc:
            retrying = exc.error.kind in ("connection", "timeout", "busy")
            self._set_connection("disconnected" if retrying else "error", str(exc.error))
            raise
        if not self.conversation.model and self.models:
            self.conversation.model = self.models[0].id
        self._set_connection("connected")
        return self.models

    async def keep_connected(self, on_attempt: Callable[[ChatError], None] | None = None) -> Connected:
        """Ask for the models until the server answers, waiting a little longer between
        attempts while it can't be reached (vLLM refuses connections while it loads).

        Returns at once on a problem a retry won't fix (a wrong key or URL).
        `on_attempt` hears about each failed attempt.
        """
        attempt = 0
        while True:
            try:
                await self.connect()
                return Connected(None, recovered=attempt > 0)
            except ChatErrorException as exc:
                if on_attempt is not None:
                    on_attempt(exc.error)
                if self._connection == "error":
                    return Connected(exc.error)
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def ensure_model(self) -> str:
        """The model the next turn uses, asking the server for its list only when neither the
        conversation nor the settings name one (raises `ChatErrorException` if it can't)."""
        if not self.conversation.model:
            await self.connect()
        return self.conversation.model

    # -- saving -------------------------------------------------------------------------

    def _changed(self) -> None:
        """Record a change made outside a turn (model, title, settings): saved at once."""
        self.conversation.touch()
        if self._recorder is not None:
            self._recorder.mark_changed()
            self._recorder.save_now()
        self._status_changed()

    def _save_state_changed(self, error: StoreError | None) -> None:
        self._save_problem = "" if error is None else str(error)
        self._status_changed()

    @property
    def save_problem(self) -> str:
        """Why the conversation can't be saved right now ('' when saving works)."""
        return self._save_problem

    def _flush(self) -> bool:
        """Write unsaved changes now; False if they could not be written."""
        if self._recorder is None or not self._recorder.dirty:
            return True
        return self._recorder.save_now()

    def rescue(self) -> Path | None:
        """When saving keeps failing, write the conversation to a private file in the
        temporary folder instead, and return where (None if saving works or that fails too)."""
        if not self._save_problem or self._recorder is None:
            return None
        from vllm_chat.core.rescue import rescue_copy

        return rescue_copy(self.conversation)

    async def aclose(self) -> None:
        """Stop any turn, save, and close the connection. A reply under way is saved as
        stopped, with all its text (not as an interrupted one missing its last words)."""
        if await self._engine.stop_and_wait() and self._recorder is not None:
            self._recorder.mark_changed()  # the engine marked the reply stopped
        if self._recorder is not None:
            await self._recorder.settled()  # a save being written in a thread, not made twice
        self._flush()
        await self._client.aclose()

    def _mark_activity(self, activity: Activity | None) -> None:
        self._activity = activity
        self._status_changed()

    @staticmethod
    def _now() -> float:
        return time.monotonic()
