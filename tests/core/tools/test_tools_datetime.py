"""The datetime tool tells the date, time, weekday and zone, here or in a named zone."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from conftest import call

from vllm_chat.core.tools import ToolRegistry
from vllm_chat.core.tools.clock import DateTimeTool

EPOCH_PLUS_A_DAY = 86_400.0  # Friday 1970-01-02 00:00:00 UTC


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([DateTimeTool(clock=lambda: EPOCH_PLUS_A_DAY)])


async def test_a_named_zone_gives_its_local_time_weekday_and_offset(registry):
    outcome = await registry.execute(call("datetime", {"timezone": "Asia/Tokyo"}))
    assert outcome.output == (
        "Friday, 02 January 1970, 09:00:00 JST (UTC+09:00, Asia/Tokyo)\n"
        "ISO 8601: 1970-01-02T09:00:00+09:00"
    )


async def test_a_zone_west_of_utc_has_a_negative_offset(registry):
    outcome = await registry.execute(call("datetime", {"timezone": "America/New_York"}))
    assert outcome.output.startswith("Thursday, 01 January 1970, 19:00:00 EST (UTC-05:00, America/New_York)")


async def test_utc_works_by_name(registry):
    outcome = await registry.execute(call("datetime", {"timezone": "UTC"}))
    assert outcome.output.startswith("Friday, 02 January 1970, 00:00:00 UTC (UTC+00:00, UTC)")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "", "Europe/"])
async def test_an_unknown_zone_is_a_clear_error_with_examples(registry, zone):
    outcome = await registry.execute(call("datetime", {"timezone": zone}))
    assert outcome.status == "error"
    assert outcome.output.startswith(f"Error: unknown time zone {zone!r}; use an IANA name such as 'Europe/Paris'")


async def test_without_a_zone_it_gives_the_local_time_now():
    before = time.time()
    outcome = await ToolRegistry([DateTimeTool()]).execute(call("datetime", raw=""))
    after = time.time()
    first, iso = outcome.output.split("\n")
    moment = datetime.fromisoformat(iso.removeprefix("ISO 8601: "))
    assert int(before) <= moment.timestamp() <= after
    assert first.startswith(moment.strftime("%A, %d %B %Y"))
    assert moment.utcoffset() == datetime.now().astimezone().utcoffset()


async def test_unknown_arguments_are_refused(registry):
    outcome = await registry.execute(call("datetime", {"zone": "UTC"}))
    assert outcome.status == "error"
    assert "unknown property 'zone' (allowed: timezone)" in outcome.output
