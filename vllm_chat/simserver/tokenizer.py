"""A small deterministic tokenizer, so prompt sizes and streamed pieces look like a real model's.

A token is a word with its leading space (long words are split every 12
letters), up to three digits, one or two punctuation characters, a run of
newlines, or a run of spaces. Special tokens (`<|im_start|>`, `<think>`, ...)
are single tokens with fixed small ids; every other token gets a stable id
derived from its text. `decode` maps ids this process has produced back to
their text (vLLM decodes ids it does not know to nothing, and so do we).
"""

from __future__ import annotations

import re
import zlib

VOCAB_SIZE = 151_936
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<|image_pad|>",
    "<|audio_pad|>",
    "<|video_pad|>",
)
SPECIAL_IDS = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
_FIRST_ORDINARY_ID = 100
_MAX_REMEMBERED = 500_000

_TOKEN_RE = re.compile(
    r" ?[^\W\d_]{1,12}"  # a word piece, with its leading space
    r"| ?\d{1,3}"  # up to three digits
    r"| ?_+"  # underscores (identifiers)
    r"| ?[^\w\s]{1,2}"  # one or two punctuation characters
    r"|\n+"  # a run of newlines
    r"|[^\S\n]+(?= [^\W\d_])"  # a space run, leaving one space to the word after it
    r"|[^\S\n]+(?=\S)"  # spaces before a token that does not take them itself
    r"|[^\S\n]+"  # trailing spaces
    r"|\s"  # anything else that is white
    r"|.",  # never reached: every character matches one of the above
    re.DOTALL,
)
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
_known: dict[int, str] = {}


def tokenize(text: str) -> list[str]:
    """Split ordinary text into token strings; `"".join(tokenize(t)) == t` always holds."""
    return _TOKEN_RE.findall(text)


def count(text: str) -> int:
    """Number of tokens in ordinary text."""
    return len(_TOKEN_RE.findall(text))


def token_id(token: str) -> int:
    """The id of one token string (special tokens have fixed small ids)."""
    special = SPECIAL_IDS.get(token)
    if special is not None:
        return special
    tid = _FIRST_ORDINARY_ID + zlib.crc32(token.encode()) % (VOCAB_SIZE - _FIRST_ORDINARY_ID)
    if tid not in _known:
        if len(_known) >= _MAX_REMEMBERED:
            _known.clear()
        _known[tid] = token
    return tid


def encode_with_specials(text: str) -> list[str]:
    """Token strings of text that may contain special tokens (which stay whole)."""
    tokens: list[str] = []
    for part in _SPECIAL_RE.split(text):
        if not part:
            continue
        if part in SPECIAL_IDS:
            tokens.append(part)
        else:
            tokens.extend(tokenize(part))
    return tokens


def decode(ids: list[int]) -> str:
    """Text of token ids; ids this server never produced decode to nothing."""
    out = []
    for tid in ids:
        if 0 <= tid < len(SPECIAL_TOKENS):
            out.append(SPECIAL_TOKENS[tid])
        else:
            out.append(_known.get(tid, ""))
    return "".join(out)
