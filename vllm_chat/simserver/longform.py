"""Long replies of an exact token count, made of realistic mixed Markdown.

Used for `long N` prompts, for `ignore_eos`/`min_tokens` filler, and by the
rendering benchmarks: prose, headings, bullet and numbered lists, code fences,
tables and quotes, in a deterministic order that depends only on the seed.
"""

from __future__ import annotations

import random

from vllm_chat.simserver import tokenizer

_SENTENCES = (
    "The scheduler groups waiting requests into batches so the accelerator never sits idle.",
    "Each new token only needs the keys and values of the tokens before it, which live in the KV cache.",
    "Paged attention stores that cache in fixed-size blocks, much like virtual memory pages.",
    "When the cache fills up, the engine preempts the youngest request and recomputes it later.",
    "Streaming sends every token as soon as it is sampled, so the first words appear almost at once.",
    "A terminal client has to redraw only the part of the screen that changed to keep up.",
    "Prefix caching lets two conversations that share a long system prompt skip the shared prefill.",
    "Speculative decoding drafts several tokens cheaply and verifies them in a single forward pass.",
    "Tool calls are just text in a known format that a parser turns into structured deltas.",
    "The context window bounds the prompt and the reply together, not each one separately.",
    "Quantised weights trade a little accuracy for a lot of memory and bandwidth.",
    "Tensor parallelism splits every matrix multiplication across several devices.",
    "A good benchmark separates time to first token from the steady rate that follows it.",
    "Chunked prefill interleaves long prompts with ongoing decodes, smoothing out latency.",
    "Temperature reshapes the distribution; top-p then trims its long tail.",
    "Markdown is rendered incrementally: only the last block can still change while tokens arrive.",
    "A cancelled stream should free its slot in the engine immediately, not at the end of the reply.",
    "Usage statistics arrive in a final chunk whose list of choices is empty.",
    "Reasoning models think out loud first, and a parser moves that text into its own field.",
    "Retries are dangerous for generation: the same prompt may be answered twice.",
)
_TOPICS = (
    "Batching",
    "The KV cache",
    "Streaming",
    "Tool calling",
    "Sampling",
    "Parallelism",
    "Prefix caching",
    "Benchmarks",
    "Cancellation",
    "Context windows",
)
_ITEMS = (
    "keep the **first token** fast",
    "measure `tokens/s` per stream, not per server",
    "prefer `stream_options.include_usage` for exact counts",
    "close the stream to cancel, don't just stop reading",
    "merge tool-call deltas by `index`",
    "expect `finish_reason` to be missing when a stream is cut",
    "send images as `data:` URLs",
    "count prompt tokens with `/tokenize`",
    "treat `reasoning` and `reasoning_content` alike",
    "render finished blocks once",
)
_CODE = (
    (
        "python",
        "async def stream(client, messages):\n"
        '    """Print a reply as it arrives."""\n'
        "    response = await client.chat.completions.create(\n"
        '        model="sim-chat", messages=messages, stream=True,\n'
        "    )\n"
        "    async for chunk in response:\n"
        "        for choice in chunk.choices:\n"
        '            print(choice.delta.content or "", end="", flush=True)',
    ),
    (
        "bash",
        "curl -sN http://127.0.0.1:8000/v1/chat/completions \\\n"
        '  -H "Content-Type: application/json" \\\n'
        "  -d '{\"model\": \"sim-chat\", \"stream\": true,\n"
        '       "messages": [{"role": "user", "content": "hello"}]}\'',
    ),
    (
        "json",
        '{\n  "prompt_tokens": 32,\n  "completion_tokens": 12,\n  "total_tokens": 44\n}',
    ),
    (
        "python",
        "def kv_cache_bytes(layers, heads, head_dim, tokens, dtype_bytes=2):\n"
        "    # keys and values, for every layer and every token\n"
        "    return 2 * layers * heads * head_dim * tokens * dtype_bytes",
    ),
)
_TABLE_ROWS = (
    ("sim-chat", "32768", "instant", "yes"),
    ("sim-vision", "32768", "instant", "yes"),
    ("Qwen3-8B", "40960", "~80 ms", "yes"),
    ("Llama-3.1-8B", "131072", "~90 ms", "yes"),
    ("Mistral-7B", "32768", "~70 ms", "no"),
)


