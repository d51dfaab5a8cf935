"""User tools backed by Python functions (`[[tools.python]]`).

The function is imported by path (`package.module:function`). Its JSON schema
comes from the signature through a pydantic model (type hints, defaults,
`Annotated[..., Field(...)]`), with parameter descriptions taken from a
Google-style `Args:` section of the docstring. The same model validates the
arguments, so `"3"` for an `int` is accepted as pydantic accepts it and errors
name the field. Sync functions run in a worker thread so they never block the
UI; when one runs past its timeout it is abandoned (a thread can't be killed).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
import typing
import warnings
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import to_jsonable_python

from vllm_chat.core.config import PythonTool
from vllm_chat.core.tools.base import InvalidArguments, Tool, ToolConfigError, ToolError
from vllm_chat.core.tools.schema import show

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Returns?|Yields?|Raises|Examples?|Notes?"
    r"|Attributes|See Also):\s*$"
)
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (text before the first section) and the `Args:` entries of a Google-style docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    indent: int | None = None
    for line in lines:
        match = _SECTION.match(line.strip()) if not line[:1].isspace() else None
        if match:
            section = match.group(1)
            current, indent = None, None
            continue
        if section is None:
            summary.append(line)
            continue
        if section not in ("Args", "Arguments", "Parameters", "Params", "Keyword Args") or not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        entry = _ARG_LINE.match(line.strip())
        if entry and (indent is None or depth <= indent):
            indent = depth
            current = entry.group(1)
            args[current] = entry.group(2).strip()
        elif current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
    return "\n".join(summary).strip(), args


def import_callable(path: str) -> Callable[..., Any]:
    """The object named by `package.module:attr` (attr may be dotted), or `ToolConfigError`."""
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top_level_missing = exc.name == module_name.split(".")[0]
        hint = " (is it installed, or its folder on PYTHONPATH?)" if top_level_missing else ""
        raise ToolConfigError("function", f"cannot import {module_name!r}: {exc}{hint}") from None
    except (Exception, SystemExit) as exc:
        detail = str(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}"
        raise ToolConfigError("function", f"cannot import {module_name!r}: {detail}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ToolConfigError("function", f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise ToolConfigError("function", f"{path!r} is not callable")
    func: Callable[..., Any] = obj
    return func


def _strip_titles(schema: Any) -> Any:
    """The schema without pydantic's `title` keys, which only add tokens for the model."""
    if isinstance(schema, list):
        return [_strip_titles(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: _strip_titles(sub) for name, sub in value.items()}
        elif key in ("default", "enum", "const", "examples"):
            out[key] = value  # data, not schema: a "title" key in there is meant
        else:
            out[key] = _strip_titles(value)
    return out


class PythonFunctionTool(Tool):
    """A tool that calls a Python function with arguments checked by pydantic."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.func = func
        """The function that is called."""
        own_name: str = getattr(func, "__name__", "")
        self.name = name or own_name
        if not self.name:
            raise ToolConfigError("name", "the function has no __name__; set `name`")
        summary, arg_docs = parse_docstring(inspect.getdoc(func))
        self.description = description if description is not None else summary
        self.confirm = confirm
        self.timeout = timeout
        self._signature = inspect.signature(func)
        self.model = self._build_model(arg_docs)
        """The pydantic model of the arguments (extra keys forbidden)."""
        try:
            self.parameters = _strip_titles(self.model.model_json_schema())
        except Exception as exc:
            raise ToolConfigError(
                "function", f"cannot describe the parameters as JSON schema: {exc}"
            ) from None

    def _build_model(self, arg_docs: dict[str, str]) -> type[BaseModel]:
        try:
            hints = typing.get_type_hints(self.func, include_extras=True)
        except Exception:
            hints = getattr(self.func, "__annotations__", {})  # unresolvable forward refs: best effort
        fields: dict[str, Any] = {}
        for param in self._signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            description = arg_docs.get(param.name)
            fields[param.name] = (
                annotation,
                Field(default, description=description) if description else default,
            )
        try:
            with warnings.catch_warnings():
                # Parameter names like `json` shadow BaseModel attributes: harmless here.
                warnings.simplefilter("ignore")
                return create_model(
                    f"{self.name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
                )
        except Exception as exc:
            raise ToolConfigError(
                "function", f"cannot build a schema from the signature of {self.name}: {exc}"
            ) from None

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments converted by pydantic (only those given, so the function's defaults apply)."""
        try:
            instance = self.model.model_validate(arguments)
        except ValidationError as exc:
            raise InvalidArguments([self._problem(e) for e in exc.errors(include_url=False)]) from None
        values = vars(instance)
        return {name: values[name] for name in instance.model_fields_set}

    def _problem(self, error: Any) -> str:
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "missing":
            return f"missing required property '{where}'"
        if error["type"] == "extra_forbidden":
            if len(error["loc"]) > 1:
                return f"unknown property '{where}'"
            allowed = ", ".join(self.model.model_fields) or "none"
            return f"unknown property '{where}' (allowed: {allowed})"
        return f"'{where}': {error['msg']} (got {show(error['input'])})"

    async def run(self, arguments: dict[str, Any]) -> str:
        """Call the function (sync ones in a thread) and turn the result into text."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._signature.parameters.values():
            if param.kind is param.POSITIONAL_ONLY:
                args.append(arguments.get(param.name, param.default))
            elif param.name in arguments:
                kwargs[param.name] = arguments[param.name]
        try:
            if inspect.iscoroutinefunction(self.func):
                result = await self.func(*args, **kwargs)
            else:
                result = await asyncio.to_thread(self.func, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except SystemExit as exc:
            # Left alone, SystemExit would travel up through the event loop and end the app.
            raise ToolError(f"{self.name} tried to exit the program (SystemExit: {exc.code})") from None
        return result_text(result)


def result_text(value: Any) -> str:
    """A return value as tool output: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def load_python_tool(entry: PythonTool) -> PythonFunctionTool:
    """The tool for one `[[tools.python]]` entry, or `ToolConfigError` naming the bad key."""
    if entry.timeout is not None and entry.timeout <= 0:
        raise ToolConfigError("timeout", "must be more than 0 seconds")
    func = import_callable(entry.function)
    try:
        inspect.signature(func)
    except (TypeError, ValueError):
        raise ToolConfigError("function", f"cannot read the signature of {entry.function!r}") from None
    return PythonFunctionTool(
        func,
        name=entry.name,
        description=entry.description,
        confirm=entry.confirm,
        timeout=entry.timeout,
    )
