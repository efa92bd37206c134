"""What an agent serving a room must know, followed in the log with the delivery router.

A LiveKit agent publishes one ``tts-<lang>`` track per language its room's
connected members hear and speaks each translation made for them; it learns
both from this projection, so it sees the same translations, in the same
order, as the room's WebSocket listeners. It also tells the room's clients
of each answer the assistant gave there, so it follows those too.

It has no subscription of its own: the delivery router, which already reads
every event a WebSocket client is shown (these among them) on one thread,
hands it its room's events as it does to a session. A subscription per room
cost ``serve`` a reader thread and a query on every commit for each room an
agent served, about 6 % of a core per idle room.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from eventsourcing.utils import get_topic

from actors.agent_messages import (
    AssistantAnswered,
    RoomMembers,
    RoomRecording,
    RoomUpdate,
    TranslationToSpeak,
)
from actors.messages import CatchUp, Deliver
from actors.projections.delivery import DeliveryRouter
from events.domain import Conversation, Room, TranslationProduced, room_id_for
from events.store import EventStore, Recorded

FOLLOWED_TOPICS: Final = tuple(
    get_topic(cls)
    for cls in (
        Room.ParticipantJoined,
        Room.ParticipantLeft,
        Room.LanguageChanged,
        Room.ParticipantRemoved,
        Room.RoomClosed,
        TranslationProduced,
        Conversation.AssistantResponded,
        Room.RecordingStarted,
        Room.RecordingStopped,
    )
)
"""The only events an agent needs; the store filters the rest out unread."""
FOLLOWER_KEY_PREFIX: Final = "agent:"
"""How a follower's key on the delivery router begins: counting them counts attached agents."""

Publish = Callable[[RoomUpdate | None], None]
"""Where updates go, called on the reader thread; None once following stopped."""


class RoomFollower:
    """Follows one room in the log and publishes its members and translations."""

    def __init__(
        self, store: EventStore, router: DeliveryRouter, room_code: str, publish: Publish
    ) -> None:
        self.store = store
        self.router = router
        self.room_code = room_code
        self.room_id = room_id_for(room_code)
        self.names: dict[str, str] = {}
        """Every member's display name, by user id (read by the caller's thread)."""
        self._publish = publish
        self._languages: dict[str, str] = {}
        self._key = f"{FOLLOWER_KEY_PREFIX}{room_code}:{id(self)}"
        self._following = False
        self._read_at = 0
        """The log position the members were read at: older events are in them already."""

    def start(self) -> None:
        """Publish the room's members as they are now, then follow the log (blocking: it reads).

        The position is read before the room, so an event recorded in
        between is seen twice rather than never; applying a membership
        event twice changes nothing.
        """
        position = self._read_at = self.store.position()
        room = self.store.load_room(self.room_code)
        for member in room.members.values() if room is not None else ():
            self.names[member.user_id] = member.name
            if member.away_since is None:
                self._languages[member.user_id] = member.language
        self._publish(RoomMembers(self.room_code, dict(self._languages)))
        if room is not None and room.recording:
            self._publish(RoomRecording(self.room_code, True))
        self.router.register(self.room_id, self._key, self, position)
        self._following = True

    def stop(self) -> None:
        """Stop following; publishes None last."""
        if self._following:
            self.router.unregister(self.room_id, self._key)
        self._publish(None)

    def tell(self, message: object) -> None:
        """From the router, as a session is told: a new event of the room, or a catch-up.

        A catch-up (the router had gone past the position the members were
        read at, on the thread calling :meth:`start`) reads the events in
        between from the store. An event the router had not yet delivered
        when the members were read is in them already, and is skipped: a
        translation handed over twice would be spoken twice. What the router
        broadcasts to the room's WebSocket clients besides (captions,
        notices) is not the agent's.
        """
        if isinstance(message, Deliver):
            if message.recorded.position > self._read_at:
                self._handle(message.recorded)
        elif isinstance(message, CatchUp):
            for recorded in self.store.read(message.after, message.until, topics=FOLLOWED_TOPICS):
                self._handle(recorded)

    def _handle(self, recorded: Recorded) -> None:
        """On the router's thread: turn one event of the room into an update, if it is one."""
        event = recorded.event
        if isinstance(event, TranslationProduced):
            if event.room_id == self.room_id:
                self._publish(_to_speak(self.room_code, event))
            return
        if isinstance(event, Conversation.AssistantResponded):
            if event.room_id == self.room_id:
                self._publish(_answered(self.room_code, event))
            return
        if event.originator_id != self.room_id:
            return
        if isinstance(event, Room.RecordingStarted | Room.RecordingStopped):
            recording = isinstance(event, Room.RecordingStarted)
            self._publish(RoomRecording(self.room_code, recording))
            return
        if isinstance(event, Room.ParticipantJoined):
            self.names[event.user_id] = event.name
            self._languages[event.user_id] = event.language
        elif isinstance(event, Room.LanguageChanged):
            self._languages[event.user_id] = event.language
        elif isinstance(event, Room.ParticipantLeft | Room.ParticipantRemoved):
            self._languages.pop(event.user_id, None)
        elif isinstance(event, Room.RoomClosed):
            self._languages.clear()
        else:
            return  # the router delivers all the room shows its clients; the rest is not ours
        self._publish(RoomMembers(self.room_code, dict(self._languages)))


def _to_speak(room_code: str, event: TranslationProduced) -> TranslationToSpeak:
    """A translation to speak; the assistant's sentences carry their answer and its audience.

    Only answers need an audience on LiveKit (who stops them, who reads
    them); everything else is heard by whoever listens to its track.
    """
    answer = event.answer_id
    return TranslationToSpeak(
        room_code,
        event.transcript_id,
        event.speaker_id,
        event.target_language,
        event.translated_text,
        event.solo,
        event.audience if answer is not None else None,
        answer,
    )


def _answered(room_code: str, event: Conversation.AssistantResponded) -> AssistantAnswered:
    """An answer as the room's clients are told of it: what was delivered of it."""
    return AssistantAnswered(
        room_code,
        event.owner,
        event.answer_id,
        event.user_id,
        event.question,
        event.delivered,
        event.language,
        event.interrupted,
        event.error_code,
        round(event.timestamp.timestamp() * 1000),
    )
