"""One-shot mode: `vllm-chat -p "question"` prints the streamed reply and exits.

A front end like the TUI: it drives a `ChatSession` and only prints its
events. The reply goes to stdout as it streams; reasoning only with
`--show-reasoning`, to stderr; with `--logprobs N` the reply's mean logprob and
perplexity follow on stderr. Errors go to stderr with the same message and
hint as the TUI shows (the steps a hint names are spelled as command-line
flags here, never as TUI keys), and the exit status is 1. With a constraint
(`--json-schema`, `--regex`, ...) stdout is exactly the reply (no newline is
added when it goes to a pipe); a reply that does not match, or was cut before
it was complete, exits 3 with the first error on stderr. `--json` prints one
JSON object at the end instead (text, reasoning, usage, finish_reason, the client's
and vLLM's timings, and with `--logprobs N` every token with its probability and
alternatives).
`-n N` and `--compare` print several replies (see `oneshot_candidates`).
Tools that need approval are denied unless `--yes` is given. `--count`
prints the prompt's exact size instead of sending it, a request that would
not fit the context window is not sent (see `oneshot_context`). A session that
was asked for (`--save`, `-c`, `--resume`) but could not be written is said on
stderr and ends with status 1, after a copy was put where it could be written.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from vllm_chat.core.config import Settings
from vllm_chat.core.conversation import Attachment, Conversation, Message, ToolCall
from vllm_chat.core.errors import ChatError, ChatErrorException, render_hint
from vllm_chat.core.events import (
    ContentDelta,
    Event,
    ReasoningDelta,
    ServerBusy,
    ToolApprovalNeeded,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStopped,
)
from vllm_chat.core.prompting.mentions import MentionError
from vllm_chat.core.prompting.templates import TemplateError
from vllm_chat.core.session import ChatSession, SecretsMentioned
from vllm_chat.core.text import inert, json_text, message_text
from vllm_chat.core.tools.approval import Decision

STEPS = {
    "pick-model": "-m NAME",
    "new-conversation": "a new session (leave out -c/--resume)",
    "open-settings": "the sampling flags (--temperature, --max-tokens, ...)",
    "toggle-tools": "--no-tools",
    "retry": "the same command again",
    "continue-reply": "the TUI (vllm-chat --resume ID, then continue)",
    "completion-mode": "--completion",
    "compact": "--compact",
}
"""How one-shot mode names the steps a hint offers (the TUI names keys instead)."""

EXIT_DOES_NOT_MATCH = 3
"""The exit status when the reply does not match the constraint, or was cut before it was complete."""


@dataclass
class OneShotRequest:
    """What the command line asked for."""

    prompt: str
    """The user's message (after the saved prompt's text, when there is one)."""
    template: str | None = None
    """A saved prompt to fill in (`--prompt`); its settings apply to the conversation."""
    variables: dict[str, str] = field(default_factory=dict)
    """Values for the saved prompt's variables (`--var`)."""
    attachments: list[Attachment] = field(default_factory=list)
    """Media sent with the prompt."""
    show_reasoning: bool = False
    """Print reasoning to stderr as it streams."""
    as_json: bool = False
    """Print one JSON object at the end instead of streaming text."""
    yes: bool = False
    """Run tools that need approval without asking."""
    conversation: Conversation | None = None
    """A saved conversation to continue (it is saved after the turn)."""
    save: bool = False
    """Save the exchange as a session even if it is new."""
    candidates: int = 0
    """Ask for this many candidates of the reply (`-n`; 0: one reply)."""
    beam: bool = False
    """Find the candidates by beam search (`--beam-search`)."""
    compare: list[str] = field(default_factory=list)
    """Send the prompt to each of these models and print every reply (`--compare`)."""
    count: bool = False
    """Print the prompt's exact token count (and max_model_len) instead of sending it."""
    compact: bool = False
    """Compact the continued conversation before sending."""

    @property
    def saving(self) -> bool:
        """Whether the exchange is to be saved."""
        return self.save or self.conversation is not None


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
    """The one-shot form of an error: message, then the hint (steps as flags)."""
    stream.write(f"vllm-chat: {message_text(error.message)}\n")
    if error.hint:
        stream.write(f"hint: {message_text(render_hint(error.hint, STEPS))}\n")
    stream.flush()


