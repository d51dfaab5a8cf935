"""Grammars for structured outputs (`structured_outputs.grammar`): a GBNF or Lark subset,
parsed, checked and expanded into one deterministic sentence of the language.

vLLM 0.32 hands grammars to llguidance, which reads Lark, and GBNF (a grammar with a
`root ::= …` rule) after converting it. The simulator reads the common core of both:

    root ::= answer ("," answer)*          start: answer ("," answer)*
    answer ::= "yes" | "no" | [0-9]+       answer: "yes" | "no" | /[0-9]+/

strings, character classes (GBNF) and `/regex/` terminals (Lark), rule references,
groups, `|`, `* + ?`, `{m,n}` (GBNF) and `[optional]` (Lark), comments, and Lark's
`%import common.X` for the usual terminals. Errors read as vLLM's do: `Invalid grammar
specification: Failed to convert the grammar from GBNF to Lark: Rule 'x' not found` and
`Grammar error: at 1(8): unknown name: "x"` with the offending line.

The sentence is the cheapest expansion (each alternation takes its shortest branch, ties
going to the first), with optional parts written once, so it is short and always ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vllm_chat.simserver import regexgen

MAX_DEPTH = 40
_COMMON = {
    "DIGIT": "/[0-9]/",
    "INT": "/[0-9]+/",
    "SIGNED_INT": "/[+-]?[0-9]+/",
    "NUMBER": "/[0-9]+(\\.[0-9]+)?/",
    "SIGNED_NUMBER": "/[+-]?[0-9]+(\\.[0-9]+)?/",
    "DECIMAL": "/[0-9]+\\.[0-9]+/",
    "FLOAT": "/[0-9]+\\.[0-9]+/",
    "LETTER": "/[a-zA-Z]/",
    "WORD": "/[a-zA-Z]+/",
    "CNAME": "/[a-zA-Z_][a-zA-Z0-9_]*/",
    "WS": "/[ \\t\\n]+/",
    "WS_INLINE": "/[ \\t]+/",
    "NEWLINE": "/\\n/",
    "ESCAPED_STRING": '/"[a-zA-Z ]*"/',
}


_GBNF_FAILURE = "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark"


class GrammarError(ValueError):
    """A grammar vLLM refuses; the message is vLLM's full error text."""


@dataclass
class _Token:
    kind: str  # name, string, class, regex, op, define, newline
    text: str
    line: int
    col: int


@dataclass
class Grammar:
    """Rules as expressions: a name, a literal, a character set, a regex, a sequence (list),
    an alternation (tuple) or a repeat (`regexgen.Repeat`)."""

    rules: dict[str, object]
    start: str


_TOKEN_PARTS = (
    r'(?P<comment>(?:#|//)[^\n]*)',
    r'(?P<newline>\n)',
    r'(?P<space>[ \t\r]+)',
    r'(?P<string>"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')',
    r'(?P<open_string>["\'])',
    r'(?P<counted>\{\s*\d+\s*(?:,\s*\d*\s*)?\})',
    r'(?P<directive>%\w+[^\n]*)',
    r'(?P<name>[A-Za-z_][\w.-]*)',
    r'(?P<op>[()|*+?\[\]])',
)
# GBNF: `::=` defines and `[...]` is a character class; Lark: `:` defines, `[...]` is optional
# and `/.../` is a regex terminal.
_GBNF_TOKEN_RE = re.compile("|".join(
    (r'(?P<define>::=)', r'(?P<class>\[(?:\\.|[^\]\\\n])*\])', *_TOKEN_PARTS)
))
_LARK_TOKEN_RE = re.compile("|".join(
    (r'(?P<define>:)', r'(?P<regex>/(?:\\.|[^/\\\n])+/[imsx]*)', *_TOKEN_PARTS)
))


def is_gbnf(source: str) -> bool:
    """Whether llguidance would read the grammar as GBNF (it has a `root ::=` rule)."""
    return re.search(r"(?m)^\s*root\s*::=", source) is not None


def parse(source: str) -> Grammar:
    """Read a GBNF or Lark grammar; raises `GrammarError` with vLLM's message."""
    gbnf = is_gbnf(source)
    tokens = _tokenize(source, gbnf)
    rules: dict[str, object] = {}
    defined_at: dict[str, _Token] = {}
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "newline":
            i += 1
            continue
        head = tokens[i]
        if head.kind != "name" or i + 1 >= len(tokens) or tokens[i + 1].kind != "define":
            raise _error(source, gbnf, head, f"Expected rule definition, found {head.text!r}")
        end = _rule_end(tokens, i + 2, gbnf)
        parser = _ExprParser(tokens[i + 2:end], source, gbnf)
        rules[head.text] = parser.parse()
        defined_at[head.text] = head
        i = end
    start = "root" if gbnf else "start"
    if start not in rules:
        raise _error(source, gbnf, None, f"Rule '{start}' not found" if gbnf else 'unknown name: "start"')
    for name, token in _references(rules, tokens):
        if name not in rules:
            if gbnf:
                raise _error(source, gbnf, None, f"Rule '{name}' not found")
            raise _error(source, gbnf, token, f'unknown name: "{name}"')
    return Grammar(rules, start)


