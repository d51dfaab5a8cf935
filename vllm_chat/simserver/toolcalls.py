"""Which tool the simulated model calls, and with what arguments.

The prompt is split into clauses ("weather in Paris *and* the time"); each
clause is matched against the offered tools by intent (time, arithmetic,
weather, files, folders, search) and by words shared with the tool's name and
description. Arguments are built from the tool's JSON schema, filled with what
the clause says (a city, an expression, a path, a number) or plausible values.
Parts joined by "then" ("what is 6*7, *then* what time is it") are a chain:
one round of calls per part (`chain_steps`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_INTENTS: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "time": (
        re.compile(r"\b(time|date|clock|today|tonight|now|day|hour|minute|timezone|year|month|weekday)\b", re.I),
        ("time", "date", "clock", "datetime", "now", "today"),
    ),
    "math": (
        re.compile(
            r"\d\s*[-+*/x×÷^%]\s*\(?\d|\b(calculate|compute|sum|multiply|divide|plus|minus|times|sqrt|math)\b", re.I
        ),
        ("calc", "calculator", "math", "expression", "evaluate", "arithmetic", "compute"),
    ),
    "weather": (
        re.compile(r"\b(weather|temperature|forecast|rain|raining|sunny|wind|humid|snow|cold|hot)\b", re.I),
        ("weather", "forecast", "temperature"),
    ),
    "read": (
        re.compile(r"\b(read|open|cat|contents?|show me)\b.*\b(file|[\w-]+\.\w{1,5})\b|\bfile\b", re.I),
        ("read", "file", "contents", "cat"),
    ),
    "list": (
        re.compile(r"\b(list|ls|director(y|ies)|folders?|dir)\b|\bfiles in\b", re.I),
        ("list", "directory", "folder", "dir", "ls"),
    ),
    "search": (
        re.compile(r"\b(search|find|look up|lookup|docs|documentation)\b", re.I),
        ("search", "find", "query", "lookup", "docs"),
    ),
}
_STOPWORDS = frozenset(
    "the a an is are what whats how who for and with from into this that there please tell me give "
    "you your get can could would should will of to in on at by it its my".split()
)
_THEN_RE = re.compile(r"\s*,?\s*\b(?:and\s+)?then\b,?\s*", re.IGNORECASE)
_SPLIT_RE = re.compile(r"\s*(?:\band\b|\balso\b|\bthen\b|;|\?\s+|\.\s+)\s*", re.I)
_PLACE_RE = re.compile(r"\b(?:in|for|at|of)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_BARE_PLACE_RE = re.compile(r"^\s*([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)\s*[?.!]*\s*$")
_EXPR_RE = re.compile(r"[-+]?\(?\s*\d[\d.\s]*(?:[-+*/x×÷^%]\s*\(?\s*[\d.]+\s*\)?\s*)+")
_PATH_RE = re.compile(r"(?:~|\.{1,2})?/[\w./~-]*|[\w~-][\w./~-]*\.\w{1,6}\b")
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_WORD_OPS = (
    (r"\bplus\b", "+"),
    (r"\bminus\b", "-"),
    (r"\btimes\b", "*"),
    (r"\bmultiplied by\b", "*"),
    (r"\bdivided by\b", "/"),
)


@dataclass(frozen=True)
class Call:
    """One tool call the simulated model makes."""

    name: str
    """The function name."""
    arguments: str
    """The arguments as a JSON object string (`{"city": "Paris"}`)."""
    why: str
    """Why this tool, for the reasoning preamble: `matched` (the clause asks for it),
    `named` (tool_choice names it) or `required` (a call is required and nothing matched)."""
    clause: str
    """The part of the prompt the call answers."""


def function_of(tool: Any) -> dict[str, Any]:
    """The `function` object of a tool definition (empty if malformed)."""
    if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
        return tool["function"]
    return {}


def tool_names(tools: list[Any]) -> list[str]:
    """The function names of the offered tools, in order."""
    return [str(function_of(t).get("name")) for t in tools if function_of(t).get("name")]


def intents_of(text: str) -> list[str]:
    """The intents a piece of text expresses, strongest first."""
    return [name for name, (pattern, _) in _INTENTS.items() if pattern.search(text)]


def plan_calls(prompt: str, tools: list[Any], mode: str, named: str | None, parallel: bool) -> list[Call]:
    """The calls for a prompt. `mode` is `auto` or `required`; `named` forces one tool."""
    if named:
        tool = next(t for t in tools if function_of(t).get("name") == named)
        return [_call(tool, prompt, "named")]
    calls: list[Call] = []
    previous = None
    for clause in [c for c in _SPLIT_RE.split(prompt) if c and c.strip()]:
        tool, score = _best_tool(clause, tools)
        if tool is not None and score > 0:
            calls.append(_call(tool, clause, "matched"))
            previous = tool
        elif previous is not None and _gives_specific_value(previous, clause):
            # "weather in Paris and in London": the second clause reuses the first tool.
            calls.append(_call(previous, clause, "matched"))
    if not calls and mode == "required" and tools:
        calls.append(_call(tools[0], prompt, "required"))
    if not parallel:
        calls = calls[:1]
    return calls[:4]


def chain_steps(prompt: str, tools: list[Any], parallel: bool) -> list[list[Call]]:
    """The rounds of a chained prompt ("X, then Y"): the calls each part asks for, in
    order. Empty unless at least two parts ask for a tool (then it is one round)."""
    parts = [p for p in _THEN_RE.split(prompt) if p.strip()]
    if len(parts) < 2:
        return []
    steps = [s for s in (plan_calls(p, tools, "auto", None, parallel) for p in parts) if s]
    return steps if len(steps) > 1 else []


def _best_tool(clause: str, tools: list[Any]) -> tuple[Any, int]:
    intents = intents_of(clause)
    words = {w for w in re.findall(r"[a-z]{3,}", clause.lower()) if w not in _STOPWORDS}
    best, best_score = None, 0
    for tool in tools:
        function = function_of(tool)
        name = str(function.get("name", ""))
        text = f"{name} {function.get('description', '')}".lower().replace("_", " ")
        tool_words = set(re.findall(r"[a-z]{3,}", text))
        score = sum(3 for intent in intents if any(k in text for k in _INTENTS[intent][1]))
        score += len(words & tool_words)
        if score > best_score:
            best, best_score = tool, score
    return best, best_score


def _gives_specific_value(tool: Any, clause: str) -> bool:
    schema = function_of(tool).get("parameters")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return False
    return any(
        _specific_value(name, prop if isinstance(prop, dict) else {}, clause) is not None
        for name, prop in properties.items()
    )


def _call(tool: Any, clause: str, why: str) -> Call:
    function = function_of(tool)
    schema = function.get("parameters") if isinstance(function.get("parameters"), dict) else {}
    args = build_object(schema, clause)
    return Call(str(function.get("name")), json.dumps(args, ensure_ascii=False), why, clause.strip())


def build_object(schema: dict[str, Any], clause: str) -> dict[str, Any]:
    """An object for a JSON schema: required properties always, optional ones when the clause
    gives a specific value for them."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    result: dict[str, Any] = {}
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        specific = _specific_value(name, prop, clause)
        if specific is not None:
            result[name] = specific
        elif name in required:
            result[name] = _generic_value(name, prop, clause)
    return result


