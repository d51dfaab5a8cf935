"""The `datetime` built-in: the current date and time, here or in a named time zone."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vllm_chat.core.tools.base import Tool, ToolError


class DateTimeTool(Tool):
    """Tells the current local date and time, with time zone and weekday."""

    name = "datetime"
    description = (
        "Get the current date and time, with weekday and time zone. Without arguments it gives "
        "the user's local time; with `timezone` it gives the time in that IANA time zone. "
        "Use it whenever the answer depends on today's date or the current time."
    )
    parameters = {
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": (
                    'IANA time zone name, e.g. "Europe/Paris", "America/New_York" or "UTC". '
                    "Leave it out for the user's local time."
                ),
            }
        },
        "additionalProperties": False,
    }

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def run(self, arguments: dict[str, Any]) -> str:
        """Two lines: the date and time in words, then ISO 8601."""
        name = arguments.get("timezone")
        now_utc = datetime.fromtimestamp(self._clock(), timezone.utc)
        if name is None:
            moment = now_utc.astimezone()
            label = _local_zone_name() or "local time"
        else:
            moment = now_utc.astimezone(_zone(name.strip()))
            label = name.strip()
        return (
            f"{moment:%A, %d %B %Y, %H:%M:%S} {moment.tzname()} "
            f"(UTC{_offset(moment.utcoffset())}, {label})\n"
            f"ISO 8601: {moment.isoformat(timespec='seconds')}"
        )


def _zone(name: str) -> tzinfo:
    """The time zone called `name`, or `ToolError` with examples of valid names."""
    if name.upper() in ("UTC", "Z"):
        return timezone.utc  # works even where the system has no tz database
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris', "
            "'America/New_York', 'Asia/Tokyo' or 'UTC'"
        ) from None


def _offset(delta: timedelta | None) -> str:
    """`+01:00` for one hour east of UTC."""
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _local_zone_name() -> str | None:
    """The IANA name of the local time zone, when the system tells it (`TZ` or /etc/localtime)."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if "/" in tz and not tz.startswith("/"):
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return None
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None
