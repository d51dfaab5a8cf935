"""Log-probabilities of the simulated model's tokens, in vLLM's two shapes.

Probabilities follow the content, so a confidence heat-map has something to show: spaces,
newlines and punctuation are near-certain, common words likely, names, numbers and long
words much less so, with a little deterministic jitter from the token and its position.
The sampled token is always the most likely one, so it heads its own `top_logprobs`
(as vLLM lists it), followed by plausible alternatives of the same kind, each less likely.
The same token at the same position always gets the same numbers, streamed or not.
"""

from __future__ import annotations

import functools
import math
import zlib
from json.encoder import encode_basestring as _enc
from typing import Any

_COMMON = frozenset(
    "the a an and or but of to in on at for with by from as is are was were be been it this that these those "
    "i you he she we they my your our their its not no yes can will would should could do does did have has "
    "had so if then than there here when what which who how all any some more most also just only very".split()
)
_WORD_ALTERNATIVES = (" the", " a", " this", " it", " and", " to", " of", " that", " in", " is")
_DIGIT_ALTERNATIVES = tuple("1234567890")
_PUNCT_ALTERNATIVES = (".", ",", "\n", ":", ";", "!", "?", " -")
_SPACE_ALTERNATIVES = ("\n", " ", "\n\n", "  ", "\t")


def probability(token: str, position: int) -> float:
    """How sure the simulated model is of `token` at `position` (0 < p < 1)."""
    jitter = (zlib.crc32(f"{position}:{token}".encode()) % 1000) / 1000.0 - 0.5
    return min(0.995, max(0.05, _base(token) + jitter * 0.3))


@functools.lru_cache(maxsize=65536)
def _base(token: str) -> float:
    """The kind of token decides how sure the model is, before jitter."""
    word = token.strip().lower()
    if not word:
        base = 0.97
    elif not any(ch.isalnum() for ch in word):
        base = 0.9
    elif word.isdigit():
        base = 0.35
    elif word in _COMMON:
        base = 0.8
    elif token.strip()[:1].isupper():
        base = 0.45
    elif len(word) > 7:
        base = 0.4
    else:
        base = 0.62
    return base


def alternatives(token: str, count: int) -> list[str]:
    """`count` other tokens a model might have written instead, of the same kind."""
    return list(_alternatives(token)[:count])


@functools.lru_cache(maxsize=65536)
def _alternatives(token: str) -> tuple[str, ...]:
    word = token.strip()
    if not word:
        pool: tuple[str, ...] = _SPACE_ALTERNATIVES
    elif word.isdigit():
        pool = _DIGIT_ALTERNATIVES
    elif not any(ch.isalnum() for ch in word):
        pool = _PUNCT_ALTERNATIVES
    else:
        spaced = token.startswith(" ")
        pool = tuple(a if spaced else a.lstrip() for a in _WORD_ALTERNATIVES)
    start = zlib.crc32(token.encode()) % len(pool)
    rotated = [pool[(start + k) % len(pool)] for k in range(len(pool))]
    return tuple(alt for alt in rotated if alt != token)


def ranked(token: str, position: int, top: int) -> list[tuple[str, float]]:
    """The sampled token and `top - 1` alternatives with their log-probabilities, best first."""
    p = probability(token, position)
    ranked_list = [(token, math.log(p))]
    rest = min(p, 1.0 - p)
    for k, alt in enumerate(alternatives(token, max(0, top - 1))):
        ranked_list.append((alt, math.log(rest * 0.45 * 0.5 ** k)))
    return ranked_list


def chat_entry(token: str, position: int, top: int, beam: bool = False) -> dict[str, Any]:
    """One `logprobs.content[]` entry of a chat response (beam search leaves `bytes` null)."""
    ranks = ranked(token, position, max(top, 1))
    return {
        "token": token,
        "logprob": ranks[0][1],
        "bytes": None if beam else list(token.encode()),
        "top_logprobs": [
            {"token": tok, "logprob": lp, "bytes": list(tok.encode())} for tok, lp in ranks[:top]
        ],
    }


@functools.lru_cache(maxsize=65536)
def _json_parts(token: str) -> tuple[str, str]:
    """`{"token":…,"logprob":` and `,"bytes":[…]` of a token, as JSON text."""
    return '{"token":' + _enc(token) + ',"logprob":', ',"bytes":[' + ",".join(map(str, token.encode())) + "]"


def chat_entry_json(token: str, position: int, top: int, beam: bool = False) -> str:
    """`chat_entry` written straight as compact JSON (the streaming path, once per token)."""
    ranks = ranked(token, position, max(top, 1))
    head, data = _json_parts(token)
    alts = []
    for tok, lp in ranks[:top]:
        alt_head, alt_bytes = _json_parts(tok)
        alts.append(f"{alt_head}{lp!r}{alt_bytes}}}")
    token_bytes = ',"bytes":null' if beam else data
    return head + repr(ranks[0][1]) + token_bytes + ',"top_logprobs":[' + ",".join(alts) + "]}"


def completion_logprobs(tokens: list[str], positions: list[int], top: int, offset: int) -> dict[str, Any]:
    """The `logprobs` object of a legacy completion: offsets, logprobs, tokens and, per token,
    a `{token: logprob}` map of the sampled token and `top` alternatives."""
    text_offset, token_logprobs, top_maps = [], [], []
    for token, position in zip(tokens, positions, strict=True):
        ranks = ranked(token, position, top + 1)
        text_offset.append(offset)
        offset += len(token)
        token_logprobs.append(ranks[0][1])
        top_maps.append(dict(ranks))
    return {"text_offset": text_offset, "token_logprobs": token_logprobs, "tokens": tokens, "top_logprobs": top_maps}
