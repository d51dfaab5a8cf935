"""How a config problem is worded: the file, flag or variable it came from, the key,
what is wrong, the value (cut short: a file can hold a megabyte string or a value
nested thousands deep), and for an unknown key the key probably meant.

Split from `config.py`, which validates; this module only words what it found.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails


def _known_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key the config file can hold, as its path of table names (for suggestions)."""
    keys: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        keys.append((*prefix, name))
        if get_origin(field.annotation) is dict:
            continue  # tables the user names ([prompts.NAME]): their keys are no suggestions
        for arg in (field.annotation, *get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                keys += _known_keys(arg, (*prefix, name))
    return keys


def _suggestion(loc: tuple[Any, ...], root: type[BaseModel]) -> str | None:
    """The key that was probably meant by the unknown key at `loc`: its close match at
    the same level, else in another table (named with its table: `[sampling] temperature`)."""
    where, typo = tuple(str(p) for p in loc[:-1] if not isinstance(p, int)), str(loc[-1])
    known = _known_keys(root)
    for same_level in (True, False):
        names = {k[-1]: k for k in known if (k[:-1] == where) == same_level}
        close = get_close_matches(typo, sorted(names), n=1, cutoff=0.75)
        if not close:
            continue
        table = names[close[0]][:-1]
        if same_level:
            return repr(close[0])
        return f"{close[0]!r} in the [{'.'.join(table)}] table" if table else f"{close[0]!r} at the top level"
    return None


def _describe(error: ErrorDetails, root: type[BaseModel]) -> tuple[str, str]:
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        close = _suggestion(tuple(error["loc"]), root)
        hint = f"did you mean {close}?" if close else "check the spelling against config.example.toml"
        return key, f"unknown key ({hint})"
    return key, error["msg"]


def _shown(value: Any, limit: int = 120) -> str:
    """A bad value quoted in a message, cut short (a file can hold a megabyte string)."""
    try:
        text = repr(value)
    except RecursionError:
        return "a value nested too deeply to show"
    return text if len(text) <= limit else text[:limit] + "…"


def format_errors(where: str, exc: ValidationError, root: type[BaseModel], prefix: str = "") -> str:
    """One line per problem of `exc` (validating `root`, the settings model): where, key, what
    is wrong, the value cut short."""
    lines = []
    for err in exc.errors():
        key, problem = _describe(err, root)
        key = f"{prefix}{key}" if key else prefix.rstrip(".")
        shown = "" if err["type"] in ("extra_forbidden", "missing") else f" (got {_shown(err.get('input'))})"
        lines.append(f"{where}: {key}: {problem}{shown}")
    return "\n".join(lines)


def explain_runtime_errors(
    exc: ValidationError, root: type[BaseModel], cli: dict[str, Any], environ: dict[str, str],
    openai_env: dict[str, Any],
) -> str:
    """Name the flag or variable a bad value came from (the file was checked already)."""
    lines = []
    for err in exc.errors():
        key, problem = _describe(err, root)
        env_name = "VLLM_CHAT_" + "__".join(str(p) for p in err["loc"]).upper()
        if _lookup(cli, err["loc"]) is not None:
            where = f"Command-line option for {key}"
        elif env_name in environ:
            where = f"Environment variable {env_name}"
        elif err["loc"] and err["loc"][0] in openai_env:
            where = f"Environment variable OPENAI_{str(err['loc'][0]).upper()}"
        else:
            where = "Setting"
        lines.append(f"{where}: {key}: {problem} (got {_shown(err.get('input'))})")
    return "\n".join(lines)


def _lookup(data: dict[str, Any], loc: tuple[Any, ...]) -> Any:
    cur: Any = data
    for part in loc:
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur
