"""The canned Markdown the simulated model answers with: greeting, help, showcase, fallback."""

from __future__ import annotations

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.faults import FAULT_KINDS

MAGIC_PHRASES: tuple[tuple[str, str], ...] = (
    ("hello", "a short greeting with things to try"),
    ("help", "this list"),
    ("markdown", "headings, lists, a code fence, a table and a quote"),
    ("long N  /  write N tokens", "a Markdown reply of exactly N tokens (e.g. `long 2000`)"),
    ("echo TEXT", "answers TEXT verbatim"),
    ("/think  /  /no_think", "a reasoning preamble before the answer, or none"),
    ("what time is it", "calls a date/time tool (when the client offers tools)"),
    ("what is 17*23", "calls a calculator tool, or answers directly without tools"),
    ("weather in Paris", "calls a weather tool; `weather in Paris and London` calls it twice"),
    ("read file X  /  list directory X", "calls file tools"),
    ("what is 6*7, then what time is it", (
        "a chain: one tool round per part joined by `then` (the calculator, then the date/time "
        "tool), then an answer quoting both results")),
    ("keep calling tools", (
        "calls a tool in every round and never answers: a runaway loop, for trying a client's round limit")),
    ("… with bad arguments", (
        "the tool call's arguments are not a JSON object (`4e9999…`), as a real vLLM sends when "
        "the schema isn't strict")),
    ("an image, audio or video", "describes what arrived (count, MIME type, size) on `sim-vision`"),
    ("sim:load=6 hello", (
        "six requests from other users queue up first: the reply waits, `/metrics` shows them waiting and "
        "the KV cache near 97 %")),
    ("sim:429=3", "a router's 429 with `Retry-After` for this request and the next two (`sim:503=3`: 503)"),
    ("sim:unconstrained", "the reply ignores a JSON schema, regex, choice or grammar the request carries"),
    ("sim:ramble", "a JSON reply pads itself with whitespace until `max_tokens` cuts it, unfinished"),
)
FEATURES: tuple[tuple[str, str], ...] = (
    ("`response_format` / `structured_outputs`", (
        "the reply is a valid instance of a JSON schema, matches a regex, is one of the choices (the one "
        "you mention), or a sentence of a GBNF/Lark grammar; invalid ones get vLLM's 400")),
    ("`logprobs` + `top_logprobs`", "every token's probability (low for names and numbers) and its alternatives"),
    ("`n` / `use_beam_search`", "several candidates, worded differently"),
    ("`reasoning_effort`", "low: a one-line thought, high and above: a longer one"),
    ("`/tokenize`", "the exact prompt size of a chat request (`count` = its `usage.prompt_tokens`)"),
    ("`/metrics`", "vLLM's Prometheus series, moving with the load: queue, KV cache, prefix-cache hits"),
)

def help_text(config: SimConfig) -> str:
    """The `help` reply: every magic phrase, the request features, this server's extras, the faults."""
    lines = [
        "## Magic phrases\n",
        "I'm a simulated vLLM model: what I say is scripted. These phrases steer me:\n",
        "| Phrase | What happens |\n|---|---|",
        *(f"| `{phrase}` | {effect} |" for phrase, effect in MAGIC_PHRASES),
        "\n### What requests can ask for\n",
        "| Field or endpoint | What you get |\n|---|---|",
        *(f"| {what} | {effect} |" for what, effect in FEATURES),
        *_server_notes(config),
        "\n### Faults\n",
        "Put one of these anywhere in a message to make the stream misbehave "
        "(or send `\"sim_fault\": \"KIND\"` in the request body):\n",
        *(f"- `sim:{kind}` — {effect}" for kind, effect in FAULT_KINDS.items()),
        "\nAfter a tool call, I answer by quoting the tool results.",
    ]
    return "\n".join(lines)


def _server_notes(config: SimConfig) -> list[str]:
    notes = []
    if config.base_models:
        names = ", ".join(f"`{m}`" for m in config.base_models)
        notes.append(f"- {names} has no chat template: chat gets vLLM's 400, `/v1/completions` works.")
    if config.trust_request_chat_template:
        notes.append("- A request's own `chat_template` is used (`--trust-request-chat-template`).")
    for name, parent in config.loras.items():
        notes.append(f"- `{name}` is a LoRA adapter on `{parent}`.")
    if config.runtime_lora:
        where = ", ".join(f"`{path}`" for path in config.adapter_examples) or "any folder with an adapter_config.json"
        notes.append(f"- Adapters can be loaded at runtime (`/v1/load_lora_adapter`), e.g. from {where}.")
    if config.per_request_metrics:
        notes.append("- Replies carry per-request `metrics` (TTFT, queue time, tokens per second).")
    if config.max_num_seqs < 64:
        notes.append(f"- At most {config.max_num_seqs} requests run at once; more wait in the queue.")
    return ["\n### This server\n", *notes] if notes else []


