"""What an operator counts, derived from the event log.

:class:`OperationsTally` is pure: fed the log's events in order, it keeps who
is in each room (present or away), the voice sessions open, and counts of
transcripts, translations, syntheses, fallbacks, errors and dropped clients,
and hands the durations the events carry (decode, translation, first
synthesized audio) to a :class:`~actors.telemetry.Telemetry`.
:class:`OperationsProjection` feeds it from the log on its own thread, from
the very first event, so a restarted ``serve`` reports the same rooms and
members as before (and counts since the log began: counters never go back).

Labels are bounded by construction: engines, channels, languages, error
codes and leave reasons are names the server chose, never a room code, a
user id or free text.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic

from actors.projections.following import LogReader
from actors.telemetry import FIRST_SYNTHESIZED_BYTE, STT_DECODE, TRANSLATION, Telemetry
from events.domain import Room, SpeechSynthesized, TranslationProduced
from events.store import EventStore, Recorded, room_of

LEFT: Final = "left"
"""The one ``ParticipantLeft.reason`` that is not a dropped client."""
SPOKEN_KEPT: Final = 10_000
"""How many recent utterances' ends of speech are remembered for end-of-speech → delivery."""
TOPICS: Final = tuple(
    get_topic(kind)
    for kind in (
        Room.ParticipantJoined,
        Room.ParticipantLeft,
        Room.VoiceSessionStarted,
        Room.VoiceSessionEnded,
        Room.TranscriptRecognized,
        Room.ClientErrorReported,
        Room.ParticipantRemoved,
        Room.RoomClosed,
        TranslationProduced,
        SpeechSynthesized,
    )
)


@dataclass
class RoomPresence:
    """Who is in one room: present members, away members, members in a voice session."""

    present: set[str] = field(default_factory=set)
    away: set[str] = field(default_factory=set)
    voice: set[str] = field(default_factory=set)

    def put_out(self, user_id: str) -> None:
        """The member is no longer in the room at all (removed, or the room closed)."""
        for members in (self.present, self.away, self.voice):
            members.discard(user_id)


@dataclass(frozen=True)
class Headcount:
    """The gauges of the whole service at one moment."""

    rooms_open: int
    present: int
    away: int
    voice_sessions: int