def _paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(3, 6)))


def _section(rng: random.Random, number: int) -> str:
    kind = number % 6
    heading = f"## {number + 1}. {_TOPICS[number % len(_TOPICS)]}"
    if kind == 0:
        body = _paragraph(rng) + "\n\n" + _paragraph(rng)
    elif kind == 1:
        items = rng.sample(_ITEMS, 4)
        body = _paragraph(rng) + "\n\n" + "\n".join(f"- {item}" for item in items)
        body += "\n  - nested detail: " + rng.choice(_SENTENCES).lower()
    elif kind == 2:
        lang, code = _CODE[(number // 6) % len(_CODE)]
        body = _paragraph(rng) + f"\n\n```{lang}\n{code}\n```"
    elif kind == 3:
        rows = "\n".join(f"| {' | '.join(row)} |" for row in rng.sample(_TABLE_ROWS, 3))
        body = "| Model | Context | First token | Tools |\n|---|---:|---|:---:|\n" + rows
        body = _paragraph(rng) + "\n\n" + body
    elif kind == 4:
        steps = rng.sample(_ITEMS, 3)
        body = "\n".join(f"{i}. {step[0].upper()}{step[1:]}." for i, step in enumerate(steps, 1))
        body += "\n\n> " + rng.choice(_SENTENCES)
    else:
        body = f"**In short:** {rng.choice(_SENTENCES)} *{rng.choice(_SENTENCES)}*\n\n" + _paragraph(rng)
    return f"{heading}\n\n{body}"


def long_markdown(n_tokens: int, seed: int = 0, limit: int | None = None) -> str:
    """Markdown of exactly `n_tokens` tokens: whole sections, then prose cut to size.

    With `limit`, only the first `limit` tokens of that text, without writing the rest,
    so a reply cut by `max_tokens` is always the start of the uncut one."""
    keep = n_tokens if limit is None else max(0, min(limit, n_tokens))
    rng = random.Random(seed)
    intro = "# A long reply\n\nHere is the long answer you asked for, section by section.\n\n"
    pieces = tokenizer.tokenize(intro)
    if len(pieces) >= n_tokens:
        return "".join(pieces[:keep])
    number = 0
    while len(pieces) < keep:
        section = tokenizer.tokenize(_section(rng, number) + "\n\n")
        if len(pieces) + len(section) > n_tokens:
            return "".join(pieces) + filler(min(n_tokens, keep) - len(pieces), rng)
        pieces.extend(section)
        number += 1
    return "".join(pieces[:keep])


def filler(n_tokens: int, rng: random.Random | None = None) -> str:
    """Prose of exactly `n_tokens` tokens (it may stop mid-sentence)."""
    rng = rng or random.Random(n_tokens)
    pieces: list[str] = []
    while len(pieces) < n_tokens:
        pieces.extend(tokenizer.tokenize(" " + rng.choice(_SENTENCES) if pieces else rng.choice(_SENTENCES)))
    return "".join(pieces[:n_tokens])


_CHECKS = (
    "does the answer follow from what the user actually asked?",
    "is there a simpler reading of the question that I missed?",
    "would a concrete example make the answer clearer?",
    "are any of the numbers or names worth double-checking?",
    "does the format fit where the answer will be read?",
    "is anything important left out of the answer?",
)


def reasoning_lines(count: int) -> list[str]:
    """`count` self-checks a careful model adds to its reasoning at higher effort."""
    return [_CHECKS[k % len(_CHECKS)] for k in range(count)]
