"""Prompt history for ↑ recall, kept across runs in the data folder.

One JSON string per line (so multi-line prompts survive), newest last,
capped at `MAX_ENTRIES`. A damaged line is skipped, never fatal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vllm_chat.core.paths import ensure_private_dir

MAX_ENTRIES = 500


class PromptHistory:
    """Earlier prompts, oldest first; `path=None` keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        """The file the history is kept in."""
        self._file_lines = 0
        self.entries: list[str] = self._load() if path is not None else []
        """The prompts, oldest first, without consecutive duplicates."""

    def _load(self) -> list[str]:
        assert self.path is not None
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        self._file_lines = len(lines)
        entries = []
        for line in lines[-MAX_ENTRIES:]:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, str) and value:
                entries.append(value)
        return entries

    def add(self, text: str) -> None:
        """Remember `text` (not twice in a row) and append it to the file."""
        if not text.strip() or (self.entries and self.entries[-1] == text):
            return
        self.entries.append(text)
        del self.entries[:-MAX_ENTRIES]
        if self.path is None:
            return
        try:
            ensure_private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(text, ensure_ascii=False) + "\n")
            self._file_lines += 1
            if self._file_lines > 2 * MAX_ENTRIES:
                self._compact()
        except OSError:
            pass  # history is a convenience; a read-only data folder must not break sending

    def _compact(self) -> None:
        assert self.path is not None
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.entries),
                       encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._file_lines = len(self.entries)
