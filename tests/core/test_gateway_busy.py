"""A busy router: 429 and 503 with `Retry-After` are waited for, with a countdown in the
status, and the request goes again; within `max_busy_wait` for the whole turn, past which
the turn fails at once saying why; Esc during the wait stops the turn; and a reply whose
stream had started is never sent again (the server may have generated it already).

The gateway answers the busy statuses; the simulated vLLM answers the rest."""

from __future__ import annotations

import json

from aiohttp import web

from tests.support.gateway import Gateway
from vllm_chat.core.config import load_settings
from vllm_chat.core.events import ServerBusy, TurnFailed, TurnFinished, TurnStopped
from vllm_chat.core.session import ChatSession
from vllm_chat.simserver import SimConfig, SimServer


def session_for(base_url: str, **settings: object) -> ChatSession:
    return ChatSession(load_settings({"base_url": base_url, "model": "sim-chat", **settings}))


def chat_statuses(gw: Gateway) -> list[int]:
    return [s.status for s in gw.seen if s.path.endswith("/chat/completions")]


async def test_a_busy_router_is_waited_for_and_the_turn_goes_through() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url) as gw:
        gw.busy = [(429, 1), (503, 1)]
        session = session_for(gw.base_url)
        phases: list[tuple[str, float | None]] = []

        def heard() -> None:
            activity = session.status().activity
            if activity is not None and activity.phase == "busy":
                phases.append((activity.phase, activity.retry_at))

        session.subscribe(heard)
        try:
            session.add_user_message("echo at last")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    busy = [e for e in events if isinstance(e, ServerBusy)]
    assert [(e.error.status, e.wait) for e in busy] == [(429, 1.0), (503, 1.0)]
    assert "rate-limits this client (429)" in busy[0].error.message
    assert isinstance(events[-1], TurnFinished) and events[-1].message.content == "at last"
    assert len(phases) == 2 and all(retry_at is not None for _, retry_at in phases)
    assert chat_statuses(gw) == [429, 503, 200]


async def test_the_simulated_routers_429_is_honoured_too() -> None:
    async with SimServer(SimConfig(router_retry_after=1)) as sim:
        session = session_for(sim.base_url)
        try:
            session.add_user_message("echo patience sim:429=2")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    assert [e.wait for e in events if isinstance(e, ServerBusy)] == [1.0, 1.0]
    assert isinstance(events[-1], TurnFinished)


async def test_a_wait_past_max_busy_wait_fails_the_turn_at_once_and_says_why() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url) as gw:
        gw.busy = [(503, 1), (429, 30)]
        session = session_for(gw.base_url, max_busy_wait=5)
        try:
            session.add_user_message("echo never")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    assert [e.wait for e in events if isinstance(e, ServerBusy)] == [1.0]
    failed = events[-1]
    assert isinstance(failed, TurnFailed) and failed.error.kind == "busy" and failed.error.status == 429
    assert "still busy after waiting 1 s and it asks for 30 s more" in failed.error.message
    assert "max_busy_wait" in failed.error.hint
    assert chat_statuses(gw) == [503, 429], "nothing is sent after giving up"


async def test_stopping_during_the_wait_ends_the_turn_and_sends_nothing_more() -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url) as gw:
        gw.busy = [(503, 30)]
        session = session_for(gw.base_url)
        try:
            session.add_user_message("echo too late")
            events = []
            async for event in session.run():
                events.append(event)
                if isinstance(event, ServerBusy):
                    assert session.stop()
        finally:
            await session.aclose()
    assert isinstance(events[-1], TurnStopped)
    assert chat_statuses(gw) == [503]


async def test_a_busy_answer_without_retry_after_fails_as_it_did() -> None:
    async with SimServer(SimConfig()) as sim:
        session = session_for(sim.base_url)
        try:
            session.add_user_message("sim:busy hi")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    assert not any(isinstance(e, ServerBusy) for e in events)
    assert isinstance(events[-1], TurnFailed) and events[-1].error.kind == "busy"


async def test_a_reply_whose_stream_had_started_is_never_sent_again() -> None:
    sent = []

    async def chat(request: web.Request) -> web.StreamResponse:
        sent.append(await request.read())
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "retry-after": "1"})
        await response.prepare(request)
        for word in ("half ", "a "):
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "sim-chat",
                     "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        error = {"error": {"message": "overloaded", "type": "ServiceUnavailableError", "code": 503}}
        await response.write(b"data: " + json.dumps(error).encode() + b"\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    session = session_for(f"http://127.0.0.1:{port}/v1")
    try:
        session.add_user_message("hi")
        events = [event async for event in session.run()]
    finally:
        await session.aclose()
        await runner.cleanup()
    assert isinstance(events[-1], TurnFailed) and events[-1].partial is not None
    assert events[-1].partial.content == "half a "
    assert not any(isinstance(e, ServerBusy) for e in events) and len(sent) == 1


async def test_retry_after_as_an_http_date_is_understood() -> None:
    import datetime
    from email.utils import format_datetime

    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url) as gw:
        gw.busy = [(503, format_datetime(when, usegmt=True))]  # a date, as servers may send
        session = session_for(gw.base_url)
        try:
            session.add_user_message("echo by the clock")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    waits = [e.wait for e in events if isinstance(e, ServerBusy)]
    assert len(waits) == 1 and 0 <= waits[0] <= 3
    assert isinstance(events[-1], TurnFinished)


async def test_candidates_and_comparisons_wait_for_a_busy_router_too() -> None:
    from vllm_chat.core.events import CandidateEvent, CandidatesDone

    async with SimServer(SimConfig(models=("sim-chat", "sim-vision"))) as sim, Gateway(sim.base_url) as gw:
        session = session_for(gw.base_url)
        try:
            gw.busy = [(429, 1)]
            session.add_user_message("echo two of them")
            candidates = [event async for event in session.run_candidates(session.plan_candidates(2))]
            gw.busy = [(503, 1)]
            session.close_candidates()
            session.add_user_message("echo compared")
            compared = [event async for event in session.run_candidates(session.plan_comparison(["sim-chat",
                                                                                                  "sim-vision"]))]
        finally:
            await session.aclose()
    for events in (candidates, compared):
        busy = [e for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, ServerBusy)]
        assert len(busy) == 1 and busy[0].event.wait == 1.0
        done = events[-1]
        assert isinstance(done, CandidatesDone) and all(m.status == "complete" for m in done.messages)
