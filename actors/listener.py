"""What a session knows of its participant, and which events can concern them.

The client wire format (:mod:`adapters.shells.frames`) decides what each stored
event shows a participant; it needs only this record of who they are and how
they listen, which the session keeps up to date as events go by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eventsourcing.domain import DomainEvent

from events.domain import Conversation, Preferences, Room, TranslationProduced


@dataclass
class Listener:
    """Who a frame is for: the user, the language they hear, and how they hear it.

    ``language`` follows the listener's own language changes; it decides
    delivery only for transcripts recorded without an audience (older logs).
    ``in_voice_session``: the user has an active voice session, so the room's
    agent speaks their translations on LiveKit (see
    :func:`adapters.shells.frames.spoken_on_websocket`). ``room_code``: the
    room they listen to, which frames about the room itself name.
    """

    user_id: str
    language: str
    preferences: Preferences = field(default_factory=Preferences)
    in_voice_session: bool = False
    room_code: str = ""


#: The only events a session turns into frames or follows its listener by;
#: every other event (syntheses, webhooks, speech starts, client errors)
#: means nothing to a session, so live delivery does not even read it.
FRAMED_EVENTS: tuple[type[DomainEvent], ...] = (
    Room.ParticipantJoined,
    Room.ParticipantLeft,
    Room.VoiceSessionStarted,
    Room.VoiceSessionEnded,
    Room.LanguageChanged,
    Room.PreferencesChanged,
    Room.TranscriptRecognized,
    Room.RoomClosed,
    Room.ParticipantRemoved,
    Room.TrackMuteChanged,
    TranslationProduced,
    Conversation.CommandRecognized,
    Conversation.ContextCleared,
    Conversation.AssistantResponded,
    Room.RecordingStarted,
    Room.RecordingStopped,
)


def ends_membership(listener: Listener, event: DomainEvent) -> bool:
    """Whether ``event`` puts the listener out of their room: it was closed, or they removed."""
    if isinstance(event, Room.ParticipantRemoved):
        return event.user_id == listener.user_id
    return isinstance(event, Room.RoomClosed)
