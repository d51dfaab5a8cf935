"""What the chat template made of a request: the prompt text the model read, with
its special tokens, and where each token begins and ends.

vLLM applies the chat template on the server, so only the server can say.
Where it has the render endpoint (`POST /v1/chat/completions/render`, served
with `--enable-scale-out`) that gives the token ids chat itself would run,
and the sampling parameters it would use. `/tokenize` (always there) renders
the same messages, tools and template switches and names each token
(`return_token_strs`); `/detokenize` turns the ids back into text, special
tokens included. Token names are vocabulary entries (`Ġthe`, `Ċ`, `▁the`,
`<0x0A>`): they are turned back into the text each token stands for, so the
pieces add up to the prompt and each token's boundaries can be shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from vllm_chat.core.client import ChatClient
from vllm_chat.core.telemetry.probe import ProbeError, post_json

RENDER_PATH = "/v1/chat/completions/render"
"""vLLM's chat render endpoint (exists with `--enable-scale-out`)."""
_TOKENIZE_FIELDS = ("model", "messages", "tools", "chat_template", "chat_template_kwargs",
                    "add_generation_prompt", "continue_final_message", "documents", "mm_processor_kwargs")
_SPECIAL = re.compile(r"^(<\|[^\s|]{1,40}\|>|<[a-z_/]{1,20}>|<[a-z_/]{1,20}_[a-z_]{1,20}>|\[/?[A-Z_]{2,20}\])$")
_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@dataclass(frozen=True)
class RenderedPrompt:
    """The prompt a request became."""

    text: str
    """The whole prompt, special tokens written out."""
    token_ids: tuple[int, ...]
    """Its tokens."""
    pieces: tuple[str, ...] = ()
    """The text of each token, adding up to `text` (empty when the server's token names
    could not be read back into text)."""
    special: frozenset[int] = frozenset()
    """Positions of tokens that look like special tokens (`<|im_start|>`, `<think>`)."""
    source: str = "/tokenize"
    """Which endpoint gave the token ids."""
    sampling_params: dict[str, Any] | None = None
    """The sampling parameters the server would use (render endpoint only)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What the reader should know (no render endpoint, token names not readable, ...)."""


@cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: vocabulary character -> byte."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def read_names(names: list[str]) -> list[str] | None:
    """The text each token stands for, read from the tokenizer's names for them, when
    they are in a vocabulary spelling understood here: byte-level BPE (`Ġ`, `Ċ`,
    characters split over tokens) or SentencePiece (`▁`, `<0x0A>`). None otherwise.

    Read this way the pieces are exactly what the model was given; `/detokenize`
    may tidy the text (`clean_up_tokenization_spaces`)."""
    for decode in (_byte_level, _sentencepiece):
        pieces = decode(names)
        if pieces is not None:
            return pieces
    return None


def token_pieces(names: list[str], text: str) -> tuple[str, ...]:
    """The text of each token when the pieces add up to `text` (else `()`): read from
    the names (`read_names`), or the names themselves."""
    for pieces in (read_names(names), list(names)):
        if pieces is not None and "".join(pieces) == text:
            return tuple(pieces)
    return ()


def _byte_level(names: list[str]) -> list[str] | None:
    table = _byte_decoder()
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out, plain = [], 0
    for name in names:
        if _SPECIAL.match(name):
            out.append(decoder.decode(b"", final=True) + name)
            decoder.reset()
            continue
        try:
            data = bytes(table[c] for c in name)
        except KeyError:  # an added token (DeepSeek's `<｜end▁of▁sentence｜>`) is kept as written
            out.append(decoder.decode(b"", final=True) + name)
            decoder.reset()
            continue
        plain += any(ord(c) > 0x7E for c in name)
        out.append(decoder.decode(data))
    if out:
        out[-1] += decoder.decode(b"", final=True)
    # Names in plain ASCII read the same either way; a byte-level vocabulary shows itself
    # by its Ġ / Ċ characters (spaces and newlines are never plain in it).
    return out if plain else None


def _sentencepiece(names: list[str]) -> list[str] | None:
    if not any("▁" in n or _BYTE_TOKEN.match(n) for n in names):
        return None
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out = []
    for name in names:
        byte = _BYTE_TOKEN.match(name)
        if byte:
            out.append(decoder.decode(bytes([int(byte.group(1), 16)])))
        else:
            out.append(decoder.decode(b"", final=True) + name.replace("▁", " "))
            decoder.reset()
    return out


def _tokenize_body(body: dict[str, Any]) -> dict[str, Any]:
    """What `/tokenize` needs of a chat request to render it the same way."""
    out = {k: body[k] for k in _TOKENIZE_FIELDS if k in body and body[k] is not None}
    out["return_token_strs"] = True
    return out


async def render_prompt(client: ChatClient, body: dict[str, Any]) -> RenderedPrompt:
    """Render the chat request `body` (its JSON, as sent) on the server; `ProbeError`
    says why not (e.g. the template refuses the messages)."""
    notes: list[str] = []
    rendered_ids: list[int] | None = None
    sampling: dict[str, Any] | None = None
    try:
        doc = await post_json(client, client.base_url + RENDER_PATH.removeprefix("/v1"), body)
        ids = doc.get("token_ids")
        if isinstance(ids, list) and all(isinstance(i, int) for i in ids):
            rendered_ids = ids
            params = doc.get("sampling_params")
            sampling = params if isinstance(params, dict) else None
    except ProbeError as exc:
        if not exc.missing:
            raise
        notes.append("This server has no render endpoint (vLLM serves it with --enable-scale-out); "
                     "the prompt comes from /tokenize, which renders messages, tools and template "
                     "switches the same way.")
    tokenized = await post_json(client, "/tokenize", _tokenize_body(body))
    tokens = tokenized.get("tokens")
    raw_names = tokenized.get("token_strs")
    if not isinstance(tokens, list) or not all(isinstance(i, int) for i in tokens):
        raise ProbeError("/tokenize did not answer token ids")
    ids = rendered_ids if rendered_ids is not None else tokens
    names: list[str] = [n for n in raw_names if isinstance(n, str)] if isinstance(raw_names, list) else []
    names_ok = len(names) == len(tokens) == len(raw_names or [])
    read = read_names(names) if names_ok and ids == tokens else None
    pieces: tuple[str, ...] = ()
    if read is not None:
        text = "".join(read)  # exactly the model's tokens: no need to ask /detokenize
        pieces = tuple(read)
    else:
        detok = await post_json(client, "/detokenize", {"model": body.get("model"), "tokens": ids})
        prompt = detok.get("prompt")
        if not isinstance(prompt, str):
            raise ProbeError("/detokenize did not answer the prompt text")
        text = prompt
        if ids != tokens:
            notes.append(f"/tokenize renders this request as {len(tokens)} tokens, chat as {len(ids)}: "
                         "the text is chat's; token boundaries are not shown.")
        elif names_ok:
            pieces = token_pieces(names, text)
        if ids == tokens and not pieces:
            notes.append("The server's token names could not be read back into text: token boundaries "
                         "are not shown.")
    special = frozenset(i for i, piece in enumerate(pieces) if _SPECIAL.match(piece))
    return RenderedPrompt(text=text, token_ids=tuple(ids), pieces=pieces, special=special,
                          source=RENDER_PATH if rendered_ids is not None else "/tokenize",
                          sampling_params=sampling, notes=tuple(notes))
