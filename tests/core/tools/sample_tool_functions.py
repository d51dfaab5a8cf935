"""Functions that tests register as Python tools, the way a user's config would."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Annotated, Literal

from pydantic import BaseModel, Field

CALLS: list[str] = []
"""Names of the threads that ran `where_am_i` (the test checks it is not the event loop's)."""


def add(a: int, b: int = 2) -> int:
    """Add two whole numbers.

    Use this for sums.

    Args:
        a: The first number.
        b (int): The second number,
            added to the first.

    Returns:
        The sum.
    """
    return a + b


async def weather(city: str, unit: Literal["c", "f"] = "c") -> dict:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit.
    """
    await asyncio.sleep(0)
    return {"city": city, "temperature": 18 if unit == "c" else 64, "unit": unit}


def greet(name: str | None = None) -> str:
    """Say hello."""
    return f"Hello, {name or 'stranger'}!"


def repeat(count: Annotated[int, Field(ge=1, le=5, description="How many times")], word: str = "hi") -> list[str]:
    return [word] * count


class Point(BaseModel):
    """A point in the plane."""

    x: float
    y: float


def norm(p: Point) -> float:
    """Distance of a point from the origin."""
    return (p.x**2 + p.y**2) ** 0.5


def where_am_i() -> str:
    """Name of the thread this runs in."""
    CALLS.append(threading.current_thread().name)
    return threading.current_thread().name


def nothing() -> None:
    """Do nothing and return None."""


def fail(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"failed because {reason}")


def quit_app() -> None:
    """Tries to end the whole program."""
    sys.exit(3)


def block(seconds: float) -> str:
    """Blocks its thread."""
    threading.Event().wait(seconds)
    return "done"


not_a_function = 42
