"""Each token of a reply with its log-probability and its likeliest alternatives:
captured as the reply streams, kept compactly with the message, read back for
the confidence view, the footer and `--json`.

A 20,000-token reply with 5 alternatives per token is 120,000 (token,
logprob) pairs: as JSON in vLLM's shape that is ~12 MB, saved again every few
seconds while later replies stream. So a message keeps them packed
(`TokenLogprobs`): the distinct token texts once (`vocab`), and four arrays
(the chosen token's index and logprob, the alternatives' indices and
logprobs) as little-endian unsigned 16- or 32-bit integers, logprobs in
thousandths of a nat, zlib-compressed and base64-encoded: about 20 bytes a
token with 5 alternatives. Precision: 0.001 nat, a 0.1 % error on a
probability.

Token texts are what the reply says at that token. vLLM sends a token that
ends inside a UTF-8 character as "\ufffd" with its `bytes`; those are decoded
across tokens, so the tokens' texts add up to the reply's text.
"""

from __future__ import annotations

import base64
import codecs
import math
import sys
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

TokenKind = Literal["content", "reasoning", "tool"]
"""Which part of the reply a token belongs to."""

_SCALE = 1000.0
"""Stored logprobs are in thousandths of a nat."""
_FLOOR = 65535
"""The largest stored value: logprobs of -65.535 nats and below (and -inf) are kept as this."""
_LITTLE = sys.byteorder == "little"
FORMAT_VERSION = 1
"""Version of the packed layout (`TokenLogprobs.format`)."""


@dataclass(frozen=True, slots=True)
class TokenChoice:
    """One token of a reply, unpacked."""

    text: str
    """The token's text."""
    logprob: float
    """Its log-probability (natural log)."""
    alternatives: tuple[tuple[str, float], ...]
    """The likeliest tokens at this position with their logprobs, likeliest first (the
    chosen token is usually among them)."""
    kind: TokenKind
    """The part of the reply it belongs to."""

    @property
    def probability(self) -> float:
        """`exp(logprob)`, 0-1."""
        return math.exp(self.logprob)

    @property
    def rank(self) -> int | None:
        """Where the chosen token stands among the alternatives (1: the likeliest), None
        when it is not among them."""
        for i, (text, _) in enumerate(self.alternatives, start=1):
            if text == self.text:
                return i
        return None


class TokenTable:
    """A reply's tokens unpacked into columns: texts, logprobs and parts for every token
    (what a heat-map needs), alternatives built only for the token asked about."""

    def __init__(self, texts: list[str], logprobs: list[float], kinds: list[TokenKind],
                 alt_start: list[int], alt_texts: list[str], alt_logprobs: list[float]) -> None:
        self.texts = texts
        """Each token's text; they add up to the reply (reasoning, answer, tool calls)."""
        self.logprobs = logprobs
        """Each token's logprob."""
        self.kinds = kinds
        """The part of the reply each token belongs to."""
        self._alt_start = alt_start
        self._alt_texts = alt_texts
        self._alt_logprobs = alt_logprobs

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> TokenChoice:
        start, end = self._alt_start[i], self._alt_start[i + 1]
        # vLLM lists the sampled token first, however likely it was: sort them.
        pairs = zip(self._alt_texts[start:end], self._alt_logprobs[start:end], strict=True)
        alternatives = tuple(sorted(pairs, key=lambda pair: -pair[1]))
        return TokenChoice(self.texts[i], self.logprobs[i], alternatives, self.kinds[i])

    def __iter__(self) -> Iterator[TokenChoice]:
        return (self[i] for i in range(len(self.texts)))


class TokenLogprobs(BaseModel):
    """A reply's tokens with their logprobs and alternatives, packed (see the module docstring)."""

    format: int = FORMAT_VERSION
    """Version of the packed layout."""
    top_n: int = 0
    """Alternatives asked for per token (`top_logprobs`)."""
    count: int = 0
    """Tokens in the reply."""
    sum_logprob: float = 0.0
    """Sum of the tokens' logprobs (for the mean and the perplexity, without unpacking)."""
    parts: list[tuple[TokenKind, int]] = Field(default_factory=list)
    """Runs of tokens by part of the reply, in order: (kind, how many)."""
    vocab: list[str] = Field(default_factory=list)
    """The distinct token texts; the packed data refers to them by position."""
    data: str = ""
    """base64 of zlib of: chosen indices, chosen logprobs, alternatives per token
    (one byte each), alternatives' indices, alternatives' logprobs."""
    width: int = 2
    """Bytes per stored index (2 while `vocab` has under 65,536 entries, else 4)."""

    _unpacked: TokenTable | None = PrivateAttr(default=None)

    @property
    def mean_logprob(self) -> float | None:
        """Mean logprob per token (None for no tokens)."""
        return self.sum_logprob / self.count if self.count else None

    @property
    def perplexity(self) -> float | None:
        """`exp(-mean logprob)`: 1 is certainty; the number of equally likely choices the
        model was, on average, picking among."""
        mean = self.mean_logprob
        if mean is None:
            return None
        return math.exp(-mean) if -mean < 700 else math.inf

    def tokens(self) -> TokenTable:
        """Every token, unpacked (done once per message and kept)."""
        if self._unpacked is None:
            self._unpacked = _unpack(self)
        return self._unpacked


def _kinds(parts: list[tuple[TokenKind, int]]) -> list[TokenKind]:
    out: list[TokenKind] = []
    for kind, n in parts:
        out.extend([kind] * n)
    return out


def _array(code: str, data: bytes) -> array[int]:
    values: array[int] = array(code)
    values.frombytes(data)
    if not _LITTLE:
        values.byteswap()
    return values


def _unpack(packed: TokenLogprobs) -> TokenTable:
    if packed.count == 0 or not packed.data:
        return TokenTable([], [], [], [0], [], [])
    raw = zlib.decompress(base64.b64decode(packed.data))
    n, w = packed.count, packed.width
    index = "H" if w == 2 else "I"
    at = 0

    def take(code: str, size: int, items: int) -> array[int]:
        nonlocal at
        chunk = raw[at:at + size * items]
        at += size * items
        return _array(code, chunk)

    ids = take(index, w, n)
    lps = take("H", 2, n)
    counts = take("B", 1, n)
    starts = [0, *accumulate(counts)]
    alt_ids = take(index, w, starts[-1])
    alt_lps = take("H", 2, starts[-1])
    vocab = packed.vocab
    kinds = _kinds(packed.parts)
    kinds += ["content"] * (n - len(kinds))
    return TokenTable([vocab[i] for i in ids], [_logprob(v) for v in lps], kinds[:n], starts,
                      [vocab[i] for i in alt_ids], [_logprob(v) for v in alt_lps])


def _logprob(stored: int) -> float:
    return -stored / _SCALE if stored < _FLOOR else -math.inf



