"""A connection's bounded outbox: what it has still to send, and the drop when it stops reading.

Both WebSocket shells (users' ``/ws`` and agents' ``/agent``) queue every
frame here and one task writes them in order. When the queue is full the
peer does not read fast enough: it is dropped (``slow_consumer``) with the
reason in the close frame, instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from actors.messages import Outgoing

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
SLOW_CONSUMER = "slow_consumer"


class Outbox:
    """Frames queued for one connection, written by :meth:`write` (loop only).

    Args:
        websocket: the connection.
        limit: how many frames may wait before the peer is dropped.
        who: names the peer in the log.
        close_timeout_s: how long a dropped peer gets to take the close frame.
        slow_message: what a peer dropped for a full queue is told.
        on_drop: called with the reason when the peer is dropped.
    """

    def __init__(
        self,
        websocket: ServerConnection,
        limit: int,
        who: str,
        close_timeout_s: float,
        slow_message: str,
        on_drop: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.websocket = websocket
        self.who = who
        self.close_timeout_s = close_timeout_s
        self.slow_message = slow_message
        self.dropped = False
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(limit)
        self._on_drop = on_drop
        self._closing: asyncio.Task[None] | None = None

    def put(self, frames: Iterable[Outgoing]) -> None:
        """Queue frames in order; a full queue drops the peer (``slow_consumer``)."""
        for frame in frames:
            if self.dropped:
                return
            try:
                self._queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.drop(SLOW_CONSUMER, self.slow_message)
                return

    async def write(self) -> None:
        """Send queued frames until the connection closes (run as a task)."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await self._queue.get()
                await self.websocket.send(frame.data, text=not frame.binary)

    def drop(self, code: str, message: str) -> None:
        """Disconnect the peer with a reason it can read."""
        self.dropped = True
        log.warning("dropping %s: %s", self.who, code)
        self._on_drop(code)
        self._closing = asyncio.create_task(self._close(f"{code}: {message}"))

    async def _close(self, reason: str) -> None:
        try:
            await asyncio.wait_for(self.websocket.close(CLOSE_POLICY, reason), self.close_timeout_s)
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            self.websocket.transport.abort()
