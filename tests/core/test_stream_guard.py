"""The stream guard reads a server's events as the SDK would, but a malformed chunk is
left out and described (what arrived, what was expected, whose fault it is) instead of
ending the reply; what can be kept is kept."""

from __future__ import annotations

import json

import pytest

from vllm_chat.core.stream_guard import (
    CheckedSSEDecoder,
    FaultLog,
    chunk_problem,
    describe_faults,
)


def chunk(content: str) -> bytes:
    doc = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def decode(*pieces: bytes) -> tuple[list[object], FaultLog]:
    log = FaultLog()
    events = list(CheckedSSEDecoder(log).iter_bytes(iter(pieces)))
    return [e.json() for e in events if not e.data.startswith("[DONE]")], log


def texts(values: list[object]) -> str:
    return "".join(v["choices"][0]["delta"]["content"] for v in values)  # type: ignore[index]


def test_a_chunk_that_is_not_json_is_skipped_and_the_rest_is_kept() -> None:
    values, log = decode(chunk("before "), b"data: {garbage\n\n", chunk("after"), b"data: [DONE]\n\n")
    assert texts(values) == "before after"
    assert log.count == 1 and log.faults[0].excerpt == "{garbage"
    message = describe_faults(log)
    assert "not JSON" in message and "{garbage" in message
    assert "expected chat.completion.chunk JSON" in message and "not of vllm-chat" in message


def test_bytes_that_are_not_utf8_are_replaced_and_the_chunk_kept() -> None:
    bad = chunk("mid").replace(b"mid", b"mid\xff\xfe")
    values, log = decode(chunk("a "), bad, chunk(" z"))
    assert texts(values) == "a mid\ufffd\ufffd z"
    assert log.faults[0].kept and "not UTF-8" in describe_faults(log)
    assert "\ufffd" in log.faults[0].excerpt, "the excerpt shows where the bad bytes were"


@pytest.mark.parametrize(("payload", "problem"), [
    (b'{"choices": "nope"}', "'choices' is a string, not a list"),
    (b'{"choices": [{"index": 0, "delta": ["x"]}]}', "'delta' is a list, not an object"),
    (b'{"choices": [{"index": 0, "delta": {"content": 5}}]}', "'delta.content' is a number, not a string"),
    (b"[1, 2]", "the chunk is a list, not an object"),
    (b'{"choices": [{"index": 0, "delta": {"tool_calls": "call"}}]}', "'delta.tool_calls' is a string"),
    (b'{"choices": [{"delta": {"tool_calls": [{"function": {"arguments": {"a": 1}}}]}}]}',
     "'function.arguments' is an object, not a string"),
    (b'{"choices": [], "usage": {"prompt_tokens": "many"}}', "'usage.prompt_tokens' is a string"),
    (b'{"choices": [{"index": "0"}]}', "'index' is a string, not a number"),
])
def test_a_chunk_of_the_wrong_shape_is_skipped_with_what_was_wrong(payload: bytes, problem: str) -> None:
    values, log = decode(chunk("x"), b"data: " + payload + b"\n\n", chunk("y"))
    assert texts(values) == "xy"
    assert problem in log.faults[0].problem


@pytest.mark.parametrize("payload", [
    b"{}", b'{"choices": [{}]}', b'{"choices": [{"index": 0, "delta": null}]}',
    b'{"choices": [], "usage": null}', b'{"error": {"message": "boom"}}',
    b'{"choices": [{"index": 0, "delta": {"reasoning": "r", "tool_calls": null}}], "extra": [1]}',
])
def test_fields_left_out_or_null_and_unknown_fields_are_fine(payload: bytes) -> None:
    assert chunk_problem(json.loads(payload)) is None


def test_line_ends_may_be_crlf_or_cr_and_split_anywhere() -> None:
    stream = chunk("one").replace(b"\n", b"\r\n") + chunk("two").replace(b"\n", b"\r")
    pieces = [stream[i:i + 3] for i in range(0, len(stream), 3)]
    values, log = decode(*pieces)
    assert texts(values) == "onetwo" and not log


def test_a_stream_of_nothing_but_garbage_keeps_only_a_bounded_report() -> None:
    values, log = decode(*[b"data: {nope\n\n"] * 500)
    assert values == [] and log.count == 500 and len(log.faults) <= 20
    assert "500 malformed stream chunks" in describe_faults(log)


def test_comments_event_names_and_a_cut_last_event_are_read_like_the_sdk() -> None:
    values, log = decode(b": keep-alive\n\nevent: message\n", chunk("a")[:-2])
    assert texts(values) == "a" and not log


async def test_events_that_arrive_in_one_read_leave_the_event_loop_a_turn_while_they_are_handled() -> None:
    # 200 events in one read from the socket, each taking its consumer >= 1 ms (as drawing
    # them does): other tasks (the keys a user types) get a turn every YIELD_EVERY (4 ms)
    # rather than after all 200 ms.
    import asyncio
    import time

    async def one_read():
        yield b"".join(chunk(f"{i} ") for i in range(200))

    turns = 0
    done = False

    async def other_task() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    received = []
    async for event in CheckedSSEDecoder(FaultLog()).aiter_bytes(one_read()):
        received.append(event.json()["choices"][0]["delta"]["content"])
        time.sleep(0.001)
    done = True
    await other
    assert "".join(received) == "".join(f"{i} " for i in range(200)), "every event, in order"
    assert turns >= 40, f"other tasks ran {turns} times while 200 ms of events were handled"
