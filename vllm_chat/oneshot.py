"""One-shot mode: `vllm-chat -p "question"` prints the streamed reply and exits.

The reply goes to stdout as it streams; reasoning only with
`--show-reasoning`, to stderr. Errors go to stderr with the same message and
hint as the TUI shows, and the exit status is 1. `--json` prints one JSON
object at the end instead (text, reasoning, usage, finish_reason, ...).
Tools that need approval are denied unless `--yes` is given.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Attachment, Conversation, Message, ToolCall
from vllm_chat.core.engine import Engine, TurnOptions
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.events import (
    ContentDelta,
    ReasoningDelta,
    ToolApprovalNeeded,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStopped,
)
from vllm_chat.core.text import inert, json_text, message_text


@dataclass
class OneShotRequest:
    """What the command line asked for."""

    prompt: str
    """The user's message."""
    attachments: list[Attachment] = field(default_factory=list)
    """Media sent with the prompt."""
    show_reasoning: bool = False
    """Print reasoning to stderr as it streams."""
    as_json: bool = False
    """Print one JSON object at the end instead of streaming text."""
    yes: bool = False
    """Run tools that need approval without asking."""
    tools: bool = True
    """Offer tools at all."""
    session: Conversation | None = None
    """An existing session to continue (it is saved after the turn)."""
    save: bool = False
    """Save the exchange as a session even if it is new."""


class _Printer:
    """Writes deltas to a stream, made inert when the stream is a terminal."""

    def __init__(self, stream: TextIO, *, skip_leading_newlines: bool = False) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.wrote = False
        self.ends_with_newline = True
        self._skip = skip_leading_newlines

    def write(self, text: str) -> None:
        if self._skip:
            # Reasoning parsers leave the "\n\n" that followed </think> at the start of
            # the answer; it is noise in a terminal or a pipe.
            text = text.lstrip("\n")
            self._skip = not text
        if not text:
            return
        self.stream.write(inert(text) if self.tty else text)
        self.stream.flush()
        self.wrote = True
        self.ends_with_newline = text.endswith("\n")

    def finish_line(self) -> None:
        if self.wrote and not self.ends_with_newline:
            self.stream.write("\n")
            self.stream.flush()
            self.ends_with_newline = True


def print_error(error: ChatError, stream: TextIO = sys.stderr) -> None:
    """The one-shot form of an error: message, then the hint."""
    stream.write(f"vllm-chat: {message_text(error.message)}\n")
    if error.hint:
        stream.write(f"hint: {message_text(error.hint)}\n")
    stream.flush()


def _note(text: str) -> None:
    """A line on stderr for the user (tool names, warnings: text a model or server wrote)."""
    sys.stderr.write(f"vllm-chat: {message_text(text)}\n")


async def run_oneshot(settings: Settings, request: OneShotRequest) -> int:
    """Send one prompt, print the reply; returns the exit status."""
    client = ChatClient(
        settings.base_url,
        settings.api_key.get_secret_value(),
        timeout=settings.request_timeout,
        connect_timeout=settings.connect_timeout,
    )
    try:
        return await _run(settings, client, request)
    finally:
        await client.aclose()


