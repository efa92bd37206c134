"""Which rooms have an active voice session: a projection of the log.

An agent must be in every LiveKit room where someone talks over LiveKit,
also after the agent's worker restarted or voicemode itself did. What a room
needs is a fact of its stream (``VoiceSessionStarted`` / ``VoiceSessionEnded``),
so this projection reads it from the log, from the beginning on start-up and
live after that, instead of keeping a list of its own that could drift.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final
from uuid import UUID

from eventsourcing.utils import get_topic

from actors.projections.following import LogReader
from events.domain import Room
from events.store import EventStore, Recorded

VOICE_TOPICS: Final = tuple(
    get_topic(cls) for cls in (Room.VoiceSessionStarted, Room.VoiceSessionEnded)
)


class ActiveVoiceRooms:
    """The LiveKit rooms with at least one active voice session, kept up to date.

    ``changed`` is called on the reader thread whenever a voice session
    starts or ends somewhere.
    """

    def __init__(self, store: EventStore, changed: Callable[[], None]) -> None:
        self._changed = changed
        self._lock = threading.Lock()
        self._sessions: dict[UUID, tuple[str, set[str]]] = {}
        self._position = 0
        self._reader = LogReader(
            store, "voice-rooms", lambda: self._position, self._apply, VOICE_TOPICS
        )

    def start(self) -> None:
        """Read the log so far and follow it (blocking until subscribed)."""
        self._reader.start()

    def stop(self) -> None:
        """Stop following (blocking)."""
        self._reader.stop()

    def rooms(self) -> frozenset[str]:
        """The LiveKit room names where someone is in a voice session now."""
        with self._lock:
            return frozenset(name for name, users in self._sessions.values() if users)

    def _apply(self, recorded: Recorded) -> None:
        event = recorded.event
        self._position = recorded.position
        with self._lock:
            if isinstance(event, Room.VoiceSessionStarted):
                _, users = self._sessions.setdefault(
                    event.originator_id, (event.livekit_room, set())
                )
                users.add(event.user_id)
            elif isinstance(event, Room.VoiceSessionEnded):
                _, users = self._sessions.get(event.originator_id, ("", set()))
                users.discard(event.user_id)
            else:
                return
        self._changed()
