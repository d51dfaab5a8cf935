"""The `calculator` built-in: arithmetic without `eval`.

The expression is parsed with `ast` and walked over a whitelist (numbers,
+ - * / // % **, unary signs, parentheses, a few math functions and
constants); anything else, such as names, attribute access, calls of other
functions or comprehensions, is refused with a message saying what is allowed.
Sizes are bounded before they are computed, so `9**9**9` is refused at once
instead of hanging the app.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any, cast

from vllm_chat.core.tools.base import Tool, ToolError

Number = int | float

MAX_EXPRESSION_CHARS = 1000
"""Longest expression accepted."""
MAX_RESULT_DIGITS = 1000
"""Integers (final or intermediate) may have at most this many digits."""

_INT_LIMIT = 10**MAX_RESULT_DIGITS

_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "sqrt": (math.sqrt, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "exp": (math.exp, 1, 1),
    "abs": (abs, 1, 1),
    "round": (round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}

_ALLOWED = (
    "numbers, + - * / // % ** (power), parentheses, "
    f"the functions {', '.join(_FUNCTIONS)} and the constants {', '.join(_CONSTANTS)}"
)

_FORBIDDEN_WORDS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Lambda: "lambdas",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignments",
}


class Calculator(Tool):
    """Evaluates arithmetic expressions safely."""

    name = "calculator"
    description = (
        "Evaluate an arithmetic expression and return its exact value. Use it for any arithmetic "
        "instead of calculating in your head. Supports numbers, + - * / // (floor division) "
        "% (remainder) ** (power), parentheses, sqrt, sin, cos, tan, asin, acos, atan (radians), "
        "log(x) (natural) or log(x, base), log10, log2, exp, abs, round(x) or round(x, digits), "
        "floor, ceil, and the constants pi, e and tau."
    )
    parameters = {
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": 'The expression in Python syntax, e.g. "(3.5 + 2) * sqrt(16) / 7" or "2**10".',
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> str:
        """`<expression> = <value>`."""
        expression = " ".join(arguments["expression"].split())
        return f"{expression} = {format_number(evaluate(expression))}"


def format_number(value: Number) -> str:
    """A result as a calculator shows it: integers whole, floats to 15 significant digits."""
    if isinstance(value, int):
        return str(value)
    return format(value, ".15g")


def _short(value: Number) -> str:
    """A number for a message: long ones shortened, with their length."""
    text = format_number(value)
    return text if len(text) <= 30 else f"{text[:12]}... ({len(text)} digits)"


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression, or `ToolError` saying what is wrong with it."""
    text = expression.strip()
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"cannot parse the expression: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ToolError("cannot parse the expression") from None
    try:
        return _Evaluator(text).visit(tree.body)
    except RecursionError:
        raise ToolError("the expression is nested too deeply") from None


class _Evaluator:
    """Walks the parsed expression, computing only what the whitelist allows."""

    def __init__(self, source: str) -> None:
        self.source = source

    def visit(self, node: ast.AST) -> Number:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            negative = False
            while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
                negative ^= isinstance(node.op, ast.USub)
                node = node.operand
            value = self.visit(node)
            return _checked(-value if negative else value)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            raise ToolError(f"unknown name {node.id!r}; allowed are {_ALLOWED}")
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ToolError(self._refusal(node))

    def _refusal(self, node: ast.AST) -> str:
        snippet = ast.get_source_segment(self.source, node) or type(node).__name__
        what = _FORBIDDEN_WORDS.get(type(node), "this operator" if isinstance(node, ast.BinOp) else None)
        shown = f"{what} ({snippet!r})" if what else repr(snippet)
        return f"not allowed: {shown}; allowed are {_ALLOWED}"

    def _constant(self, node: ast.Constant) -> Number:
        if type(node.value) in (int, float):
            return _checked(cast(Number, node.value))
        snippet = ast.get_source_segment(self.source, node) or repr(node.value)
        raise ToolError(f"{snippet} is not a number; allowed are {_ALLOWED}")

    def _binary(self, node: ast.BinOp) -> Number:
        if isinstance(node.op, ast.Pow):
            return self._apply(node, self.visit(node.left), self.visit(node.right))
        # Long sums like 1+2+...+300 nest to the left; walking that chain in a
        # loop keeps them from hitting the recursion limit.
        chain: list[ast.BinOp] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp) and not isinstance(left.op, ast.Pow):
            chain.append(left)
            left = left.left
        value = self.visit(left)
        for step in reversed(chain):
            value = self._apply(step, value, self.visit(step.right))
        return value

    def _apply(self, node: ast.BinOp, left: Number, right: Number) -> Number:
        if isinstance(node.op, ast.BitXor):
            raise ToolError("'^' is not allowed; write powers with ** (e.g. 2**10)")
        if not isinstance(node.op, (ast.Pow, *_BINARY)):
            raise ToolError(self._refusal(node))
        try:
            if isinstance(node.op, ast.Pow):
                return _power(left, right)
            return _checked(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ToolError("division by zero") from None
        except OverflowError:
            raise ToolError("the result is too large") from None

    def _call(self, node: ast.Call) -> Number:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            name: str | None
            if isinstance(node.func, ast.Name):
                name = node.func.id
            else:
                name = ast.get_source_segment(self.source, node.func)
            raise ToolError(f"unknown function {name!r}; allowed are {_ALLOWED}")
        name = node.func.id
        function, fewest, most = _FUNCTIONS[name]
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ToolError(f"{name}() takes plain arguments only")
        if not fewest <= len(node.args) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} or {most}"
            plural = "s" if most > 1 else ""
            raise ToolError(f"{name}() takes {wanted} argument{plural}, got {len(node.args)}")
        args = [self.visit(a) for a in node.args]
        if name == "round" and len(args) == 2 and not (isinstance(args[1], int) and abs(args[1]) <= 400):
            raise ToolError("round(x, digits) needs a whole number of digits between -400 and 400")
        shown = f"{name}({', '.join(map(_short, args))})"
        try:
            return _checked(function(*args))
        except ZeroDivisionError:
            raise ToolError(f"{shown}: division by zero") from None
        except OverflowError:
            raise ToolError(f"{shown}: the result is too large") from None
        except ValueError:
            raise ToolError(f"{shown} is undefined (outside the function's domain)") from None


def _power(base: Number, exponent: Number) -> Number:
    """`base ** exponent`, refused before computing when the result would be huge."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if exponent.bit_length() > 32 or exponent * math.log10(abs(base)) > MAX_RESULT_DIGITS:
            raise ToolError(
                f"{_short(base)} ** {_short(exponent)} is too large "
                f"(results may have at most {MAX_RESULT_DIGITS} digits)"
            )
    result = base**exponent
    if isinstance(result, complex):
        raise ToolError("the result is not a real number (a negative number to a fractional power)")
    return _checked(result)


def _checked(value: Number) -> Number:
    """`value` if it is a finite number within the digit limit, else `ToolError`."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is too large" if not math.isnan(value) else "the result is not a number")
    if isinstance(value, int) and abs(value) >= _INT_LIMIT:
        raise ToolError(f"the result is too large (results may have at most {MAX_RESULT_DIGITS} digits)")
    return value