class OperationsTally:
    """Counts and presence, from events applied in log order (thread-safe reads)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.position = 0
        self._lock = threading.Lock()
        self._rooms: dict[UUID, RoomPresence] = {}
        self.transcripts = 0
        self.client_errors = 0
        self.translations: Counter[tuple[str, str, str]] = Counter()
        """(engine, source language, target language) → translations."""
        self.syntheses: Counter[tuple[str, str]] = Counter()
        """(engine, channel) → syntheses."""
        self.fallbacks: Counter[tuple[str, str]] = Counter()
        """(engine that failed, its error code) → times another engine took over."""
        self.errors: Counter[str] = Counter()
        """Error code of a translation or synthesis no engine could do → count."""
        self.dropped: Counter[str] = Counter()
        """Leave reason other than ``left`` (a dropped connection) → count."""
        self._spoken: OrderedDict[UUID, datetime] = OrderedDict()

    def apply(self, recorded: Recorded) -> None:
        """Take the next event of the log."""
        event = recorded.event
        with self._lock:
            self.position = recorded.position
            if isinstance(event, Room.Event):
                self._room_event(event)
            elif isinstance(event, TranslationProduced):
                self.translations[(event.engine, event.source_language, event.target_language)] += 1
                self._failures(event.fallbacks, event.error_code)
                self.telemetry.stage(TRANSLATION, event.latency_ms / 1000)
            elif isinstance(event, SpeechSynthesized):
                self.syntheses[(event.engine, event.channel)] += 1
                self._failures(event.fallbacks, event.error_code)
                if event.error_code is None:
                    self.telemetry.stage(FIRST_SYNTHESIZED_BYTE, event.first_chunk_ms / 1000)

    def headcount(self) -> Headcount:
        """Rooms with someone present, members present and away, and voice sessions."""
        with self._lock:
            rooms = list(self._rooms.values())
        return Headcount(
            rooms_open=sum(1 for room in rooms if room.present),
            present=sum(len(room.present) for room in rooms),
            away=sum(len(room.away) for room in rooms),
            voice_sessions=sum(len(room.voice) for room in rooms),
        )

    def snapshot(self) -> OperationsCounts:
        """A consistent copy of every counter, for a scrape."""
        with self._lock:
            return OperationsCounts(
                transcripts=self.transcripts,
                client_errors=self.client_errors,
                translations=dict(self.translations),
                syntheses=dict(self.syntheses),
                fallbacks=dict(self.fallbacks),
                errors=dict(self.errors),
                dropped=dict(self.dropped),
            )

    def end_of_speech(self, transcript_id: UUID) -> datetime | None:
        """When the utterance ``transcript_id`` stopped being spoken, if it is still remembered."""
        with self._lock:
            return self._spoken.get(transcript_id)

    def _room_event(self, event: Room.Event) -> None:
        room = self._rooms.setdefault(room_of(event), RoomPresence())
        if isinstance(event, Room.ParticipantJoined):
            room.away.discard(event.user_id)
            room.present.add(event.user_id)
        elif isinstance(event, Room.ParticipantLeft):
            room.present.discard(event.user_id)
            room.voice.discard(event.user_id)
            if event.reason == LEFT:
                room.away.discard(event.user_id)
            else:
                room.away.add(event.user_id)
                self.dropped[event.reason] += 1
        elif isinstance(event, Room.VoiceSessionStarted):
            room.voice.add(event.user_id)
        elif isinstance(event, Room.VoiceSessionEnded):
            room.voice.discard(event.user_id)
        elif isinstance(event, Room.TranscriptRecognized):
            self._transcript(event)
        elif isinstance(event, Room.ClientErrorReported):
            self.client_errors += 1
        elif isinstance(event, Room.ParticipantRemoved):
            room.put_out(event.user_id)
        elif isinstance(event, Room.RoomClosed):
            for user_id in room.present | room.away:
                room.put_out(user_id)
        if not (room.present or room.away or room.voice):
            del self._rooms[room_of(event)]  # nobody left to count: forget the room

    def _transcript(self, event: Room.TranscriptRecognized) -> None:
        if event.answer_id is not None:
            return  # the assistant's own sentence, not something a person said
        self.transcripts += 1
        self._failures(event.fallbacks, None)
        if event.duration_ms == 0:
            return  # typed: nothing was decoded, nobody stopped speaking
        self.telemetry.stage(STT_DECODE, event.decode_ms / 1000)
        self._spoken[event.transcript_id] = event.timestamp - timedelta(
            milliseconds=event.decode_ms
        )
        if len(self._spoken) > SPOKEN_KEPT:
            self._spoken.popitem(last=False)

    def _failures(self, fallbacks: tuple[str, ...], error_code: str | None) -> None:
        for fallback in fallbacks:
            engine, _, code = fallback.partition(":")
            self.fallbacks[(engine, code)] += 1
        if error_code is not None:
            self.errors[error_code] += 1


@dataclass(frozen=True)
class OperationsCounts:
    """Every counter of :class:`OperationsTally` at one moment."""

    transcripts: int
    client_errors: int
    translations: Mapping[tuple[str, str, str], int]
    syntheses: Mapping[tuple[str, str], int]
    fallbacks: Mapping[tuple[str, str], int]
    errors: Mapping[str, int]
    dropped: Mapping[str, int]


class OperationsProjection:
    """Feeds an :class:`OperationsTally` from the whole log, on its own thread."""

    def __init__(self, store: EventStore, telemetry: Telemetry) -> None:
        self.tally = OperationsTally(telemetry)
        self._reader = LogReader(
            store, "operations", lambda: self.tally.position, self.tally.apply, TOPICS
        )

    def start(self) -> None:
        """Start following the log (blocks until subscribed: call it off the loop)."""
        self._reader.start()

    def stop(self) -> None:
        """Stop following."""
        self._reader.stop()


def end_of_speech_of(event: DomainEvent, tally: OperationsTally) -> datetime | None:
    """When the utterance a delivered event carries stopped being spoken (None: not speech).

    A transcript carries its own (its recording time less its decode time); a
    translation's is remembered from its transcript.
    """
    if isinstance(event, Room.TranscriptRecognized):
        if event.duration_ms == 0 or event.answer_id is not None:
            return None
        return event.timestamp - timedelta(milliseconds=event.decode_ms)
    if isinstance(event, TranslationProduced):
        return tally.end_of_speech(event.transcript_id)
    return None
