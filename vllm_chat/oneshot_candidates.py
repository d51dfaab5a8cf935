"""One-shot mode with several replies: `-n N` (N candidates, `--beam-search` for beam
search) and `--compare MODEL,MODEL` (the prompt sent to each model).

Each reply is printed whole, in order, as soon as it and the ones before it have
ended (they stream side by side, so printing them as they stream would mix them),
under a header line naming it: `── candidate 2/3 · 26 → 20 tokens · TTFT 0.46 s ──`.
A reply that failed says so in its header, with the explanation on stderr.
`--json` prints one object at the end whose `candidates` is the list of replies.
The exit status is 0 when every reply is complete, 1 when any failed, 130 when
stopped (ctrl+c stops them all), 2 for a request that can't be made (e.g. `-n 1`).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

from vllm_chat.core import format as fmt
from vllm_chat.core.candidates import CandidatePlan, CandidateStatus
from vllm_chat.core.conversation import Message
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import CandidateEvent, CandidatesDone, TurnFailed, TurnFinished, TurnStopped
from vllm_chat.core.session import ChatSession
from vllm_chat.core.text import inert, json_text, message_text

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.oneshot import OneShotRequest


def plan_for(session: ChatSession, request: OneShotRequest) -> CandidatePlan:
    """The plan the flags ask for; raises ValueError saying what to change."""
    if request.compare:
        return session.plan_comparison(request.compare)
    return session.plan_candidates(request.candidates, beam=request.beam)


async def run_candidates(session: ChatSession, request: OneShotRequest) -> int:
    """Send the prompt (already in the conversation) for several replies and print them."""
    from vllm_chat.oneshot import EXIT_DOES_NOT_MATCH, _error_doc, _say_check, _say_unsaved, print_error

    try:
        plan = plan_for(session, request)
    except ValueError as exc:
        sys.stderr.write(f"vllm-chat: {message_text(str(exc))}\n")
        return 2
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, session.stop)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
        pass
    ended: dict[int, Message] = {}
    errors: dict[int, ChatError] = {}
    figures: tuple[CandidateStatus, ...] = ()
    printed = 0
    stopped = False
    try:
        async for event in session.run_candidates(plan):
            match event:
                case CandidateEvent(slot=slot, event=TurnFinished(message=message) | TurnStopped(message=message)):
                    if message is not None:
                        ended[slot] = message
                case CandidateEvent(slot=slot, event=TurnFailed(error=error, partial=message)):
                    errors[slot] = error
                    if message is not None:
                        ended[slot] = message
                case CandidatesDone(stopped=was_stopped):
                    stopped = was_stopped
            figures = session.status().candidates or figures
            while not request.as_json and printed in ended and printed < len(figures):
                _print_reply(printed, figures, ended[printed], errors.get(printed), print_error)
                printed += 1
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    unsaved = request.saving and bool(session.save_problem)
    rescued = session.rescue() if unsaved else None
    if request.as_json:
        doc: dict[str, Any] = {
            "candidates": [_reply_doc(figure, ended.get(k), errors.get(k), _error_doc)
                           for k, figure in enumerate(figures)],
            "model": session.conversation.model,
            "session_id": session.conversation.id if request.saving and not unsaved else None,
        }
        if unsaved:
            doc["save_error"] = session.save_problem
            doc["rescued_to"] = str(rescued) if rescued else None
        sys.stdout.write(json_text(doc) + "\n")
        sys.stdout.flush()
    if unsaved:
        _say_unsaved(session.save_problem, rescued)
    if stopped:
        sys.stderr.write("vllm-chat: stopped.\n")
        return 130
    if errors or unsaved:
        return 1
    unchecked = [(k, m) for k, m in sorted(ended.items())
                 if m.check is not None and m.check.outcome in ("invalid", "cut")]
    for k, message in unchecked if not request.as_json else []:
        sys.stderr.write(f"vllm-chat: {message_text(_title(k, figures))}:\n")
        _say_check(message)
    return EXIT_DOES_NOT_MATCH if unchecked else 0


def _title(k: int, figures: tuple[CandidateStatus, ...]) -> str:
    figure, n = figures[k], len(figures)
    if figure.label.startswith("#"):
        return f"candidate {k + 1}/{n}"
    if figure.label.startswith("beam "):
        return f"beam {k + 1}/{n}"
    return f"{figure.label} ({k + 1}/{n})"


def _print_reply(k: int, figures: tuple[CandidateStatus, ...], message: Message, error: ChatError | None,
                 print_error: Any) -> None:
    out = sys.stdout
    parts = [_title(k, figures)]
    stats = fmt.reply_stats(message)
    if stats:
        parts.append(stats)
    note = fmt.finish_note(message)
    if note:
        parts.append(note)
    if k:
        out.write("\n")
    out.write(inert(f"── {' · '.join(parts)} ──") + "\n")
    text = message.content.lstrip("\n")
    if text:
        out.write((inert(text) if out.isatty() else text) + ("" if text.endswith("\n") else "\n"))
    out.flush()
    if error is not None:
        sys.stderr.write(f"vllm-chat: {message_text(_title(k, figures))}:\n")
        print_error(error)


def _reply_doc(figure: CandidateStatus, message: Message | None, error: ChatError | None,
               error_doc: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "label": figure.label,
        "model": figure.model,
        "text": message.content.lstrip("\n") if message else "",
        "reasoning": message.reasoning if message else None,
        "finish_reason": message.finish_reason if message else None,
        "status": message.status if message else None,
        "usage": message.usage.model_dump() if message and message.usage else None,
        "ttft": message.timings.ttft if message and message.timings else None,
        "tool_calls": [c.to_openai() for c in message.tool_calls] if message else [],
    }
    if error is not None:
        doc["error"] = error_doc(error)
    if message is not None and message.check is not None:
        doc["check"] = message.check.model_dump()
    return doc