async def _run(settings: Settings, client: ChatClient, request: OneShotRequest) -> int:
    conv = request.session or Conversation(
        base_url=settings.base_url,
        system_prompt=settings.system_prompt,
        params=settings.sampling,
    )
    conv.base_url = settings.base_url
    model = settings.model or conv.model
    if not model:
        try:
            from vllm_chat.core.models import resolve_model

            model, _ = await resolve_model(client, None)
        except ChatErrorException as exc:
            return _fail(exc.error, request)
    conv.model = model
    conv.add(Message(role="user", content=request.prompt, attachments=list(request.attachments)))
    if not conv.title:
        from vllm_chat.core.store import title_from_prompt

        conv.title = title_from_prompt(request.prompt)

    engine = _engine(settings, client, request)
    out, err = _Printer(sys.stdout, skip_leading_newlines=True), _Printer(sys.stderr)
    recorder = _recorder(conv, request)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, engine.stop)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
        pass
    final: Any = None
    async for event in engine.run(conv, TurnOptions(tools_enabled=request.tools and settings.tools.enabled,
                                                    tool_choice=settings.tools.choice)):
        if recorder is not None:
            recorder.observe(event)
        if isinstance(event, ContentDelta) and not request.as_json:
            if request.show_reasoning:
                err.finish_line()  # the answer starts on a line of its own, not after the reasoning
            out.write(event.text)
        elif isinstance(event, ReasoningDelta) and request.show_reasoning and not request.as_json:
            err.write(event.text)
        elif isinstance(event, ToolApprovalNeeded) and not request.yes:
            err.finish_line()
            why = engine.tools.preview(event.call) if engine.tools is not None else None
            err.write(f"[tool {message_text(event.call.name)} needs approval: denied; run with --yes to allow]"
                      + (f" ({message_text(why)})" if why else "") + "\n")
        elif isinstance(event, ToolRunning) and not request.as_json:
            err.finish_line()
            err.write(f"[running tool {message_text(event.call.name)}]\n")
        elif isinstance(event, ToolResult) and not request.as_json:
            err.write(f"[tool {message_text(event.call.name)}: {event.message.tool_status}]\n")
        elif isinstance(event, (TurnFinished, TurnStopped, TurnFailed)):
            final = event
    try:
        loop.remove_signal_handler(signal.SIGINT)
    except (NotImplementedError, RuntimeError):  # pragma: no cover
        pass
    if recorder is not None:
        recorder.save_now()
    out.finish_line()
    err.finish_line()
    return _report(final, conv, request)


def _engine(settings: Settings, client: ChatClient, request: OneShotRequest) -> Engine:
    tools = approval = None
    if request.tools and settings.tools.enabled:
        import os
        from pathlib import Path

        from vllm_chat.core.tools.approval import ApprovalPolicy
        from vllm_chat.core.tools.registry import ToolRegistry

        tools, problems = ToolRegistry.from_settings(settings.tools, root=Path(os.getcwd()))
        for problem in problems:
            _note(problem)
        approval = ApprovalPolicy(tools, auto_approve=request.yes)

    async def deny(call: ToolCall) -> Any:
        from vllm_chat.core.tools.approval import Decision

        return Decision.DENY

    return Engine(client, tools=tools, approval=approval, approver=deny,
                  max_rounds=settings.tools.max_rounds)


def _recorder(conv: Conversation, request: OneShotRequest) -> Any:
    if request.session is None and not request.save:
        return None
    from vllm_chat.core.recorder import SessionRecorder
    from vllm_chat.core.store import SessionStore

    return SessionRecorder(SessionStore(), conv)


def _report(final: Any, conv: Conversation, request: OneShotRequest) -> int:
    message = getattr(final, "message", None) or getattr(final, "partial", None)
    if request.as_json:
        doc: dict[str, Any] = {
            "text": message.content.lstrip("\n") if message else "",
            "reasoning": message.reasoning if message else None,
            "finish_reason": message.finish_reason if message else None,
            "model": conv.model,
            "usage": message.usage.model_dump() if message and message.usage else None,
            "status": message.status if message else None,
            "session_id": conv.id if request.session is not None or request.save else None,
        }
        if isinstance(final, TurnFailed):
            doc["error"] = {"kind": final.error.kind, "message": final.error.message, "hint": final.error.hint}
        elif message is not None and message.error:
            doc["warning"] = message.error
        sys.stdout.write(json_text(doc) + "\n")
        sys.stdout.flush()
    if isinstance(final, TurnFailed):
        if not request.as_json:
            print_error(final.error)
        return 1
    if isinstance(final, TurnStopped):
        sys.stderr.write("vllm-chat: stopped.\n")
        return 130
    if message is not None and not request.as_json:
        for note in _notes(message, request):
            _note(note)
    return 0


def _notes(message: Any, request: OneShotRequest) -> list[str]:
    """What stdout alone would not tell: an empty answer, a cut, a call that never ran."""
    notes = []
    if message.error:
        notes.append(message.error)
    if not message.content.strip() and message.reasoning and not request.show_reasoning:
        notes.append("the reply has no answer text, only reasoning (--show-reasoning prints it to stderr).")
    if message.finish_reason == "length":
        notes.append("the reply was cut off at max_tokens (raise --max-tokens for a longer one).")
    return notes


def _fail(error: ChatError, request: OneShotRequest) -> int:
    if request.as_json:
        sys.stdout.write(json_text({"error": {"kind": error.kind, "message": error.message,
                                              "hint": error.hint}}) + "\n")
    else:
        print_error(error)
    return 1
