"""`continue_final_message`: the simulated model continues a partial assistant message, as vLLM does."""

from __future__ import annotations

from typing import Any

from .helpers import chat, user


def continuing(prompt: str, partial: str) -> dict[str, Any]:
    """The body of a request that asks the model to continue `partial` (its reply to `prompt`)."""
    return {
        "messages": [*user(prompt), {"role": "assistant", "content": partial}],
        "add_generation_prompt": False,
        "continue_final_message": True,
        "stream": True,
    }


async def test_a_reply_cut_by_max_tokens_continues_where_it_stopped(sim, http):
    whole = (await chat(http, sim, {"messages": user("long 300"), "stream": True})).text()
    cut = await chat(http, sim, {"messages": user("long 300"), "stream": True, "max_tokens": 80})
    partial = cut.text()
    assert cut.finish()["finish_reason"] == "length" and partial and partial != whole

    rest = await chat(http, sim, continuing("long 300", partial))

    assert partial + rest.text() == whole
    assert rest.finish()["finish_reason"] == "stop"


async def test_continuing_again_and_again_under_max_tokens_rebuilds_the_whole_reply(sim, http):
    whole = (await chat(http, sim, {"messages": user("long 300"), "stream": True})).text()
    text = (await chat(http, sim, {"messages": user("long 300"), "stream": True, "max_tokens": 100})).text()
    for _ in range(5):
        step = await chat(http, sim, {**continuing("long 300", text), "max_tokens": 100})
        text += step.text()
        if step.finish()["finish_reason"] == "stop":
            break

    assert text == whole


async def test_a_continued_stream_is_framed_like_any_other(sim, http):
    whole = (await chat(http, sim, {"messages": user("hello"), "stream": True})).text()

    rest = await chat(http, sim, continuing("hello", whole[:40]))

    assert rest.deltas()[0] == {"role": "assistant", "content": ""}
    assert rest.events[-1] == "[DONE]"
    assert whole[:40] + rest.text() == whole


async def test_a_cut_long_reply_is_the_start_of_the_uncut_one(sim, http):
    whole = (await chat(http, sim, {"messages": user("long 300")})).json["choices"][0]["message"]["content"]
    for budget in (5, 40, 120, 299):
        cut = await chat(http, sim, {"messages": user("long 300"), "max_tokens": budget})
        assert whole.startswith(cut.json["choices"][0]["message"]["content"])


async def test_text_the_model_would_not_have_written_gets_a_short_deterministic_continuation(sim, http):
    first = await chat(http, sim, continuing("hello", "Something else entirely"))
    second = await chat(http, sim, continuing("hello", "Something else entirely"))

    assert first.text() and first.text() == second.text()
    assert len(first.text()) < 200
    assert first.finish()["finish_reason"] == "stop"


async def test_without_the_flag_a_final_assistant_message_does_not_change_the_reply(sim, http):
    fresh = (await chat(http, sim, {"messages": user("hello"), "stream": True})).text()
    body = continuing("hello", "Hel")
    body.update(continue_final_message=False, add_generation_prompt=True)

    assert (await chat(http, sim, body)).text() == fresh