_HELLO = (
    "## Hello! 👋\n\n"
    "I'm **{model}**, a *simulated* vLLM model. Everything I say is scripted and nothing runs on a GPU, "
    "so you can try the whole client without a server.\n\n"
    "Some things to try:\n\n"
    "| Type this | What happens |\n|---|---|\n"
    "| `help` | every magic phrase |\n"
    "| `markdown` | headings, lists, code and a table |\n"
    "| `what is 17*23` | a tool call, then an answer quoting its result |\n"
    "| `weather in Paris and what time is it` | two tool calls at once; the weather one asks for your approval |\n"
    "| `long 2000` | a 2,000-token reply, for scrolling |\n"
    "| `/think why is the sky blue` | reasoning first, then the answer |\n"
    "| `sim:error-mid` | a stream that fails half-way |\n\n"
    "Tool calls need tools switched on in the client; images need the `sim-vision` model."
)
_HELLO_ALT = (
    "Hi there! I'm **{model}**, a scripted stand-in for a real vLLM model.\n\n"
    "- Type `help` for the magic phrases.\n"
    "- Type `markdown` to see how replies render.\n"
    "- Type `long 500` for a long answer."
)

SHOWCASE = (
    "# Markdown showcase\n\n"
    "Replies can use **bold**, *italic*, `inline code`, ~~strikethrough~~ and [links](https://docs.vllm.ai).\n\n"
    "## Lists\n\n"
    "- Streaming\n  - role chunk first\n  - then content deltas\n- Tool calls\n- Reasoning\n\n"
    "1. Send the request\n2. Read the deltas\n3. Stop at `[DONE]`\n\n"
    "## Code\n\n"
    "```python\n"
    "from openai import AsyncOpenAI\n\n"
    'client = AsyncOpenAI(base_url="http://127.0.0.1:8000/v1", api_key="EMPTY")\n'
    "stream = await client.chat.completions.create(\n"
    '    model="sim-chat",\n'
    '    messages=[{"role": "user", "content": "hello"}],\n'
    "    stream=True,\n"
    ")\n"
    "```\n\n"
    "## A table\n\n"
    "| Field | Where | Example |\n|---|---|---|\n"
    '| `content` | delta | `"Hello"` |\n'
    '| `reasoning` | delta | `"Let me think"` |\n'
    "| `finish_reason` | choice | `stop` |\n\n"
    "> Finished blocks never change; only the last one grows while tokens arrive.\n\n"
    "---\n\nThat's all the Markdown I know."
)

_FALLBACK = (
    "You said: “{snippet}”.\n\n"
    "I'm a simulated model, so I can't really think about it, but here is a well-formed answer anyway:\n\n"
    "1. **Restate** the question: {snippet}\n"
    "2. **Answer** it in a few short paragraphs.\n"
    "3. **Offer** a next step.\n\n"
    "Type `help` to see what I can do.",
    "Good question: “{snippet}”.\n\n"
    "A real model would answer here. I'm **{model}**, a scripted simulator, so instead:\n\n"
    "- try `markdown` to see formatting,\n"
    "- try `what is 6*7` to see a tool call,\n"
    "- or `help` for everything else.",
)
_NEEDS_TOOL = (
    "I can't {what} on my own: I'm a simulated model and {why}.\n\n"
    "Switch on a tool that can in the client and ask again, e.g. `{example}`."
)


def hello(model: str, variant: int = 0) -> str:
    """The greeting; the demo's first impression."""
    return (_HELLO if variant % 2 == 0 else _HELLO_ALT).format(model=model)


def fallback(snippet: str, model: str, variant: int = 0) -> str:
    """The answer to anything without a script of its own."""
    return _FALLBACK[variant % len(_FALLBACK)].format(snippet=snippet, model=model)


def needs_tool(intent: str, offered: list[str]) -> str:
    """The answer to a tool-shaped question when no offered tool fits."""
    what, example = {
        "time": ("tell the time", "what time is it"),
        "weather": ("look up the weather", "weather in Paris"),
        "read": ("read files", "read the file README.md"),
        "list": ("list folders", "list the directory ."),
        "search": ("search anything", "search the docs for streaming"),
    }.get(intent, ("do that", "help"))
    if offered:
        why = "none of the tools I was given (" + ", ".join(f"`{n}`" for n in offered) + ") can do that"
    else:
        why = "no tools came with this request"
    return _NEEDS_TOOL.format(what=what, example=example, why=why)


def snippet_of(text: str, limit: int = 80) -> str:
    """A one-line excerpt of the user's message for quoting back."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
