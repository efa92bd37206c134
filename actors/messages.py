"""The typed messages actors exchange.

Every message is a frozen dataclass. Commands that a client waits on carry a
``reply`` channel; the actor answers with an :class:`Accepted` once the facts
are durable, or a :class:`Refused` with a stable error code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from actors.assistant.notices import AssistantNotice
from actors.speech import SpeechKey, SpeechPiece
from events.domain import Preferences, TranscriptMode
from events.store import Recorded


@dataclass(frozen=True)
class Accepted:
    """The command's facts are durable; ``position`` is the last one's.

    A join also says whether the member already has a voice session (one
    that outlived a restart of ``serve``), so their session knows where
    they hear speech from the start, and who owns the room and whether it
    records, so the newcomer learns both at once.
    """

    position: int
    room_id: UUID | None = None
    language: str | None = None
    previous_language: str | None = None
    preferences: Preferences | None = None
    in_voice_session: bool = False
    owner: str | None = None
    recording: bool = False


@dataclass(frozen=True)
class Refused:
    """The command was not accepted; nothing was recorded."""

    code: str
    message: str


Outcome = Accepted | Refused
Reply = Callable[[Outcome], None]


def ignore_reply(_: Outcome) -> None:
    """A reply channel for commands nobody waits on (e.g. on disconnect)."""


# Room commands -------------------------------------------------------------


@dataclass(frozen=True)
class JoinRoom:
    """A user enters the room, hearing ``language``."""

    user_id: str
    name: str
    language: str
    reply: Reply


@dataclass(frozen=True)
class LeaveRoom:
    """A user leaves (``left``) or their connection dropped (``disconnected``)."""

    user_id: str
    reason: str
    reply: Reply


@dataclass(frozen=True)
class ChangeLanguage:
    """A member switches the language they hear."""

    user_id: str
    language: str
    reply: Reply


@dataclass(frozen=True)
class StartSpeech:
    """A member starts speaking ``language``; solo mode if ``solo_target``."""

    user_id: str
    language: str
    solo_target: str | None
    encoding: str
    sample_rate: int
    reply: Reply
    assistant: bool = False


@dataclass(frozen=True)
class StopSpeech:
    """A member stops speaking."""

    user_id: str
    reply: Reply


@dataclass(frozen=True)
class StartVoiceSession:
    """A member talks over LiveKit in ``livekit_room``, speaking ``language``."""

    user_id: str
    language: str
    solo_target: str | None
    livekit_room: str
    reply: Reply
    assistant: bool = False


@dataclass(frozen=True)
class StopVoiceSession:
    """A member stops talking over LiveKit."""

    user_id: str
    reply: Reply


@dataclass(frozen=True)
class SubmitTranscript:
    """A final transcript of something a member said.

    ``transcript_id`` is the utterance's id when partial captions already
    named it, so the final transcript carries the same id. ``mode`` is the
    mode a typed transcript asked for itself (None: the speaker's mode).
    """

    user_id: str
    text: str
    source_language: str
    engine: str
    duration_ms: int
    reply: Reply
    transcript_id: UUID | None = None
    decode_ms: int = 0
    fallbacks: tuple[str, ...] = ()
    mode: TranscriptMode | None = None


@dataclass(frozen=True)
class ChangePreferences:
    """A member chooses whether to hear speech, and which engines and voice.

    A field left None keeps its current value; an empty engine or voice name
    goes back to the default.
    """

    user_id: str
    reply: Reply
    speech: bool | None = None
    stt_engine: str | None = None
    translation_engine: str | None = None
    tts_engine: str | None = None
    voice: str | None = None


@dataclass(frozen=True)
class ReportClientError:
    """A client's own error report, kept for replay."""

    user_id: str
    code: str
    message: str
    details: str | None
    reply: Reply


@dataclass(frozen=True)
class SetAssistant:
    """Turn the room's shared assistant on or off (opening the room if it is new)."""

    user_id: str
    enabled: bool
    reply: Reply


@dataclass(frozen=True)
class SetRecording:
    """Start or stop recording the room's audio (opening the room if it is new).

    ``reason`` says why a recording stops (``stopped``, ``store_failed``).
    """

    user_id: str
    enabled: bool
    reply: Reply
    reason: str = "stopped"


@dataclass(frozen=True)
class SpeakAnswer:
    """Record one sentence of the assistant's answer in the room (see ``Room.answer``)."""

    sentence_id: UUID
    answer_id: UUID
    text: str
    language: str
    engine: str
    owner: str | None
    reply: Reply


@dataclass(frozen=True)
class OpenRoom:
    """Open the room for ``owner`` (its creator), if it is not open yet."""

    owner: str
    reply: Reply


@dataclass(frozen=True)
class CloseRoom:
    """``by`` closes the room (see ``Room.close``)."""

    by: str
    reply: Reply


@dataclass(frozen=True)
class RemoveParticipant:
    """``by`` takes ``user_id`` out of the room, barring them until ``barred_until``."""

    user_id: str
    by: str
    barred_until: datetime | None
    reply: Reply


@dataclass(frozen=True)
class RecordTrackMute:
    """``by`` muted or unmuted ``user_id``'s LiveKit track ``track_sid`` (already done there)."""

    user_id: str
    by: str
    track_sid: str
    muted: bool
    reply: Reply


RoomCommand = (
    JoinRoom
    | LeaveRoom
    | ChangeLanguage
    | StartSpeech
    | StopSpeech
    | StartVoiceSession
    | StopVoiceSession
    | SubmitTranscript
    | ChangePreferences
    | ReportClientError
    | SetAssistant
    | SpeakAnswer
    | OpenRoom
    | CloseRoom
    | RemoveParticipant
    | RecordTrackMute
    | SetRecording
)


@dataclass(frozen=True)
class FlushRoom:
    """Sent by a room to itself: commit what the commands so far decided."""


@dataclass(frozen=True)
class RoomCommitted:
    """The writer finished a room's batch; ``position`` is its last event's."""

    position: int
    error: BaseException | None


# Session messages ----------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    """A new event of the session's room, in log order."""

    recorded: Recorded


@dataclass(frozen=True)
class CatchUp:
    """Deliver the room's events in ``(after, until]`` from the store."""

    after: int
    until: int


@dataclass(frozen=True)
class Resume:
    """The client saw everything up to ``since``: send what it missed.

    With a ``ref``, the session then acknowledges the resume with it, after
    the missed frames (``ack {event: "resume", position}``).
    """

    since: int
    ref: str | int | None = None


@dataclass(frozen=True)
class ReleaseHeld:
    """The resume window after joining closed: send held live frames."""


@dataclass(frozen=True)
class Outgoing:
    """One frame for the client: JSON text, or binary audio."""

    data: bytes
    binary: bool = False


@dataclass(frozen=True)
class Transient:
    """A frame for everyone in the room that is not a stored event (a partial caption)."""

    frame: Outgoing


@dataclass(frozen=True)
class ToAudience:
    """News from the assistant for the users in ``audience`` (None: everyone in the room).

    An :class:`~actors.assistant.notices.AnswerStopped` also stops the
    session speaking that answer.
    """

    notice: AssistantNotice
    audience: frozenset[str] | None


@dataclass(frozen=True)
class SpeechArrived:
    """A piece of a synthesis this session asked for."""

    key: SpeechKey
    piece: SpeechPiece


# Supervision ---------------------------------------------------------------


@dataclass(frozen=True)
class ChildFailed:
    """A supervised actor died; its key says which one to restart.

    ``unread`` are the messages it never handled, for its replacement.
    """

    key: str
    unread: tuple[object, ...]