def _first_schema(prop: dict[str, Any]) -> dict[str, Any]:
    for key in ("anyOf", "oneOf"):
        options = prop.get(key)
        if isinstance(options, list):
            for option in options:
                if isinstance(option, dict) and option.get("type") != "null":
                    return option
    return prop


def _schema_type(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind if isinstance(kind, str) else "string"


def _specific_value(name: str, prop: dict[str, Any], clause: str) -> Any:
    """A value the clause itself provides, or None."""
    prop = _first_schema(prop)
    key = name.lower()
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        mentioned = [v for v in enum if isinstance(v, str) and re.search(rf"\b{re.escape(v)}\b", clause, re.I)]
        return mentioned[0] if mentioned else None
    kind = _schema_type(prop)
    if kind == "string":
        if re.search(r"city|location|place|town|country|where", key):
            match = _PLACE_RE.search(clause) or _BARE_PLACE_RE.search(clause)
            return match.group(1) if match else None
        if re.search(r"expr|formula|equation|calculation", key):
            return arithmetic_expression(clause)
        if re.search(r"path|file|dir|folder", key):
            match = _PATH_RE.search(clause)
            return match.group(0) if match else None
        if re.search(r"timezone|^tz$", key):
            match = re.search(r"\b(UTC|GMT|[A-Z][a-z]+/[A-Z][\w]+)\b", clause)
            return match.group(1) if match else None
    if kind in ("integer", "number"):
        match = _NUMBER_RE.search(clause)
        if match and not arithmetic_expression(clause):
            return int(float(match.group(0))) if kind == "integer" else float(match.group(0))
    return None


def _generic_value(name: str, prop: dict[str, Any], clause: str) -> Any:
    """A plausible value when the clause says nothing specific."""
    prop = _first_schema(prop)
    key = name.lower()
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = _schema_type(prop)
    if kind == "integer":
        return 3 if re.search(r"limit|count|max|num|top|size", key) else 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        return [_generic_value(name, items, clause)]
    if kind == "object":
        return build_object(prop, clause)
    if re.search(r"city|location|place|town|where", key):
        return "Paris"
    if re.search(r"country", key):
        return "France"
    if re.search(r"expr|formula|equation|calculation", key):
        return arithmetic_expression(clause) or "1+1"
    if re.search(r"dir|folder", key):
        return "."
    if re.search(r"path|file", key):
        return "README.md"
    if re.search(r"timezone|^tz$", key):
        return "UTC"
    if re.search(r"format", key):
        return "%Y-%m-%d %H:%M:%S"
    if re.search(r"url|link", key):
        return "https://docs.vllm.ai"
    return _topic(clause)


def _topic(clause: str) -> str:
    filler = r"^\s*(please\s+)?(search( for)?|find|look up|tell me about|what is|what's)\s+"
    text = re.sub(filler, "", clause, flags=re.I)
    return text.strip(" ?.!") or "example"


def arithmetic_expression(text: str) -> str | None:
    """The arithmetic in a sentence, e.g. `17*23` from "what is 17*23?"; words like
    "plus" become operators and `x`/`×`/`÷` become `*` and `/`."""
    for pattern, op in _WORD_OPS:
        text = re.sub(pattern, op, text, flags=re.I)
    match = _EXPR_RE.search(text)
    if not match:
        return None
    expr = match.group(0).strip()
    if not re.search(r"\d\s*[-+*/x×÷^%]", expr):
        return None
    return expr.replace("×", "*").replace("÷", "/").replace("x", "*")


def evaluate(expression: str) -> str | None:
    """The value of a small arithmetic expression (numbers, + - * / // % **, parentheses),
    or None if it is anything else, divides by zero or grows absurdly large."""
    import ast
    import operator

    ops = {
        ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
        ast.USub: operator.neg, ast.UAdd: operator.pos,
    }

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise ValueError("exponent too large")
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in ops:
            return ops[type(node.op)](walk(node.operand))
        raise ValueError("not arithmetic")

    try:
        value = walk(ast.parse(expression.replace("^", "**"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:g}" if isinstance(value, float) else str(value)
