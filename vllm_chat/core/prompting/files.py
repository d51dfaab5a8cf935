"""The files a `@` mention can name: every file under the start folder that git would
track, found once and matched fuzzily as the user types.

Listing follows `.gitignore` files (the root's and every folder's, with git's
own rules through `pathspec`) and `.git/info/exclude`, skips hidden files and
folders unless asked, and stops after `MAX_FILES` so a start folder such as
`$HOME` can't stall anything. Matching is a subsequence match scored like the
pickers people know (consecutive characters, word starts and the file name
count most).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pathspec import GitIgnoreSpec

Rules = list[tuple[str, "GitIgnoreSpec"]]
"""The ignore files in force, each with the folder (a `/`-ended prefix) it applies under."""

MAX_FILES = 20_000
"""Most files one listing collects (a note says when the folder had more)."""

_ALWAYS_SKIPPED = frozenset({".git", "__pycache__", "node_modules", ".venv", "venv", ".mypy_cache",
                             ".pytest_cache", ".ruff_cache", ".tox"})


@dataclass(frozen=True)
class FileList:
    """The files found under a folder."""

    root: Path
    """The folder listed (resolved)."""
    paths: tuple[str, ...]
    """Files relative to `root`, `/`-separated, in walk order."""
    truncated: bool = False
    """The folder holds more than `MAX_FILES` files; only the first ones are listed."""


def _ignore_spec(folder: Path, prefix: str) -> tuple[str, GitIgnoreSpec] | None:
    """The rules of `folder`'s `.gitignore`, anchored at `prefix` (None when there are none)."""
    import pathspec

    lines: list[str] = []
    for name in (".gitignore", ".git/info/exclude") if not prefix else (".gitignore",):
        try:
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines.extend(text.splitlines())
    if not lines:
        return None
    return (prefix, pathspec.GitIgnoreSpec.from_lines(lines))


def _ignored(rules: Rules, relative: str, is_dir: bool) -> bool:
    path = relative + "/" if is_dir else relative
    ignored = False
    for prefix, spec in rules:
        if not path.startswith(prefix):
            continue
        result = spec.check_file(path[len(prefix):])
        if result.include is not None:
            ignored = bool(result.include)
    return ignored


def list_files(root: Path, *, hidden: bool = False, limit: int = MAX_FILES) -> FileList:
    """The files under `root` a mention may name (git's ignore rules; hidden ones only if
    `hidden`), at most `limit`. Symlinks are listed but never followed into folders."""
    root = Path(root).resolve()
    found: list[str] = []
    stack: list[tuple[Path, str, Rules]] = [(root, "", [])]
    while stack:
        folder, prefix, rules = stack.pop()
        spec = _ignore_spec(folder, prefix)
        if spec is not None:
            rules = [*rules, spec]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for entry in entries:
            name = entry.name
            if (name.startswith(".") and not hidden) or name in _ALWAYS_SKIPPED:
                continue
            relative = prefix + name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if _ignored(rules, relative, is_dir):
                continue
            if is_dir:
                folders.append((Path(entry.path), relative + "/", rules))
            else:
                found.append(relative)
                if len(found) >= limit:
                    return FileList(root, tuple(found), truncated=True)
        stack.extend(reversed(folders))
    return FileList(root, tuple(found))


def _score(query: str, path: str) -> float | None:
    """How well `query` matches `path` as a subsequence (higher is better), or None."""
    lowered = path.lower()
    name_start = lowered.rfind("/") + 1
    score = 0.0
    position = -1
    previous = -2
    for char in query.lower():
        position = lowered.find(char, position + 1)
        if position < 0:
            return None
        if position == previous + 1:
            score += 3  # consecutive
        if position == 0 or lowered[position - 1] in "/_-. ":
            score += 2  # a word start
        if position >= name_start:
            score += 1  # in the file name rather than the folders
        previous = position
    return score - len(path) * 0.01  # shorter paths first among equals


def match_files(files: FileList, query: str, limit: int = 50) -> list[str]:
    """The paths of `files` that match `query` best, best first (all, in order, for '')."""
    if not query:
        return list(files.paths[:limit])
    scored = [(score, path) for path in files.paths if (score := _score(query, path)) is not None]
    scored.sort(key=lambda pair: -pair[0])
    return [path for _, path in scored[:limit]]
