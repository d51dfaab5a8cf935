"""Regular expressions for structured outputs: parse the subset the simulator can satisfy,
write a deterministic string that matches, and reject the rest the way vLLM does.

vLLM 0.32 compiles `structured_outputs.regex` (and JSON-schema `pattern`s) with llguidance,
whose parser is Rust's `regex-syntax`. A pattern it refuses comes back as a 400 (or an error
event when streaming) shaped like

    Grammar error: at 1(8): invalid regex "(ab" (in regex): regex parse error:
        (ab
        ^
    error: unclosed group
       1 | start: /(ab/
                  ^

`RegexError` carries the same parts, so the simulator's message has vLLM's layout. Supported:
literals and escapes, `.`, classes (ranges, negation, `\\d \\w \\s`, POSIX `[:alpha:]`), groups
(plain, `(?:…)`, named), alternation, `* + ? {n} {n,} {n,m}` (lazy too), `^`/`$`.
Refused like vLLM: look-around, backreferences, `\\b`; refused because the simulator cannot
generate them: inline flags and Unicode classes (`\\p{…}`), which vLLM's engine also fails on.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Union

UNBOUNDED_EXTRA = 2
"""Repetitions beyond the minimum written for `*`, `+` and `{n,}`."""
_PRINTABLE = [chr(c) for c in range(32, 127)]
# Characters in the order classes pick them: `[A-Z]{3}` writes "SIM", `\d{4}` "4207".
_POOL = "".join(dict.fromkeys(
    "SIMULATEDsimulated4207315986 -_.,:;!?@#" + string.ascii_letters + "".join(_PRINTABLE) + "\t\n"
))
_POSIX = {
    "alpha": string.ascii_letters,
    "digit": string.digits,
    "alnum": string.ascii_letters + string.digits,
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
    "space": " \t\n\r\f\v",
    "punct": string.punctuation,
    "xdigit": string.hexdigits,
    "word": string.ascii_letters + string.digits + "_",
}
_SHORTHAND = {"d": string.digits, "w": _POSIX["word"], "s": " \t\n\r\f\v"}
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}


class RegexError(ValueError):
    """A pattern vLLM (or the simulator) refuses; `message(pattern)` is vLLM's error text."""

    def __init__(self, what: str, start: int, length: int = 1, plain: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.start = start
        self.length = max(1, length)
        self.plain = plain

    def message(self, pattern: str) -> str:
        """The whole `Grammar error: …` text, laid out as vLLM 0.32 lays it out."""
        quoted = pattern.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        footer = f"\n   1 | start: /{pattern}/\n              ^"
        if self.plain is not None:
            return f"Grammar error: at 1(8): invalid regex \"{quoted}\" (in regex): {self.plain}{footer}"
        marker = " " * (4 + self.start) + "^" * self.length
        return (
            f"Grammar error: at 1(8): invalid regex \"{quoted}\" (in regex): regex parse error:\n"
            f"    {pattern}\n{marker}\nerror: {self.what}{footer}"
        )


@dataclass
class CharSet:
    """A set of characters: listed ones and ranges, possibly negated."""

    chars: set[str] = field(default_factory=set)
    ranges: list[tuple[str, str]] = field(default_factory=list)
    negated: bool = False

    def __contains__(self, ch: str) -> bool:
        inside = ch in self.chars or any(lo <= ch <= hi for lo, hi in self.ranges)
        return inside != self.negated

    def pick(self, k: int) -> str:
        """A deterministic member, the `k`-th (cyclically) in a friendly order."""
        members = [ch for ch in _POOL if ch in self] or [ch for ch in (*sorted(self.chars),
                                                                       *(lo for lo, _ in self.ranges)) if ch in self]
        if not members:
            raise RegexError("the character class matches no character", 0)
        return members[k % len(members)]


@dataclass
class Repeat:
    """`node{low,high}` (high None: unbounded)."""

    node: Node
    low: int
    high: int | None


Node = Union[str, CharSet, list["Node"], tuple["Node", ...], Repeat]  # noqa: UP007 - a runtime alias on 3.10
"""A literal string, a character set, a sequence (list), an alternation (tuple) or a repeat."""


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def parse(self) -> Node:
        """The whole pattern's tree; a `)` left over is an unopened group."""
        node = self._alternation()
        if self.i < len(self.p):
            raise RegexError("unopened group", self.i)
        return node

    def _peek(self) -> str | None:
        return self.p[self.i] if self.i < len(self.p) else None

    def _alternation(self) -> Node:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.i += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else tuple(branches)

    def _sequence(self) -> list[Node]:
        items: list[Node] = []
        while (ch := self._peek()) is not None and ch not in "|)":
            start = self.i
            if ch in "*+?":
                raise RegexError("repetition operator missing expression", start)
            if ch == "{" and self._counted_follows():
                raise RegexError("repetition operator missing expression", start)
            atom = self._atom()
            items.append(self._quantified(atom, start))
        return items

    def _counted_follows(self) -> bool:
        j = self.i + 1
        while j < len(self.p) and self.p[j].isdigit():
            j += 1
        return j > self.i + 1

    def _quantified(self, atom: Node, start: int) -> Node:
        while (ch := self._peek()) is not None and ch in "*+?{":
            at = self.i
            if ch == "{":
                if not self._counted_follows():
                    break
                low, high = self._counted(at)
            else:
                self.i += 1
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
            if isinstance(atom, Repeat) and self.p[at - 1] in "*+?}" and self._peek() != "?":
                # `a**` and the like: regex-syntax accepts them, llguidance's engine does not.
                raise RegexError("nested repetition is not supported by the simulated server", at)
            if self._peek() == "?":
                self.i += 1
            atom = Repeat(atom, low, high)
        return atom

    def _counted(self, start: int) -> tuple[int, int | None]:
        end = self.p.find("}", start)
        if end < 0:
            raise RegexError("unclosed counted repetition", start, len(self.p) - start)
        body = self.p[start + 1:end]
        low_text, comma, high_text = body.partition(",")
        if not low_text.isdigit() or (high_text and not high_text.isdigit()):
            raise RegexError("invalid repetition count", start, end - start + 1)
        low = int(low_text)
        high = None if comma and not high_text else int(high_text or low_text)
        if high is not None and low > high:
            raise RegexError("invalid repetition count range, the start must be <= the end", start, end - start + 1)
        self.i = end + 1
        return low, high

    def _atom(self) -> Node:
        ch = self.p[self.i]
        if ch == "(":
            return self._group()
        if ch == "[":
            return self._class()
        if ch == "\\":
            return self._escape(in_class=False)
        self.i += 1
        if ch == ".":
            return CharSet({"\n"}, negated=True)
        if ch in "^$":
            return []
        return ch

    def _group(self) -> Node:
        start = self.i
        self.i += 1
        rest = self.p[self.i:]
        if rest.startswith(("?=", "?!", "?<=", "?<!")):
            width = 4 if rest.startswith(("?<=", "?<!")) else 3
            raise RegexError("look-around, including look-ahead and look-behind, is not supported", start, width)
        if rest.startswith("?:"):
            self.i += 2
        elif rest.startswith(("?P<", "?<")):
            close = self.p.find(">", self.i)
            if close < 0:
                raise RegexError("unclosed capture group name", start, len(self.p) - start)
            self.i = close + 1
        elif rest.startswith("?"):
            raise RegexError("inline flags are not supported by the simulated server", start, 2)
        node = self._alternation()
        if self._peek() != ")":
            raise RegexError("unclosed group", start)
        self.i += 1
        return node

    def _class(self) -> CharSet:
        start = self.i
        self.i += 1
        charset = CharSet()
        if self._peek() == "^":
            charset.negated = True
            self.i += 1
        first = True
        while True:
            ch = self._peek()
            if ch is None:
                raise RegexError("unclosed character class", start)
            if ch == "]" and not first:
                self.i += 1
                return charset
            first = False
            if self.p.startswith("[:", self.i):
                close = self.p.find(":]", self.i)
                name = self.p[self.i + 2:close] if close > 0 else ""
                if name not in _POSIX:
                    raise RegexError("invalid ASCII character class", self.i, max(1, close + 2 - self.i))
                charset.chars.update(_POSIX[name])
                self.i = close + 2
                continue
            lo_at = self.i
            lo = self._class_char()
            if isinstance(lo, CharSet):
                charset.chars.update(c for c in (*_PRINTABLE, "\t", "\n") if c in lo)
                continue
            if self._peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                self.i += 1
                hi = self._class_char()
                if isinstance(hi, CharSet):
                    raise RegexError("invalid range boundary, must be a literal", lo_at, self.i - lo_at)
                if lo > hi:
                    raise RegexError(
                        "invalid character class range, the start must be <= the end", lo_at, self.i - lo_at
                    )
                charset.ranges.append((lo, hi))
            else:
                charset.chars.add(lo)

    def _class_char(self) -> str | CharSet:
        if self.p[self.i] == "\\":
            node = self._escape(in_class=True)
            return node if isinstance(node, (str, CharSet)) else ""
        ch = self.p[self.i]
        self.i += 1
        return ch

    def _escape(self, in_class: bool) -> str | CharSet:
        start = self.i
        if self.i + 1 >= len(self.p):
            raise RegexError("incomplete escape sequence, reached end of pattern prematurely", start)
        ch = self.p[self.i + 1]
        self.i += 2
        if ch.lower() in _SHORTHAND:
            return CharSet(set(_SHORTHAND[ch.lower()]), negated=ch.isupper())
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch.isdigit():
            raise RegexError("backreferences are not supported", start, 2)
        if ch in "bB" and not in_class:
            kind = "WordUnicode" if ch == "b" else "WordUnicodeNegate"
            raise RegexError("", start, plain=f"lookarounds not supported yet; {kind} in regex /{self.p}/")
        if ch in "pP":
            raise RegexError("Unicode classes are not supported by the simulated server", start, 2)
        if ch == "x":
            return self._hex_escape(start)
        return ch

    def _hex_escape(self, start: int) -> str:
        if self._peek() == "{":
            close = self.p.find("}", self.i)
            digits = self.p[self.i + 1:close] if close > 0 else ""
            self.i = close + 1 if close > 0 else len(self.p)
        else:
            digits = self.p[self.i:self.i + 2]
            self.i += 2
        try:
            return chr(int(digits, 16))
        except ValueError:
            raise RegexError("invalid hexadecimal digit", start, self.i - start) from None


def parse(pattern: str) -> Node:
    """The pattern's syntax tree; raises `RegexError` for what vLLM (or the simulator) refuses."""
    return _Parser(pattern).parse()


def generate(pattern: str, variant: int = 0) -> str:
    """A string the whole pattern matches; `variant` picks other branches and characters."""
    out: list[str] = []
    _write(parse(pattern), out, variant)
    return "".join(out)


def _write(node: Node, out: list[str], variant: int) -> None:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, CharSet):
        out.append(node.pick(len("".join(out)) + variant))
    elif isinstance(node, list):
        for item in node:
            _write(item, out, variant)
    elif isinstance(node, tuple):
        nonempty = [branch for branch in node if branch != []] or list(node)
        _write(nonempty[variant % len(nonempty)], out, variant)
    else:
        count = node.low + UNBOUNDED_EXTRA if node.high is None else min(node.high, max(node.low, 1))
        for _ in range(count):
            _write(node.node, out, variant)