async def _allow(call: ToolCall) -> Decision:
    return Decision.ALLOW_ONCE


async def _deny(call: ToolCall) -> Decision:
    return Decision.DENY


async def run_oneshot(settings: Settings, request: OneShotRequest) -> int:
    """Send one prompt, print the reply; returns the exit status."""
    from vllm_chat.core.store import SessionStore

    store = SessionStore() if request.saving else None
    session = ChatSession(settings, conversation=request.conversation, store=store,
                          approver=_allow if request.yes else _deny)
    try:
        return await _run(session, request)
    finally:
        await session.aclose()


async def _run(session: ChatSession, request: OneShotRequest) -> int:
    for problem in session.problems:
        sys.stderr.write(f"vllm-chat: {message_text(problem)}\n")
    try:
        await session.ensure_model()
    except ChatErrorException as exc:
        return _fail(exc.error, request)
    await _tool_servers(session)
    try:
        text = _text(session, request)
        draft = session.prepare(text, request.attachments, allow_secrets=request.yes)
    except SecretsMentioned as exc:
        return _refuse(f"{exc} Run with --yes to send them anyway.", request)
    except (MentionError, TemplateError) as exc:
        return _refuse(str(exc), request)
    if request.count:
        from vllm_chat.oneshot_context import print_count

        return await print_count(session, text, request.attachments, as_json=request.as_json)
    problem = await _make_room(session, request, text)
    if problem is not None:
        return _fail(problem, request)
    try:
        session.send(draft)
    except ValueError as exc:  # attachments or files in completion mode
        return _refuse(str(exc), request)
    if request.candidates or request.compare:
        from vllm_chat.oneshot_candidates import run_candidates

        return await run_candidates(session, request)

    out, err = _Printer(sys.stdout, skip_leading_newlines=True), _Printer(sys.stderr)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, session.stop)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
        pass
    final: TurnFinished | TurnStopped | TurnFailed | None = None
    try:
        async for event in session.run():
            final = _show(event, session, request, out, err) or final
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    if session.constraint is None or out.tty:
        out.finish_line()  # a constrained reply goes to a pipe exactly as it came
    err.finish_line()
    return _report(final, session, request)


async def _make_room(session: ChatSession, request: OneShotRequest, text: str) -> ChatError | None:
    """Compact first when asked (or when `context.auto_compact_at` says so); the reason not
    to send when the request would still not fit the context window."""
    from vllm_chat.oneshot_context import compact_first, refusal

    compacted = False
    if request.compact:
        problem = await compact_first(session, sys.stderr)
        if problem is not None:
            return problem
        compacted = True
    check = await session.check_send(text, request.attachments, patient=True)
    if check.auto_compact and not compacted:
        problem = await compact_first(session, sys.stderr)
        if problem is not None:
            return problem
        check = await session.check_send(text, request.attachments, patient=True)
    if check.fits:
        return None
    if not check.exact:
        # Only an estimate says it won't fit: the server decides (its own error is clear).
        sys.stderr.write(f"vllm-chat: {message_text(check.explanation())} (an estimate: sending anyway)\n")
        return None
    return refusal(check, STEPS, continuing=request.conversation is not None)


async def _tool_servers(session: ChatSession) -> None:
    """Connect the MCP servers and wait for them (each within its connect_timeout), so their
    tools are offered; a server that fails is reported on stderr and the run goes on."""
    if not session.tools_on:
        return
    await session.wait_for_tool_servers()
    for status in session.tool_servers():
        if status.state == "failed":
            last = f" (its stderr ends: {message_text(status.stderr[-1])})" if status.stderr else ""
            sys.stderr.write(f"vllm-chat: MCP server {message_text(status.name)} {message_text(status.detail)}{last}\n")
