"""A deliberately misbehaving OpenAI-compatible server, for the hostile-input tests.

The last user message picks what the server does (its first word is the
fault, the rest are arguments), so one-shot runs of the real command can ask
for a fault as easily as Pilot tests:

| prompt                     | what comes back                                                     |
|----------------------------|---------------------------------------------------------------------|
| `say TEXT`                 | TEXT (with `\\e`, `\\a`, `\\n` written as escapes), then stop        |
| `escapes`                  | a reply full of OSC 52 / OSC 0 / CSI 2J / C1 sequences               |
| `bad-utf8`                 | "before ", a chunk holding invalid UTF-8 bytes, " after"             |
| `garbage`                  | "before ", `data: {garbage`, " after"                                |
| `wrong-shape`              | "before ", chunks of the wrong shape (choices a string, delta a     |
|                            | list, content a number), " after"                                   |
| `sparse`                   | "before ", chunks with fields left out or null (valid), " after"    |
| `error-page`               | 502 with a 2 MB HTML page                                           |
| `table N`                  | a Markdown table of N rows                                          |
| `reasoning N`              | one reasoning paragraph of N bytes, then "done"                     |
| `tool-args N`              | a tool call `echo_args` whose arguments are N bytes                 |
| `paragraphs N`             | N short paragraphs                                                  |
| `nested N`                 | a list nested N levels deep, then "AFTER THE LIST"                  |
| `call NAME JSON`           | a call to tool NAME with arguments JSON (after a tool result: "ok") |
| `late-call MS NAME JSON`   | the same call, MS milliseconds after the reply started              |
| `slow N TEXT`              | TEXT one word per chunk, N ms apart                                 |

Anything else is echoed back. `/v1/models` answers with `models` (ids may
hold anything) or, with `models_body`, those bytes verbatim as text/html.
Everything streams as fast as the socket takes it unless `slow` is asked.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from aiohttp import web
from typing_extensions import Self

PAGE_BYTES = 2 * 1024 * 1024
"""Size of the HTML error page."""

ESCAPES = ("plain \x1b]52;c;cHduZWQ=\x07 clip \x1b]0;PWNED-TITLE\x07 title \x1b[2J cleared "
           "\x9b31m c1 \x1b[31m red\x1b[0m end")
"""Terminal commands a hostile model might write: clipboard, window title, clear, colours."""


def html_page(size: int = PAGE_BYTES) -> bytes:
    """An HTML error page of `size` bytes, as a broken proxy sends it."""
    head = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>"
    filler = b"<p>upstream connect error or disconnect/reset before headers</p>\n"
    body = bytearray(head)
    while len(body) < size - 20:
        body += filler
    body += b"</body></html>"
    return bytes(body[:size])


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, *,
           usage: dict[str, int] | None = None) -> bytes:
    doc: dict[str, Any] = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "created": 1,
                           "model": "hostile",
                           "choices": [] if delta is None else [{"index": 0, "delta": delta,
                                                                 "finish_reason": finish}]}
    if usage is not None:
        doc["usage"] = usage
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def _unescape(text: str) -> str:
    return text.replace("\\e", "\x1b").replace("\\a", "\x07").replace("\\n", "\n")


class HostileServer:
    """The misbehaving server; `async with` runs it on the current loop, `start_in_thread`
    on its own."""

    def __init__(self, *, models: tuple[str, ...] = ("hostile",), models_body: bytes | None = None) -> None:
        self.models = list(models)
        """Model ids `/v1/models` lists."""
        self.models_body = models_body
        """When set, `/v1/models` answers 200 with these bytes as text/html instead."""
        self.requests: list[dict[str, Any]] = []
        """Bodies of the chat requests received, oldest first."""
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, port: int = 0) -> Self:
        """Listen on 127.0.0.1 (`port` 0: a free one)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{bound}/v1"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> Self:
        """Run on an event loop of its own in a daemon thread; returns once listening."""
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_until_complete(self._stop.wait())
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="hostile-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        """Stop a server started with `start_in_thread`."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    # -- routes ----------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def _models(self, request: web.Request) -> web.Response:
        if self.models_body is not None:
            return web.Response(body=self.models_body, content_type="text/html")
        # A window big enough that the check before sending never stops the huge prompts used here.
        data = [{"id": m, "object": "model", "created": 1, "owned_by": "hostile", "max_model_len": 1_000_000}
                for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        messages = body.get("messages", [])
        if messages and messages[-1].get("role") == "tool":
            return await self._stream(request, [_chunk({"role": "assistant", "content": "ok"}),
                                                _chunk({}, "stop")])
        prompt = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
        if isinstance(prompt, list):
            prompt = " ".join(p.get("text", "") for p in prompt if isinstance(p, dict))
        word, _, rest = str(prompt).strip().partition(" ")
        if word == "error-page":
            return web.Response(status=502, body=html_page(), content_type="text/html")
        delay = 0.0
        if word == "slow" and rest.split() and rest.split()[0].isdigit():
            delay = int(rest.split()[0]) / 1000
        return await self._stream(request, self._plan(word, rest), delay=delay)

    def _plan(self, word: str, rest: str) -> Any:
        """The SSE events (bytes) for a prompt, as an iterable (generated lazily when big)."""
        n = int(rest.split()[0]) if rest.split() and rest.split()[0].isdigit() else 0
        start = _chunk({"role": "assistant", "content": ""})
        if word == "say":
            return [start, _chunk({"content": _unescape(rest)}), _chunk({}, "stop")]
        if word == "escapes":
            return [start, *(_chunk({"content": c}) for c in ESCAPES.split(" ")
                             for c in (c, " ")), _chunk({}, "stop")]
        if word == "bad-utf8":
            bad = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"hostile",' \
                  b'"choices":[{"index":0,"delta":{"content":"mid\xff\xfe"},"finish_reason":null}]}\n\n'
            return [start, _chunk({"content": "before "}), bad, _chunk({"content": " after"}), _chunk({}, "stop")]
        if word == "garbage":
            return [start, _chunk({"content": "before "}), b"data: {garbage\n\n", _chunk({"content": " after"}),
                    _chunk({}, "stop")]
        if word == "wrong-shape":
            odd = [b'data: {"choices": "nope"}\n\n', b'data: {"choices": [{"index": 0, "delta": ["x"]}]}\n\n',
                   b'data: {"choices": [{"index": 0, "delta": {"content": 5}}]}\n\n', b"data: [1, 2]\n\n",
                   b'data: {"choices": [{"index": 0, "delta": {"tool_calls": "call"}}]}\n\n',
                   b'data: {"choices": [], "usage": {"prompt_tokens": "many"}}\n\n']
            return [start, _chunk({"content": "before "}), *odd, _chunk({"content": " after"}), _chunk({}, "stop")]
        if word == "sparse":
            odd = [b"data: {}\n\n", b'data: {"choices": [{}]}\n\n', b'data: {"choices": [{"index": 0}]}\n\n',
                   b'data: {"choices": [{"index": 0, "delta": null}]}\n\n',
                   b'data: {"choices": [{"index": 0, "delta": {"tool_calls": null, "content": null}}]}\n\n',
                   b'data: {"choices": [], "usage": {}}\n\n', b'data: {"choices": [], "usage": null}\n\n']
            return [start, _chunk({"content": "before "}), *odd, _chunk({"content": " after"}), _chunk({}, "stop")]
        if word == "table":
            return self._table(start, n or 10_000)
        if word == "reasoning":
            return self._reasoning(start, n or 5_000_000)
        if word == "tool-args":
            return self._tool_args(start, n or 5_000_000)
        if word == "paragraphs":
            return self._paragraphs(start, n or 50_000)
        if word == "nested":
            depth = n or 10
            lines = "".join("  " * i + f"- level {i + 1}\n" for i in range(depth))
            return [start, _chunk({"content": lines + "\nAFTER THE LIST\n"}), _chunk({}, "stop")]
        if word == "late-call":
            wait, _, rest = rest.partition(" ")
            return [_chunk({"role": "assistant", "content": "Let me check. "}), int(wait) / 1000,
                    *self._plan("call", rest)[1:]]
        if word == "call":
            name, _, arguments = rest.partition(" ")
            call = {"index": 0, "id": "call-hostile-1", "type": "function",
                    "function": {"name": name, "arguments": arguments or "{}"}}
            return [start, _chunk({"tool_calls": [call]}), _chunk({}, "tool_calls")]
        if word == "slow":
            text = rest.partition(" ")[2]
            return [start, *(_chunk({"content": w + " "}) for w in text.split()), _chunk({}, "stop")]
        return [start, _chunk({"content": f"{word} {rest}".strip()}), _chunk({}, "stop")]

    @staticmethod
    def _table(start: bytes, rows: int) -> Any:
        yield start
        yield _chunk({"content": "Here is the table:\n\n| # | name | value |\n|---|------|-------|\n"})
        for i in range(rows):
            yield _chunk({"content": f"| {i} | row-{i} | {i * 7 % 1000} |\n"})
        yield _chunk({"content": "\nEND OF TABLE\n"})
        yield _chunk({}, "stop")

    @staticmethod
    def _reasoning(start: bytes, size: int) -> Any:
        yield start
        piece = "thinking about it more "
        sent = 0
        while sent < size:
            yield _chunk({"reasoning": piece * 20})
            sent += len(piece) * 20
        yield _chunk({"content": "done"})
        yield _chunk({}, "stop")

    @staticmethod
    def _tool_args(start: bytes, size: int) -> Any:
        yield start
        yield _chunk({"tool_calls": [{"index": 0, "id": "call-big", "type": "function",
                                      "function": {"name": "echo_args", "arguments": '{"text": "'}}]})
        piece = "abcdefghij" * 50
        sent = 0
        while sent < size:
            yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            sent += len(piece)
        yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]})
        yield _chunk({}, "tool_calls")

    @staticmethod
    def _paragraphs(start: bytes, count: int) -> Any:
        yield start
        for i in range(count):
            yield _chunk({"content": f"Paragraph {i} says something short.\n\n"})
        yield _chunk({"content": "LAST PARAGRAPH"})
        yield _chunk({}, "stop")

    async def _stream(self, request: web.Request, events: Any, *, delay: float = 0.0) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        last_yield = time.monotonic()
        try:
            for event in events:
                if isinstance(event, float):
                    await asyncio.sleep(event)  # a pause the plan asked for
                    continue
                await response.write(event)
                if delay:
                    await asyncio.sleep(delay)
                elif time.monotonic() - last_yield > 0.005:
                    await asyncio.sleep(0)  # let the client's side of a shared loop run
                    last_yield = time.monotonic()
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the client stopped reading (Esc): nothing to finish
        return response


def main() -> None:  # pragma: no cover - for benchmarks and trying things by hand
    import argparse

    parser = argparse.ArgumentParser(description="Run the hostile test server.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def serve() -> None:
        server = await HostileServer().start(args.port)
        print(f"hostile server at {server.base_url}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":  # pragma: no cover
    main()
