"""Local ports for tests that need a server that is not there (yet).

Tests run in parallel (pytest-xdist): a port picked by binding to port 0 and closing at
once may be handed to another test before this one uses it. A held port stays bound (so
no other test or worker gets it) but does not listen, so connecting is refused at once,
as with no server at all."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


class HeldPort:
    """A local port kept bound, not listening, until `release()`."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        """The port number."""

    def release(self) -> None:
        """Free the port, for a server of the test's own to bind it next."""
        self._socket.close()


@contextmanager
def held_port() -> Iterator[HeldPort]:
    """`with held_port() as held:` a port nothing answers on (`held.port`) until the block
    ends or `held.release()`."""
    held = HeldPort()
    try:
        yield held
    finally:
        held.release()
