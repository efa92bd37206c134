"""What an agent serving a room must know, followed in the log on a reader thread.

A LiveKit agent publishes one ``tts-<lang>`` track per language its room's
connected members hear and speaks each translation made for them; it learns
both from this projection, so it sees the same translations, in the same
order, as the room's WebSocket listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from eventsourcing.utils import get_topic

from actors.agent_messages import RoomMembers, RoomUpdate, TranslationToSpeak
from actors.projections.following import LogReader
from events.domain import Room, TranslationProduced, room_id_for
from events.store import EventStore, Recorded

FOLLOWED_TOPICS: Final = tuple(
    get_topic(cls)
    for cls in (
        Room.ParticipantJoined,
        Room.ParticipantLeft,
        Room.LanguageChanged,
        TranslationProduced,
    )
)
"""The only events an agent needs; the store filters the rest out unread."""

Publish = Callable[[RoomUpdate | None], None]
"""Where updates go, called on the reader thread; None once following stopped."""


class RoomFollower:
    """Follows one room in the log and publishes its members and translations."""

    def __init__(self, store: EventStore, room_code: str, publish: Publish) -> None:
        self.store = store
        self.room_code = room_code
        self.room_id = room_id_for(room_code)
        self.names: dict[str, str] = {}
        """Every member's display name, by user id (read by the caller's thread)."""
        self._publish = publish
        self._languages: dict[str, str] = {}
        self._position = 0
        self._reader: LogReader | None = None

    def start(self) -> None:
        """Publish the room's members as they are now, then follow the log (blocking).

        The position is read before the room, so an event recorded in
        between is seen twice rather than never; applying a membership
        event twice changes nothing.
        """
        self._position = self.store.position()
        room = self.store.load_room(self.room_code)
        for member in room.members.values() if room is not None else ():
            self.names[member.user_id] = member.name
            if member.away_since is None:
                self._languages[member.user_id] = member.language
        self._publish(RoomMembers(self.room_code, dict(self._languages)))
        self._reader = LogReader(
            self.store,
            f"agent-follow-{self.room_code}",
            lambda: self._position,
            self._handle,
            FOLLOWED_TOPICS,
        )
        self._reader.start()

    def stop(self) -> None:
        """Stop following (blocking); publishes None last."""
        if self._reader is not None:
            self._reader.stop()
        self._publish(None)

    def _handle(self, recorded: Recorded) -> None:
        """On the reader thread: turn one event of the log into an update, if it is ours."""
        self._position = recorded.position
        event = recorded.event
        if isinstance(event, TranslationProduced):
            if event.room_id == self.room_id:
                self._publish(
                    TranslationToSpeak(
                        self.room_code,
                        event.transcript_id,
                        event.speaker_id,
                        event.target_language,
                        event.translated_text,
                        event.solo,
                    )
                )
            return
        if event.originator_id != self.room_id:
            return
        if isinstance(event, Room.ParticipantJoined):
            self.names[event.user_id] = event.name
            self._languages[event.user_id] = event.language
        elif isinstance(event, Room.LanguageChanged):
            self._languages[event.user_id] = event.language
        elif isinstance(event, Room.ParticipantLeft):
            self._languages.pop(event.user_id, None)
        self._publish(RoomMembers(self.room_code, dict(self._languages)))