class LogprobsRecorder:
    """Collects the logprobs of one reply as its chunks arrive; `pack()` at the end.

    Per token this only appends to lists: it runs once per token on the streaming path.
    """

    def __init__(self, top_n: int = 0, existing: TokenLogprobs | None = None) -> None:
        self.top_n = top_n
        """Alternatives asked for per token."""
        self._vocab: dict[str, int] = {}
        self._ids: list[int] = []
        self._lps: list[int] = []
        self._counts: list[int] = []
        self._alt_ids: list[int] = []
        self._alt_lps: list[int] = []
        self._parts: list[list[Any]] = []
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending_bytes = False
        if existing is not None:  # a continued reply: its earlier tokens come first
            for token in existing.tokens():
                self._add(token.text, token.logprob, token.alternatives, token.kind)

    def __len__(self) -> int:
        return len(self._ids)

    def _index(self, text: str) -> int:
        index = self._vocab.get(text)
        if index is None:
            index = self._vocab[text] = len(self._vocab)
        return index

    def _add(self, text: str, logprob: Any, alternatives: Any, kind: TokenKind) -> None:
        # Logprobs are kept as they came (numbers, or None from an odd server) and stored
        # at `pack()`: this runs once per token, and the alternatives' text comes as SDK
        # objects or as pairs.
        index = self._index
        self._ids.append(index(text))
        self._lps.append(logprob)
        self._counts.append(len(alternatives))
        alt_ids, alt_lps = self._alt_ids, self._alt_lps
        for alternative in alternatives:
            if isinstance(alternative, tuple):
                alt_text, alt_logprob = alternative
            else:
                alt_text, alt_logprob = alternative.token or "", alternative.logprob
            alt_ids.append(index(alt_text))
            alt_lps.append(alt_logprob)
        parts = self._parts
        if parts and parts[-1][0] == kind:
            parts[-1][1] += 1
        else:
            parts.append([kind, 1])

    def add(self, entries: Any, kind: TokenKind, delta_text: str | None = None) -> None:
        """Take `choice.logprobs.content` of one chunk (SDK objects or dicts).

        `delta_text` is the text the chunk added to the reply. A chunk of one token (how
        vLLM streams) gives that token exactly that text: vLLM names a token that ends
        inside a character `''` with no bytes, and puts the character, as `\ufffd`, into
        the next chunk's text; taking the chunk's text keeps the tokens adding up to the
        reply whatever the tokenizer did.
        """
        single = delta_text is not None and len(entries) == 1
        alternatives: Any
        for entry in entries:
            if isinstance(entry, dict):
                text, logprob = entry.get("token") or "", entry.get("logprob")
                raw_bytes, top = entry.get("bytes"), entry.get("top_logprobs") or ()
                alternatives = [(t.get("token") or "", t.get("logprob")) for t in top]
            else:
                text, logprob, raw_bytes = entry.token or "", entry.logprob, entry.bytes
                alternatives = entry.top_logprobs or ()
            if single:
                assert delta_text is not None
                text = delta_text
                if self._pending_bytes:
                    self._utf8.reset()
                    self._pending_bytes = False
            elif "\ufffd" in text and raw_bytes:
                # Part of a character: decode the bytes across tokens, so the pieces add up.
                text = self._utf8.decode(bytes(raw_bytes))
                self._pending_bytes = True
            elif self._pending_bytes:
                text = self._utf8.decode(b"", final=True) + text
                self._utf8.reset()
                self._pending_bytes = False
            self._add(text, logprob, alternatives, kind)

    def pack(self) -> TokenLogprobs | None:
        """The collected tokens, packed (None when there are none)."""
        if not self._ids:
            return None
        if self._pending_bytes:  # the reply ended inside a character
            tail = self._utf8.decode(b"", final=True)
            if tail:
                vocab = list(self._vocab)
                self._ids[-1] = self._index(vocab[self._ids[-1]] + tail)
        width = 2 if len(self._vocab) < 65536 else 4
        index = "H" if width == 2 else "I"
        lps = _stored_all(self._lps)
        alt_lps = _stored_all(self._alt_lps)
        chunks = []
        for code, values in ((index, self._ids), ("H", lps), ("B", [min(c, 255) for c in self._counts]),
                             (index, self._alt_ids), ("H", alt_lps)):
            packed = array(code, values)
            if not _LITTLE:
                packed.byteswap()
            chunks.append(packed.tobytes())
        data = base64.b64encode(zlib.compress(b"".join(chunks), 6)).decode("ascii")
        return TokenLogprobs(top_n=self.top_n, count=len(self._ids), sum_logprob=-sum(lps) / _SCALE,
                             parts=[(kind, n) for kind, n in self._parts], vocab=list(self._vocab),
                             data=data, width=width)


def _stored_all(values: list[Any]) -> list[int]:
    """Logprobs as stored: thousandths of a nat, from 0 (certain) to `_FLOOR` (-65.535 nats
    or less, -inf, and None or NaN from an odd server). One tight loop: a long reply has
    120,000 of them."""
    out: list[int] = []
    append = out.append
    for value in values:
        try:
            stored = round(value * -_SCALE)
        except (TypeError, OverflowError, ValueError):  # None, -inf, NaN: nothing known
            stored = _FLOOR
        append(stored if 0 <= stored < _FLOOR else (0 if stored < 0 else _FLOOR))
    return out


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return number if not math.isnan(number) else -math.inf


def summary(packed: TokenLogprobs | None) -> str:
    """The footer's words: 'mean logprob -0.42 · perplexity 1.52' ('' without logprobs)."""
    if packed is None or not packed.count:
        return ""
    mean, ppl = packed.mean_logprob, packed.perplexity
    assert mean is not None and ppl is not None
    shown = f"{ppl:.2f}" if ppl < 1000 else f"{ppl:.3g}"
    return f"mean logprob {mean:.2f} · perplexity {shown}"


def token_docs(packed: TokenLogprobs | None) -> list[dict[str, Any]]:
    """Every token as JSON-ready data (one-shot `--json`): token, logprob, probability,
    part of the reply, and the alternatives likeliest first."""
    if packed is None:
        return []
    return [
        {
            "token": t.text,
            "logprob": _json_number(t.logprob),
            "probability": t.probability,
            "part": t.kind,
            "top": [{"token": text, "logprob": _json_number(lp), "probability": math.exp(lp)}
                    for text, lp in t.alternatives],
        }
        for t in packed.tokens()
    ]


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None
