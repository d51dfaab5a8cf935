"""Reassemble streamed tool calls, merging deltas by `index`.

vLLM streams each call as a first entry with `id`, `type` and `function.name`,
then argument fragments under the same `index`. One delta may hold two
entries with the same index (name, then the first fragment), and several
calls stream side by side with different indices. Position in the list means
nothing; only `index` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vllm_chat.core.conversation import ToolCall
from vllm_chat.core.events import ToolCallDelta


@dataclass
class _Slot:
    id: str | None = None
    name: str = ""
    parts: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Collects tool-call delta entries and yields events and finished calls."""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}

    def __bool__(self) -> bool:
        return bool(self._slots)

    def add(self, entry: Any) -> ToolCallDelta:
        """Take one `delta.tool_calls[i]` entry (SDK object or dict) and describe it."""
        if isinstance(entry, dict):
            index = entry.get("index") or 0
            call_id = entry.get("id")
            function = entry.get("function") or {}
            name = function.get("name")
            fragment = function.get("arguments") or ""
        else:  # an SDK object, built without validation: any field may be missing
            index = getattr(entry, "index", None) or 0
            call_id = getattr(entry, "id", None)
            function = getattr(entry, "function", None)
            name = getattr(function, "name", None)
            fragment = getattr(function, "arguments", None) or ""
        slot = self._slots.setdefault(index, _Slot())
        if call_id:
            slot.id = call_id
        if name:
            slot.name = name
        if fragment:
            slot.parts.append(fragment)
        return ToolCallDelta(index=index, id=call_id, name=name, arguments_fragment=fragment)

    def calls(self) -> list[ToolCall]:
        """The assembled calls in index order; a call that never got an id gets one."""
        out = []
        for index in sorted(self._slots):
            slot = self._slots[index]
            out.append(
                ToolCall(
                    id=slot.id or f"call-{index}",
                    name=slot.name,
                    arguments="".join(slot.parts),
                )
            )
        return out
