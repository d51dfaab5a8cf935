"""The names MCP tools are offered under: valid for every vLLM tool parser, and unique.

The OpenAI format allows `[A-Za-z0-9_-]{1,64}`, but some of vLLM's tool
parsers read a call as Python (`pythonic`, `llama4_pythonic`), where `-` or
a leading digit breaks the call. So a name keeps only letters, digits and
`_` (anything else becomes `_`), never starts with a digit, and has at most
64 characters.

A tool keeps its own (cleaned) name unless that name is taken by a local
tool (built-in, Python, shell) or is offered by more than one server; then
every server's copy gets its server's name in front (`github_search`). The
result depends only on which servers are ready and what they offer, never
on which one answered first, so names stay the same from run to run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

MAX_NAME = 64
"""Longest function name the OpenAI format allows."""

_INVALID = re.compile(r"[^A-Za-z0-9_]+")


def clean_name(raw: str) -> str:
    """`raw` with every run of other characters turned into `_`, not starting with a digit."""
    name = _INVALID.sub("_", raw).strip("_") or "tool"
    if name[0].isdigit():
        name = "t_" + name
    return name


def assign_names(
    local: Iterable[str], servers: Sequence[tuple[str, Sequence[str]]]
) -> dict[tuple[str, str], str]:
    """The offered name of every `(server, tool)` pair.

    `local` are the names of the other tools in the registry; `servers` lists
    each ready server's name with its tools' own names, in config order.
    """
    taken = set(local)
    wanted = {(server, tool): clean_name(tool) for server, tools in servers for tool in tools}
    counts = Counter(wanted.values())
    names: dict[tuple[str, str], str] = {}
    used = set(taken)
    for (server, tool), base in wanted.items():
        if base in taken or counts[base] > 1:
            base = f"{clean_name(server)}_{base}"
        name = _fit(base)
        n = 2
        while name in used:  # e.g. two tools that differ only in characters cleaned away
            suffix = f"_{n}"
            name = _fit(base, len(suffix)) + suffix
            n += 1
        used.add(name)
        names[(server, tool)] = name
    return names


def _fit(name: str, room: int = 0) -> str:
    """`name` cut to fit in MAX_NAME characters with `room` to spare."""
    return name[: MAX_NAME - room]