def generate(source: str) -> str:
    """One sentence of the grammar's language (the cheapest one)."""
    grammar = parse(source)
    costs = _costs(grammar)
    out: list[str] = []
    _expand(grammar.rules[grammar.start], grammar, costs, out, (grammar.start,))
    return "".join(out)


def _tokenize(source: str, gbnf: bool) -> list[_Token]:
    tokens: list[_Token] = []
    line, line_start, pos = 1, 0, 0
    imports: list[str] = []
    token_re = _GBNF_TOKEN_RE if gbnf else _LARK_TOKEN_RE
    while pos < len(source):
        match = token_re.match(source, pos)
        if match is None:
            bad = _Token("op", source[pos], line, pos - line_start + 1)
            raise _error(source, gbnf, bad, f"Unexpected character {source[pos]!r}")
        kind, text = match.lastgroup or "", match.group()
        token = _Token(kind, text, line, pos - line_start + 1)
        if kind == "open_string":
            raise _error(source, gbnf, token, "Unexpected end of input", at_end=True)
        if kind == "directive":
            imported = re.match(r"%import\s+common\.(\w+)", text)
            if imported and imported.group(1) in _COMMON:
                imports.append(imported.group(1))
            elif not text.startswith("%ignore"):
                raise _error(source, gbnf, token, f"unsupported directive: {text.split()[0]}")
        elif kind == "newline":
            tokens.append(token)
            line, line_start = line + 1, match.end()
        elif kind not in ("space", "comment"):
            tokens.append(token)
        pos = match.end()
    for name in imports:
        tokens += [_Token("newline", "\n", line, 1), _Token("name", name, line, 1), _Token("define", ":", line, 1),
                   _Token("regex", _COMMON[name], line, 1)]
    return tokens


def _rule_end(tokens: list[_Token], i: int, gbnf: bool) -> int:
    """Where a rule's body ends: at the next `name ::=`/`name:` line start, or the end."""
    depth = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "op" and token.text in "([":
            depth += 1
        elif token.kind == "op" and token.text in ")]":
            depth -= 1
        elif (token.kind == "newline" and depth <= 0 and i + 2 < len(tokens)
              and tokens[i + 1].kind == "name" and tokens[i + 2].kind == "define"):
            return i + 1
        i += 1
    return i


class _ExprParser:
    def __init__(self, tokens: list[_Token], source: str, gbnf: bool) -> None:
        self.tokens = [t for t in tokens if t.kind != "newline"]
        self.source = source
        self.gbnf = gbnf
        self.i = 0
        self.last = tokens[-1] if tokens else None

    def parse(self) -> object:
        """The rule body as an expression; every token must belong to it."""
        expr = self._alternation()
        if self.i < len(self.tokens):
            raise _error(self.source, self.gbnf, self.tokens[self.i], f"Unexpected {self.tokens[self.i].text!r}")
        return expr

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _alternation(self) -> object:
        branches = [self._sequence()]
        while (t := self._peek()) is not None and t.text == "|" and t.kind == "op":
            self.i += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else tuple(branches)

    def _sequence(self) -> list[object]:
        items: list[object] = []
        while (t := self._peek()) is not None and not (t.kind == "op" and t.text in "|)]"):
            items.append(self._postfix(self._atom()))
        return items

    def _atom(self) -> object:
        token = self.tokens[self.i]
        self.i += 1
        if token.kind == "name":
            return ("ref", token.text, token)
        if token.kind == "string":
            return _unescape(token.text[1:-1])
        if token.kind == "class":
            return regexgen.parse(token.text)[0]
        if token.kind == "regex":
            body = token.text[1:token.text.rindex("/")]
            try:
                return regexgen.parse(body)
            except regexgen.RegexError as exc:
                raise _error(self.source, self.gbnf, token, f"invalid regex /{body}/: {exc.what}") from None
        if token.kind == "op" and token.text in "([":
            inner = self._alternation()
            closing = ")" if token.text == "(" else "]"
            end = self._peek()
            if end is None or end.text != closing:
                raise _error(self.source, self.gbnf, end or token, f"Expected '{closing}'", at_end=end is None)
            self.i += 1
            return inner if closing == ")" else regexgen.Repeat(inner, 0, 1)
        raise _error(self.source, self.gbnf, token, f"Unexpected {token.text!r}")

    def _postfix(self, atom: object) -> object:
        while (t := self._peek()) is not None:
            if t.kind == "op" and t.text in "*+?":
                self.i += 1
                atom = regexgen.Repeat(atom, *{"*": (0, None), "+": (1, None), "?": (0, 1)}[t.text])
            elif t.kind == "counted":
                self.i += 1
                low, _, high = t.text.strip("{} ").partition(",")
                upper = int(low) if not _ else (int(high) if high.strip() else None)
                atom = regexgen.Repeat(atom, int(low), upper)
            else:
                break
        return atom


def _unescape(text: str) -> str:
    return re.sub(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)", _escaped_char, text)


def _escaped_char(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "xu" and len(code) > 1:
        return chr(int(code[1:], 16))
    return {"n": "\n", "t": "\t", "r": "\r"}.get(code, code)


def _references(rules: dict[str, object], tokens: list[_Token]) -> list[tuple[str, _Token]]:
    found: list[tuple[str, _Token]] = []

    def walk(expr: object) -> None:
        """Collect the rule references inside an expression."""
        if isinstance(expr, tuple) and expr and expr[0] == "ref":
            found.append((expr[1], expr[2]))
        elif isinstance(expr, (list, tuple)):
            for item in expr:
                walk(item)
        elif isinstance(expr, regexgen.Repeat):
            walk(expr.node)

    for expr in rules.values():
        walk(expr)
    return found


def _costs(grammar: Grammar) -> dict[str, float]:
    """The length of each rule's cheapest expansion (infinite for rules that never end)."""
    costs = {name: float("inf") for name in grammar.rules}
    changed = True
    while changed:
        changed = False
        for name, expr in grammar.rules.items():
            cost = _cost(expr, costs)
            if cost < costs[name]:
                costs[name], changed = cost, True
    return costs


def _cost(expr: object, costs: dict[str, float]) -> float:
    if isinstance(expr, str):
        return len(expr)
    if isinstance(expr, regexgen.CharSet):
        return 1
    if isinstance(expr, regexgen.Repeat):
        return expr.low * _cost(expr.node, costs)
    if isinstance(expr, tuple) and expr and expr[0] == "ref":
        return costs[expr[1]]
    if isinstance(expr, tuple):
        return min(_cost(branch, costs) for branch in expr)
    return sum(_cost(item, costs) for item in expr)


def _expand(expr: object, grammar: Grammar, costs: dict[str, float], out: list[str], stack: tuple[str, ...]) -> None:
    """Write one expansion: the first branch that does not recurse into a rule being expanded
    (the cheapest one once deep), optional and repeated parts once (terminals a few times)."""
    if isinstance(expr, str):
        out.append(expr)
    elif isinstance(expr, regexgen.CharSet):
        out.append(expr.pick(len("".join(out))))
    elif isinstance(expr, regexgen.Repeat):
        lexical = isinstance(expr.node, (str, regexgen.CharSet))
        if len(stack) > MAX_DEPTH or _cost(expr.node, costs) == float("inf"):
            wanted = expr.low
        else:
            wanted = expr.low + regexgen.UNBOUNDED_EXTRA if lexical and expr.high is None else max(expr.low, 1)
        for _ in range(wanted if expr.high is None else min(expr.high, wanted)):
            _expand(expr.node, grammar, costs, out, stack)
    elif isinstance(expr, tuple) and expr and expr[0] == "ref":
        _expand(grammar.rules[expr[1]], grammar, costs, out, (*stack, expr[1]))
    elif isinstance(expr, tuple):
        finite = [b for b in expr if _cost(b, costs) < float("inf")] or list(expr)
        fresh = [b for b in finite if not _refers_to(b, stack)]
        cheapest = min(finite, key=lambda b: _cost(b, costs))
        choice = fresh[0] if fresh and len(stack) <= MAX_DEPTH else cheapest
        _expand(choice, grammar, costs, out, stack)
    else:
        for item in expr:
            _expand(item, grammar, costs, out, stack)


def _refers_to(expr: object, names: tuple[str, ...]) -> bool:
    if isinstance(expr, tuple) and expr and expr[0] == "ref":
        return expr[1] in names
    if isinstance(expr, (list, tuple)):
        return any(_refers_to(item, names) for item in expr)
    if isinstance(expr, regexgen.Repeat):
        return _refers_to(expr.node, names)
    return False


def _error(source: str, gbnf: bool, token: _Token | None, what: str, at_end: bool = False) -> GrammarError:
    """vLLM's text for a refused grammar: GBNF problems are reported by the GBNF-to-Lark
    converter, Lark ones with the offending line and a caret."""
    lines = source.split("\n")
    if gbnf:
        if token is None:
            return GrammarError(f"{_GBNF_FAILURE}: {what}")
        text = lines[token.line - 1]
        cut = len(text) if at_end else token.col - 1
        if at_end:
            what = f"{what} at line {token.line}" if what != "Expected end" else what
            return GrammarError(
                "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark: "
                f"{what}, '{text[:cut]}' ^ '{text[cut:]}'"
            )
        return GrammarError(
            "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark: "
            f"{what} at line {token.line}, '{text[:cut]}' ^ '{text[cut:]}'"
        )
    line, col = (token.line, token.col) if token is not None else (1, 1)
    text = lines[line - 1] if line - 1 < len(lines) else ""
    return GrammarError(f"Grammar error: at {line}({col}): {what}\n{line:>4} | {text}\n{' ' * (6 + col)}^")
