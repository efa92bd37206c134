"""The delivery projection: hands each new event of the log to its room's sessions.

It reads only the events sessions turn into frames (``FRAMED_EVENTS``): with
speech on, a synthesis or a shed synthesis is recorded for nearly every
translation, and routing those to every session of the room was work for
nothing.

One thread reads the store's subscription (woken at once by local commits)
and tells every session registered for the event's room. Registering a session
tells it to catch up from the store first, under the same lock that orders
live deliveries, so a session never misses or doubles an event around the
moment it registers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol
from uuid import UUID

import pykka
from eventsourcing.utils import get_topic

from actors.listener import FRAMED_EVENTS
from actors.messages import CatchUp, Deliver
from actors.projections.following import LogReader
from events.store import EventStore, Recorded, room_of

log = logging.getLogger(__name__)


class Recipient(Protocol):
    """Whoever is routed a room's events: a session's actor, or an agent's room follower.

    ``tell`` is called under the lock that orders deliveries: on the
    router's thread it must not block; a catch-up is told on the registering
    thread, which may read the store.
    """

    def tell(self, message: Any) -> None:
        """Take a :class:`~actors.messages.Deliver` or :class:`~actors.messages.CatchUp`."""


class DeliveryRouter:
    """Routes every new event of the log to the sessions (and agents' followers) of its room."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._sessions: dict[UUID, dict[str, Recipient]] = {}
        self.position = store.position()
        self._reader = LogReader(
            store,
            "delivery",
            lambda: self.position,
            self._route,
            topics=[get_topic(kind) for kind in FRAMED_EVENTS],
        )
        self._reader.start()

    def register(self, room_id: UUID, key: str, session: Recipient, after: int) -> None:
        """Start delivering the room's events after position ``after`` to ``session``."""
        with self._lock:
            if self.position > after:
                session.tell(CatchUp(after, self.position))
            self._sessions.setdefault(room_id, {})[key] = session

    def unregister(self, room_id: UUID, key: str) -> None:
        """Stop delivering to a session."""
        with self._lock:
            sessions = self._sessions.get(room_id, {})
            sessions.pop(key, None)
            if not sessions:
                self._sessions.pop(room_id, None)

    def count(self, key_prefix: str) -> int:
        """How many recipients are registered under a key starting with ``key_prefix``."""
        with self._lock:
            return sum(
                key.startswith(key_prefix) for room in self._sessions.values() for key in room
            )

    def broadcast(self, room_id: UUID, message: object) -> None:
        """Tell every session of a room something that is not stored (partial captions)."""
        with self._lock:
            sessions = list(self._sessions.get(room_id, {}).values())
        for session in sessions:
            try:
                session.tell(message)
            except pykka.ActorDeadError:
                log.debug("session gone before a broadcast")

    def stop(self) -> None:
        """Stop following the log."""
        self._reader.stop()

    def _route(self, recorded: Recorded) -> None:
        with self._lock:
            self.position = recorded.position
            sessions = self._sessions.get(room_of(recorded.event), {})
            for session in list(sessions.values()):
                try:
                    session.tell(Deliver(recorded))
                except pykka.ActorDeadError:
                    log.debug("session gone before delivery of %s", recorded.position)