def _text(session: ChatSession, request: OneShotRequest) -> str:
    """The prompt: the saved prompt filled in (its settings applied), then the -p text."""
    if request.template is None:
        return request.prompt
    text = session.use_template(request.template, request.variables)
    return "\n\n".join(part for part in (text, request.prompt) if part)


def _refuse(problem: str, request: OneShotRequest) -> int:
    """Nothing was sent: the prompt can't be built as given (exit status 2)."""
    if request.as_json:
        sys.stdout.write(json_text({"error": {"kind": "input", "message": problem, "hint": ""}}) + "\n")
    else:
        sys.stderr.write(f"vllm-chat: {message_text(problem)}\n")
    return 2


def _show(event: Event, session: ChatSession, request: OneShotRequest, out: _Printer, err: _Printer) -> Any:
    """Print one event as it comes; returns the event when it ends the turn."""
    quiet = request.as_json
    match event:
        case ContentDelta(text=text) if not quiet:
            if request.show_reasoning:
                err.finish_line()  # the answer starts on a line of its own, not after the reasoning
            out.write(text)
        case ReasoningDelta(text=text) if request.show_reasoning and not quiet:
            err.write(text)
        case ServerBusy(error=error, wait=wait):
            err.finish_line()
            err.write(f"[server busy ({error.status}): trying again in {wait:.0f} s]\n")
        case ToolApprovalNeeded(call=call) if not request.yes:
            err.finish_line()
            why = session.tool_info(call).preview  # e.g. the secret-looking file it would read
            err.write(f"[tool {message_text(call.name)} needs approval: denied; run with --yes to allow]"
                      + (f" ({message_text(why)})" if why else "") + "\n")
        case ToolRunning(call=call) if not quiet:
            err.finish_line()
            err.write(f"[running tool {message_text(call.name)}]\n")
        case ToolResult(call=call, message=message) if not quiet:
            err.write(f"[tool {message_text(call.name)}: {message.tool_status}]\n")
        case TurnFinished() | TurnStopped() | TurnFailed():
            return event
    return None


def _report(final: TurnFinished | TurnStopped | TurnFailed | None, session: ChatSession,
            request: OneShotRequest) -> int:
    match final:
        case TurnFailed(partial=message):
            pass
        case TurnFinished(message=message) | TurnStopped(message=message):
            pass
        case _:
            message = None
    conv = session.conversation
    unsaved = request.saving and bool(session.save_problem)
    rescued = session.rescue() if unsaved else None
    if request.as_json:
        doc: dict[str, Any] = {
            "text": message.content.lstrip("\n") if message else "",
            "reasoning": message.reasoning if message else None,
            "finish_reason": message.finish_reason if message else None,
            "model": conv.model,
            "usage": message.usage.model_dump() if message and message.usage else None,
            "prompt_tokens": message.usage.prompt_tokens if message and message.usage else None,
            "max_model_len": session.context_window,
            "status": message.status if message else None,
            "session_id": conv.id if request.saving and not unsaved else None,
        }
        doc.update(_measures_doc(message))
        if isinstance(final, TurnFailed):
            doc["error"] = _error_doc(final.error)
        elif message is not None and message.error:
            doc["warning"] = message.error
        if message is not None and message.check is not None:
            doc["check"] = message.check.model_dump()
        if unsaved:
            doc["save_error"] = session.save_problem
            doc["rescued_to"] = str(rescued) if rescued else None
        sys.stdout.write(json_text(doc) + "\n")
        sys.stdout.flush()
    if unsaved:
        _say_unsaved(session.save_problem, rescued)
    if isinstance(final, TurnFailed):
        if not request.as_json:
            print_error(final.error)
        return 1
    if isinstance(final, TurnStopped):
        sys.stderr.write("vllm-chat: stopped.\n")
        return 130
    if message is not None and message.check is not None and message.check.outcome in ("invalid", "cut"):
        if not request.as_json:
            _say_check(message)
        return EXIT_DOES_NOT_MATCH
    if message is not None and not request.as_json:
        for note in _notes(message, request):
            sys.stderr.write(f"vllm-chat: {message_text(note)}\n")
    return 1 if unsaved else 0


