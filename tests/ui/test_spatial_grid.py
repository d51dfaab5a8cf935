"""A very long reply is one widget, and Textual's spatial map enters a widget in every
square of its grid it covers, at every layout: with squares 400 lines tall instead of
20, a reply thousands of lines tall leaves a handful of lists behind per layout rather
than hundreds, for the garbage collector to walk while keys are typed."""

from __future__ import annotations

from tests.support.conversations import one_exchange
from tests.support.pilot import wait_until
from vllm_chat.core.conversation import Conversation


def tall_reply() -> Conversation:
    prose = "\n\n".join(f"Paragraph {i} of a reply that goes on and on." for i in range(3000))
    return one_exchange("many paragraphs", prose)


async def test_a_tall_reply_covers_few_squares_of_the_spatial_map(make_app, sim) -> None:
    async with make_app(base_url=sim.base_url, size=(100, 30), conversation=tall_reply()) as (app, pilot):
        messages = app.chat.messages
        await wait_until(pilot, lambda: messages.virtual_size.height > 6000, message="the reply laid out")
        arrangement = messages.arrange(messages.size)
        squares = arrangement.spatial_map._map
        assert len(squares) <= messages.virtual_size.height // 400 + 4, len(squares)
