"""The floor of the terminal benchmarks: the least an `AsyncOpenAI` streaming client does.

    python bench/_bare_client.py BASE_URL

Run in a tmux pane like the app, it asks the server for its models, prints the
first one with its context window (`sim-chat  ctx ?/32768`: what the app's
header shows once connected), then reads prompts from the terminal one line at
a time (the Enter key ends one, as in the app) and streams each reply with the
SDK, printing every piece as it comes (`print(..., end="", flush=True)`, as the
SDK's own streaming example does) and a blank line at the end. Nothing is
rendered, saved or counted: this is what any SDK-based client has to spend.
"""

from __future__ import annotations

import asyncio
import sys


async def main(base_url: str) -> int:
    """Models once, then one streamed reply per line typed, until end of input."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    page = await client.models.list()
    card = page.data[0]
    print(f"{card.id}  ctx ?/{getattr(card, 'max_model_len', '')}", flush=True)
    while True:
        line = sys.stdin.readline()  # blocking is fine: nothing else runs between turns
        if not line:
            break
        stream = await client.chat.completions.create(
            model=card.id, messages=[{"role": "user", "content": line.strip()}], stream=True)
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    print(choice.delta.content, end="", flush=True)
        print("\n", flush=True)
    await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
