"""ServerPickerScreen: choose the server the conversation goes on with, among the config's
profiles, each with the models it serves (or why it did not say)."""

from __future__ import annotations

from rich.text import Text

from vllm_chat.core.session import ServerModels
from vllm_chat.core.text import inert
from vllm_chat.ui.screens.pick_list import PickListScreen

STARTED = "\0as-started"
"""The picker's id for the server the run started with (it has no profile name)."""
MODELS_SHOWN = 4
"""Models named per server before "+N more"."""


def server_label(entry: ServerModels) -> Text:
    """Two lines: the profile and its URL, then the models it serves (or its problem)."""
    profile = entry.profile
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if profile.current else "  ")
    text.append(inert(profile.label), style="bold" if profile.current else "")
    text.append(f"  {inert(profile.base_url)}", style="dim")
    text.append("\n    ")
    if entry.problem:
        text.append(inert(entry.problem), style="italic")
    elif entry.models:
        shown = ", ".join(inert(m) for m in entry.models[:MODELS_SHOWN])
        more = len(entry.models) - MODELS_SHOWN
        text.append(shown + (f" +{more} more" if more > 0 else ""), style="dim")
    else:
        text.append("no models listed", style="italic")
    return text


class ServerPickerScreen(PickListScreen):
    """The config's servers with their models; Enter switches, Esc keeps the current one."""

    def __init__(self, servers: list[ServerModels]) -> None:
        items: list[tuple[str, str | Text]] = [(e.profile.name or STARTED, server_label(e)) for e in servers]
        current = next((e.profile.name or STARTED for e in servers if e.profile.current), None)
        super().__init__(
            "Server for the conversation",
            items,
            hint="enter switch (the conversation stays) · {cancel-pick} cancel",
            highlight=current,
            empty="The config names no other server: add [profiles.NAME] tables with a base_url.",
        )
