"""Which rooms are open, who owns them and who is in them: a projection of the log.

Listing the rooms an operator or a user may see must not rebuild every room
ever opened from its stream: this projection follows the few events that
decide it (a room opened or closed, a member in or out) from the start of
the log and live after that, so it never drifts from what was recorded.

A room is listed while it is not closed and has members (present or away),
or while nobody has joined it yet (created over HTTP, waiting for its
people). A room everyone left is not listed (it can still be read by its
code) until someone joins it again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from eventsourcing.utils import get_topic

from actors.projections.following import LogReader
from events.domain import Room
from events.store import EventStore, Recorded

LISTING_TOPICS: Final = tuple(
    get_topic(cls)
    for cls in (
        Room.RoomOpened,
        Room.RoomClosed,
        Room.ParticipantJoined,
        Room.ParticipantLeft,
        Room.ParticipantRemoved,
    )
)


@dataclass(frozen=True)
class ListedRoom:
    """An open room as listed: its code, its owner and its members (present or away)."""

    code: str
    owner: str | None
    members: frozenset[str]


class OpenRooms:
    """The open rooms, kept up to date from the log on a reader thread (thread-safe)."""

    def __init__(self, store: EventStore) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[UUID, tuple[str, str | None, set[str]]] = {}
        self._joined: set[UUID] = set()
        """Rooms someone has joined at least once."""
        self._position = 0
        self._reader = LogReader(
            store, "open-rooms", lambda: self._position, self._apply, LISTING_TOPICS
        )

    def start(self) -> None:
        """Read the log so far and follow it (blocking until subscribed)."""
        self._reader.start()

    def stop(self) -> None:
        """Stop following (blocking)."""
        self._reader.stop()

    def listed(self) -> list[ListedRoom]:
        """Every open room with members, or not yet joined, by code."""
        with self._lock:
            rooms = [
                ListedRoom(code, owner, frozenset(members))
                for room_id, (code, owner, members) in self._rooms.items()
                if members or room_id not in self._joined
            ]
        return sorted(rooms, key=lambda room: room.code)

    def _apply(self, recorded: Recorded) -> None:
        event = recorded.event
        self._position = recorded.position
        with self._lock:
            if isinstance(event, Room.RoomOpened):
                self._rooms[event.originator_id] = (event.code, event.owner, set())
                return
            room = self._rooms.get(event.originator_id)
            if room is None:
                return
            members = room[2]
            if isinstance(event, Room.RoomClosed):
                del self._rooms[event.originator_id]
            elif isinstance(event, Room.ParticipantJoined):
                members.add(event.user_id)
                self._joined.add(event.originator_id)
            elif isinstance(event, Room.ParticipantRemoved) or (
                isinstance(event, Room.ParticipantLeft) and event.reason == "left"
            ):
                members.discard(event.user_id)
