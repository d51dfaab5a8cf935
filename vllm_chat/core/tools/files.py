"""The file built-ins, `read_file` and `list_directory`: read-only, and only inside the root.

The root is the folder the app was started in. Every path is resolved (`..`
and symlinks included) before use, and refused unless it lands inside the
root, so a link that points outside leads nowhere. Nothing here opens a file
for writing. Disk work runs in a thread so a slow disk never freezes the UI.

Some reads need the user's approval although the tools don't (`sensitivity`):
a file that looks like a secret (`secrets.py`: keys, `.env`, credential
stores, a git config with a token, `tools.secret_files`), and every read at
all when the root is the home folder or `/`, which hold far more than a
project. The approval prompt names the file and the reason.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from vllm_chat.core.tools.base import Tool, ToolError
from vllm_chat.core.tools.secrets import SNIFF_BYTES, is_broad_root, secret_reason

MAX_READ_BYTES = 96 * 1024
"""Most bytes of a file one `read_file` call returns; `offset` reads on from there.

Kept under the registry's `MAX_OUTPUT_CHARS`, so the registry never has to cut
the middle out of a file (and with it the note saying where to continue)."""
MAX_LIST_ENTRIES = 500
"""Most entries one `list_directory` call shows."""

_SNIFF_BYTES = 8192


class RootedTool(Tool):
    """A tool that works on paths inside one folder."""

    def __init__(self, root: Path, *, secret_files: tuple[str, ...] = ()) -> None:
        self.root = Path(root).resolve()
        """The folder every path is relative to and confined to."""
        self.secret_files = tuple(secret_files)
        """Extra file patterns that need approval to read (`tools.secret_files`)."""
        self.ask_every_read = is_broad_root(self.root)
        """True when the root is the home folder or `/`: then every call needs approval."""

    def sensitivity(self, arguments: dict[str, Any]) -> str | None:
        """Why this call needs the user's approval (naming the path), or None."""
        path = str(arguments.get("path", "."))
        try:
            target = self.resolve(path)
        except ToolError:
            return None  # it will fail without reading anything
        name = self.shown(target)
        reason = self._secret(target, name)
        if reason:
            return f"{self.verb} '{name}', which looks like a secret: {reason}."
        if self.ask_every_read:
            return (f"{self.verb} '{name}' in {self.root}, a folder as wide as your home folder or more, "
                    "so every read is asked first.")
        return None

    verb = "Reads"

    def _secret(self, target: Path, name: str) -> str | None:
        if not target.is_file() or name == ".":
            return None
        try:
            with open(target, "rb") as f:
                head = f.read(SNIFF_BYTES)
        except OSError:
            head = b""
        return secret_reason(name, head, self.secret_files)

    def resolve(self, path: str) -> Path:
        """The real location of `path` (relative to the root), or `ToolError` if it is outside."""
        if "\x00" in path:
            raise ToolError("the path contains a NUL character")
        raw = path.strip() or "."
        try:
            target = (self.root / raw).resolve()
        except (OSError, RuntimeError) as exc:
            raise ToolError(f"cannot resolve {path!r}: {exc}") from None
        if target != self.root and not target.is_relative_to(self.root):
            raise ToolError(
                f"{path!r} is outside the folder vllm-chat was started in ({self.root}); "
                "only paths inside it can be used"
            )
        return target

    def shown(self, target: Path) -> str:
        """`target` as a path relative to the root, for messages."""
        relative = target.relative_to(self.root).as_posix()
        return relative if relative != "." else "."


class ReadFileTool(RootedTool):
    """Reads a UTF-8 text file inside the root."""

    name = "read_file"
    verb = "Reads"
    description = (
        "Read a UTF-8 text file inside the folder vllm-chat was started in (read-only). "
        f"Returns the file's text; at most {MAX_READ_BYTES // 1024} KB per call, so for long files "
        "use `offset` and `max_lines` to read a part, and the note at the end tells the offset to "
        "continue from. Binary files are refused."
    )
    parameters = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Path of the file, relative to the start folder (e.g. \"src/app.py\").",
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "Line number to start at (1 = the first line). Default 1.",
            },
            "max_lines": {
                "type": "integer",
                "minimum": 1,
                "description": "Most lines to return. Default: as many as fit in the size limit.",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> str:
        """The text, followed by a note when only part of the file was read."""
        return await asyncio.to_thread(
            self._read, arguments["path"], int(arguments.get("offset", 1)), arguments.get("max_lines")
        )

    def _read(self, path: str, offset: int, max_lines: int | None) -> str:
        target = self.resolve(path)
        name = self.shown(target)
        info = _stat(target, name, "file")
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"'{name}' is a folder; use list_directory to see what it holds")
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"'{name}' is not a regular file")
        try:
            with open(target, "rb") as f:
                if b"\x00" in f.read(_SNIFF_BYTES):
                    raise ToolError(
                        f"'{name}' is a binary file ({info.st_size} bytes); read_file only reads text"
                    )
                f.seek(0)
                return _read_lines(f, name, offset, None if max_lines is None else int(max_lines))
        except PermissionError:
            raise ToolError(f"cannot read '{name}': permission denied") from None
        except OSError as exc:
            raise ToolError(f"cannot read '{name}': {exc.strerror or exc}") from None


def _stat(target: Path, name: str, kind: str) -> os.stat_result:
    try:
        return target.stat()
    except FileNotFoundError:
        raise ToolError(f"there is no {kind} '{name}' (paths are relative to the start folder)") from None
    except PermissionError:
        raise ToolError(f"cannot open '{name}': permission denied") from None
    except OSError as exc:
        raise ToolError(f"cannot open '{name}': {exc.strerror or exc}") from None