def _say_check(message: Message) -> None:
    """Why the reply can't be relied on: the first error (and that the server ignored the
    constraint), or that it was cut before it was complete."""
    check = message.check
    assert check is not None
    if check.outcome == "cut":
        hint = " (raise --max-tokens)" if message.finish_reason == "length" else ""
        sys.stderr.write(f"vllm-chat: the reply was {message_text(check.detail)}{hint}; it was not checked "
                         f"against the constraint ({message_text(check.constraint)}).\n")
        return
    sys.stderr.write(f"vllm-chat: the reply does not match {message_text(check.constraint)}: "
                     f"{message_text(check.detail)}\n")
    sys.stderr.write(f"vllm-chat: {message_text(check.server_ignored or '')}\n")


def _measures_doc(message: Message | None) -> dict[str, Any]:
    """`--json`'s timings (the client's and, when the server measures them, vLLM's own) and,
    when they were asked for, every token with its probability and alternatives."""
    from vllm_chat.core.logprobs import token_docs

    timings = message.timings if message is not None else None
    doc: dict[str, Any] = {
        "client_timings": {"ttft_seconds": timings.ttft, "duration_seconds": timings.duration} if timings else None,
        "server_metrics": (message.server_metrics.model_dump(exclude_none=True)
                           if message is not None and message.server_metrics is not None else None),
    }
    packed = message.logprobs if message is not None else None
    if packed is not None:
        doc["logprobs"] = {"top_n": packed.top_n, "mean_logprob": packed.mean_logprob,
                           "perplexity": packed.perplexity if packed.perplexity != float("inf") else None,
                           "tokens": token_docs(packed)}
    return doc


def _say_unsaved(problem: str, rescued: object) -> None:
    where = (f" A copy is in {rescued}; move it into the sessions folder once it can be written."
             if rescued else " No copy could be written anywhere: the exchange above is all there is.")
    sys.stderr.write(f"vllm-chat: the session was not saved: {message_text(problem)}.{where}\n")
    sys.stderr.flush()


def _error_doc(error: ChatError) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": error.kind, "message": error.message, "hint": render_hint(error.hint, STEPS)}
    if error.kind == "context_length" and "prompt_tokens" in error.details:
        doc.update(prompt_tokens=error.details["prompt_tokens"], max_model_len=error.details.get("max_model_len"))
    return doc


def _notes(message: Message, request: OneShotRequest) -> list[str]:
    """What stdout alone would not tell: an empty answer, a cut, a call that never ran."""
    notes = []
    if message.error:
        notes.append(message.error)
    if not message.content.strip() and message.reasoning and not request.show_reasoning:
        notes.append("the reply has no answer text, only reasoning (--show-reasoning prints it to stderr).")
    if message.finish_reason == "length" and message.reply_limit is not None:
        notes.append(f"the reply was cut off: the context window left room for only {message.reply_limit} tokens.")
    elif message.finish_reason == "length":
        notes.append("the reply was cut off at max_tokens (raise --max-tokens for a longer one).")
    elif message.reply_limit is not None:
        notes.append(f"the reply could only get {message.reply_limit} tokens: the context window was nearly full.")
    if message.logprobs is not None:
        from vllm_chat.core.logprobs import summary

        notes.append(f"{summary(message.logprobs)} ({message.logprobs.count} tokens; --json lists each one).")
    return notes


def _fail(error: ChatError, request: OneShotRequest) -> int:
    if request.as_json:
        sys.stdout.write(json_text({"error": _error_doc(error)}) + "\n")
    else:
        print_error(error)
    return 1
