"""The facts of a room's recorded audio: each clip stored, and each clip deleted.

Audio never goes into an event: a clip is an Ogg Opus file in a blob store
(:mod:`adapters.blobs`) and its :class:`AudioRecorded` names it by ``key``,
with what a later "what-if" replay needs to run it through other engines
again: what it is (an utterance as the recognizer got it, or synthesized
speech), where it sits on the room's timeline (``started_at``, wall time of
its first sample), how long it is, the rate it was heard or synthesized at,
and how it is encoded. Each clip is a stream of its own (:func:`clip_stream_for`):
version 1 records it, version 2 its deletion, so a clip is deleted once.
Whether a room records is a fact of the room's own stream
(``Room.RecordingStarted`` / ``Room.RecordingStopped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import DomainEvent

CLIP_NAMESPACE = uuid5(NAMESPACE_URL, "voicemode:recorded-audio")

UTTERANCE: Final = "utterance"
"""A clip of what the speech recognizer heard of one utterance (16 kHz mono)."""
SPEECH: Final = "speech"
"""A clip of one synthesized translation or answer, as the synthesizer made it."""

STORE_FAILED: Final = "store_failed"
"""``RecordingStopped.reason`` when the blob store refused a clip."""
RETENTION: Final = "retention"
"""``AudioDeleted.reason`` of a clip older than the retention period."""


def clip_stream_for(key: str) -> UUID:
    """The stream of one stored clip: its recording, then its deletion."""
    return uuid5(CLIP_NAMESPACE, key)


@dataclass(frozen=True)
class AudioRecorded(DomainEvent):
    """A clip of the room's audio was stored under ``key`` in the blob store.

    ``kind`` is :data:`UTTERANCE` (``speaker_id`` spoke it; ``transcript_id``
    is the utterance's, which its ``TranscriptRecognized`` carries if it was
    recognized) or :data:`SPEECH` (a synthesis of ``transcript_id``'s
    translation into ``language``, with ``voice`` and ``engine``).
    ``sample_rate`` is the rate the audio was heard or synthesized at;
    ``encoded_rate`` the Opus stream's (Opus takes 8, 12, 16, 24 or 48 kHz,
    so 22.05 kHz speech is stored at 24 kHz). ``duration_ms`` is the clip's
    length and ``started_at`` the wall time of its first sample.
    """

    room_id: UUID
    key: str
    kind: str
    transcript_id: UUID
    speaker_id: str | None
    language: str
    voice: str | None
    engine: str | None
    started_at: datetime
    duration_ms: int
    sample_rate: int
    encoded_rate: int
    codec: str
    container: str
    size_bytes: int

    @classmethod
    def recording(
        cls,
        *,
        room_id: UUID,
        key: str,
        kind: str,
        transcript_id: UUID,
        speaker_id: str | None,
        language: str,
        voice: str | None,
        engine: str | None,
        started_at: datetime,
        duration_ms: int,
        sample_rate: int,
        encoded_rate: int,
        size_bytes: int,
    ) -> AudioRecorded:
        """The event of a clip just stored, first in its own stream."""
        return cls(
            originator_id=clip_stream_for(key),
            originator_version=1,
            timestamp=cls.create_timestamp(),
            room_id=room_id,
            key=key,
            kind=kind,
            transcript_id=transcript_id,
            speaker_id=speaker_id,
            language=language,
            voice=voice,
            engine=engine,
            started_at=started_at,
            duration_ms=duration_ms,
            sample_rate=sample_rate,
            encoded_rate=encoded_rate,
            codec="opus",
            container="ogg",
            size_bytes=size_bytes,
        )


@dataclass(frozen=True)
class AudioDeleted(DomainEvent):
    """A stored clip was deleted from the blob store (``reason``: :data:`RETENTION`)."""

    room_id: UUID
    key: str
    reason: str

    @classmethod
    def deleting(cls, *, room_id: UUID, key: str, reason: str) -> AudioDeleted:
        """The event of a clip just deleted, second in the clip's stream."""
        return cls(
            originator_id=clip_stream_for(key),
            originator_version=2,
            timestamp=cls.create_timestamp(),
            room_id=room_id,
            key=key,
            reason=reason,
        )