def _skip_lines(f: BinaryIO, count: int) -> int:
    """Skip `count` lines; return how many there were (fewer at the end of the file)."""
    skipped = 0
    while skipped < count:
        chunk = f.readline(65536)
        if not chunk:
            break
        if chunk.endswith(b"\n") or len(chunk) < 65536:
            skipped += 1
    return skipped


def _read_lines(f: BinaryIO, name: str, offset: int, max_lines: int | None) -> str:
    """Lines from `offset` on, within `max_lines` and `MAX_READ_BYTES`, plus a note on what is left."""
    skipped = _skip_lines(f, offset - 1)
    if skipped < offset - 1:
        raise ToolError(f"'{name}' has {skipped} lines; offset {offset} is past its end")
    lines: list[str] = []
    used = 0
    note = ""
    while max_lines is None or len(lines) < max_lines:
        line = f.readline(MAX_READ_BYTES - used + 1)
        if not line:
            break
        number = offset + len(lines)
        if used + len(line) > MAX_READ_BYTES:
            if lines:
                note = (
                    f"stopped at the {MAX_READ_BYTES // 1024} KB limit; "
                    f"call read_file with offset={number} to continue"
                )
            else:
                text = codecs.getincrementaldecoder("utf-8")().decode(line[: MAX_READ_BYTES - used])
                lines.append(text)
                note = (
                    f"line {number} is longer than {MAX_READ_BYTES // 1024} KB and was cut; "
                    f"call read_file with offset={number + 1} for the lines after it"
                )
            break
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise ToolError(
                f"'{name}' is not UTF-8 text (line {number} has other bytes); read_file only reads UTF-8 text"
            ) from None
        used += len(line)
    else:
        if f.read(1):
            end = offset + len(lines)
            note = f"showing lines {offset}-{end - 1}; call read_file with offset={end} to continue"
    text = "".join(lines)
    if offset == 1 and text.startswith("\ufeff"):
        text = text[1:]
    if not note:
        if not text:
            if offset == 1:
                return f"('{name}' is empty)"
            return f"['{name}' has {offset - 1} lines; nothing follows]"
        return text
    return f"{text}{'' if text.endswith(chr(10)) or not text else chr(10)}[{note}]"


class ListDirectoryTool(RootedTool):
    """Lists a folder inside the root."""

    name = "list_directory"
    verb = "Lists"
    description = (
        "List the entries of a folder inside the folder vllm-chat was started in: folders first, then "
        f"files with their size in bytes, sorted by name (at most {MAX_LIST_ENTRIES}). Hidden entries "
        "(names starting with a dot) are left out unless `show_hidden` is true."
    )
    parameters = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": (
                    'Folder to list, relative to the start folder. Default "." (the start folder itself).'
                ),
            },
            "show_hidden": {
                "type": "boolean",
                "description": "Include entries whose names start with a dot. Default false.",
            },
        },
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> str:
        """A header line, then one line per entry: type, name (folders end in /), size."""
        return await asyncio.to_thread(
            self._list, arguments.get("path", "."), bool(arguments.get("show_hidden", False))
        )

    def _list(self, path: str, show_hidden: bool) -> str:
        target = self.resolve(path)
        name = self.shown(target)
        info = _stat(target, name, "folder")
        if not stat.S_ISDIR(info.st_mode):
            raise ToolError(f"'{name}' is a file, not a folder; use read_file to read it")
        try:
            with os.scandir(target) as it:
                entries = [_describe(e) for e in it]
        except PermissionError:
            raise ToolError(f"cannot list '{name}': permission denied") from None
        except OSError as exc:
            raise ToolError(f"cannot list '{name}': {exc.strerror or exc}") from None
        hidden = 0
        if not show_hidden:
            visible = [e for e in entries if not e[1].startswith(".")]
            hidden = len(entries) - len(visible)
            entries = visible
        entries.sort(key=lambda e: (e[0] != "dir", e[1].casefold(), e[1]))
        lines = [f"Folder '{name}' ({len(entries)} entr{'ies' if len(entries) != 1 else 'y'}):"]
        for kind, entry_name, size in entries[:MAX_LIST_ENTRIES]:
            if kind == "dir":
                lines.append(f"dir   {entry_name}/")
            elif kind == "file":
                lines.append(f"file  {entry_name}  ({size} bytes)")
            else:
                lines.append(f"{kind:<5} {entry_name}")
        if len(entries) > MAX_LIST_ENTRIES:
            lines.append(f"[... {len(entries) - MAX_LIST_ENTRIES} more entries not shown]")
        if hidden:
            entries_word = "entries" if hidden != 1 else "entry"
            lines.append(f"[{hidden} hidden {entries_word} not shown; pass show_hidden=true to see them]")
        if not entries and not hidden:
            lines.append("(empty)")
        return "\n".join(lines)


def _describe(entry: os.DirEntry[str]) -> tuple[str, str, int]:
    """(type, name, size) of one folder entry; links are not followed, so none leads outside."""
    try:
        if entry.is_symlink():
            return "link", entry.name, 0
        if entry.is_dir(follow_symlinks=False):
            return "dir", entry.name, 0
        if entry.is_file(follow_symlinks=False):
            return "file", entry.name, entry.stat(follow_symlinks=False).st_size
    except OSError:
        pass  # vanished or unreadable while listing: still worth naming
    return "other", entry.name, 0
