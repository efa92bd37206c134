"""The agent's channel to voicemode: what it reports and what it is told.

A LiveKit agent never writes to the event store itself. It reports what
people said (partial captions, final transcripts, what it synthesized) to
voicemode, and voicemode tells it who listens in which language and what to
say. :class:`ControlPlane` is that channel; it may be the actor system in the
same process (:class:`~adapters.shells.direct_control_plane.DirectControlPlane`) or
an authenticated connection to a voicemode server on another machine. Every
message is a frozen dataclass, so both carry the same typed values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from adapters.engines.stt.base import Transcript

DEFAULT_AGENT_NAME = "voicemode"
"""The agent name workers register under and voicemode dispatches by."""


class ControlPlaneError(Exception):
    """voicemode refused what the agent reported; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PartialTranscript:
    """A caption of an utterance still being spoken (never stored)."""

    room_code: str
    speaker_id: str
    utterance_id: UUID
    text: str
    language: str


@dataclass(frozen=True)
class FinalTranscript:
    """What a speaker said, once the utterance ended.

    ``utterance_id`` is the id its partial captions carried, so voicemode
    records the transcript under the same id.
    """

    room_code: str
    speaker_id: str
    utterance_id: UUID
    text: str
    language: str
    engine: str
    duration_ms: int
    decode_ms: int
    fallbacks: tuple[str, ...]

    @classmethod
    def recognized(
        cls,
        room_code: str,
        speaker_id: str,
        utterance_id: UUID,
        transcript: Transcript,
        duration_ms: int,
    ) -> FinalTranscript:
        """What a speech pipeline recognized, whichever shell its speaker talks through."""
        return cls(
            room_code,
            speaker_id,
            utterance_id,
            transcript.text,
            transcript.language,
            transcript.engine,
            duration_ms,
            transcript.decode_ms,
            transcript.fallbacks,
        )


@dataclass(frozen=True)
class SynthesisReport:
    """How a translation was spoken on a ``tts-<lang>`` track, for replay."""

    room_code: str
    transcript_id: UUID
    language: str
    voice: str | None
    engine: str
    sample_rate: int
    audio_ms: int
    first_chunk_ms: int
    fallbacks: tuple[str, ...]
    error_code: str | None


INBOUND = "inbound"
"""A person's microphone track, as the agent receives it."""
OUTBOUND = "outbound"
"""One of the agent's ``tts-<lang>`` tracks, as it sends it."""


@dataclass(frozen=True)
class TrackQuality:
    """One audio track's media quality, from the agent's WebRTC statistics.

    ``participant_id`` is the track's publisher (a person for ``inbound``, the
    agent itself for ``outbound``). Counts are since the track started;
    ``jitter_s`` is as its receiver measured it, ``rtt_s`` the round trip of
    the connection carrying it (None: not measured yet), ``audio_level`` 0-1.
    """

    participant_id: str
    track_sid: str
    direction: str
    packets: int
    packets_lost: int
    bytes: int
    jitter_s: float
    rtt_s: float | None
    audio_level: float | None


@dataclass(frozen=True)
class MediaQuality:
    """A room's LiveKit media as its agent measured it, sent every few seconds.

    ``data_rate_bps`` is the audio the agent received and sent (bits/s over
    the last interval); ``cpu_share`` the agent process's CPU spent on this
    room over that interval, in cores (see
    :mod:`~adapters.shells.livekit_agent.room_cpu`).
    """

    room_code: str
    participant_count: int
    data_rate_bps: float
    cpu_share: float
    tracks: tuple[TrackQuality, ...]

    @property
    def track_count(self) -> int:
        """How many audio tracks were measured."""
        return len(self.tracks)


@dataclass(frozen=True)
class RoomMembers:
    """Who is present in the room and the language each of them hears.

    Sent when the agent attaches and again whenever it changes, so the agent
    publishes one ``tts-<lang>`` track per language someone connected to
    LiveKit listens in.
    """

    room_code: str
    languages: Mapping[str, str]

    def languages_of(self, identities: Iterable[str]) -> frozenset[str]:
        """The distinct languages heard by those of ``identities`` who are members."""
        return frozenset(
            self.languages[identity] for identity in identities if identity in self.languages
        )


@dataclass(frozen=True)
class AssistantCommand:
    """A command a participant sent the assistant as a LiveKit data packet.

    ``text`` is what they sent, unparsed: voicemode recognizes it exactly as
    it recognizes a typed command, and refuses it with the same codes.
    """

    room_code: str
    user_id: str
    text: str


@dataclass(frozen=True)
class SpeechBegan:
    """A participant started speaking (the agent's VAD heard speech begin).

    Sent at once, before anything is recognized, so that an answer being
    spoken to them stops (barge-in).
    """

    room_code: str
    user_id: str


@dataclass(frozen=True)
class TranslationToSpeak:
    """A transcript rendered in one listener language, to be spoken.

    ``solo`` translations are for their speaker alone (solo mode).
    ``answer_id`` marks a sentence of the assistant's answer ``answer_id``:
    it is spoken even in the language it was written in, and it stops when
    a member of its ``audience`` (the user ids who hear it; None: the whole
    room) starts speaking.
    """

    room_code: str
    transcript_id: UUID
    speaker_id: str
    language: str
    text: str
    solo: bool = False
    audience: tuple[str, ...] | None = None
    answer_id: UUID | None = None

    @property
    def assistant(self) -> bool:
        """Whether this is a sentence of the assistant's answer."""
        return self.answer_id is not None


@dataclass(frozen=True)
class AssistantAnswered:
    """The assistant answered a question in the room, as far as it was delivered.

    ``owner`` is the one user of a private conversation, who alone is told;
    None for the room's shared assistant, whose answers everyone is told.
    ``answer_id`` is the id its sentences carried: none of them follows.
    ``user_id`` asked ``question``; ``response`` is what they actually got
    (cut where someone spoke over it when ``interrupted``); ``error_code``
    says why no language model answered fully. ``timestamp_ms`` is when it
    was recorded, in milliseconds since the epoch.
    """

    room_code: str
    owner: str | None
    answer_id: UUID
    user_id: str
    question: str
    response: str
    language: str
    interrupted: bool
    error_code: str | None
    timestamp_ms: int


@dataclass(frozen=True)
class RoomRecording:
    """Whether the room records its audio: the agent then ships what it heard and spoke.

    Sent when the agent attaches (after the first :class:`RoomMembers`) and
    whenever recording starts or stops.
    """

    room_code: str
    recording: bool


@dataclass(frozen=True)
class RecordedAudio:
    """A clip of the room's audio the agent recorded, encoded as Ogg Opus by the agent.

    ``kind`` is ``utterance`` (what its recognizer heard of ``speaker_id``,
    whose transcript has ``transcript_id``) or ``speech`` (what it spoke on
    ``tts-<language>`` with ``voice`` and ``engine``). ``started_at_ms`` is
    the wall time of its first sample, in milliseconds since the epoch;
    ``sample_rate`` the rate it was heard or synthesized at. Only ``serve``
    writes the blob store, so an agent on another machine needs no access.
    """

    room_code: str
    kind: str
    transcript_id: UUID
    speaker_id: str | None
    language: str
    voice: str | None
    engine: str | None
    started_at_ms: int
    duration_ms: int
    sample_rate: int
    opus: bytes


RoomUpdate = RoomMembers | TranslationToSpeak | AssistantAnswered | RoomRecording
"""What voicemode tells the agent about a room, in the order it happened."""


class ControlPlane(Protocol):
    """The agent's authenticated channel to voicemode, one per agent job.

    Methods are called on the job's event loop and must never block it.
    """

    async def attach(self, room_code: str) -> None:
        """Start serving ``room_code``: from now on :meth:`updates` follows it.

        Raises:
            ControlPlaneError: voicemode refused the agent for this room.
        """

    def updates(self, room_code: str) -> AsyncIterator[RoomUpdate]:
        """The room's news, in order, until :meth:`close`.

        The first update is always the room's current :class:`RoomMembers`.
        """

    async def partial(self, caption: PartialTranscript) -> None:
        """Show the room a caption of what is being said."""

    async def transcript(self, transcript: FinalTranscript) -> None:
        """Record what a speaker said; returns once it is durable.

        Raises:
            ControlPlaneError: it was refused (e.g. ``not_in_room``).
        """

    async def synthesized(self, report: SynthesisReport) -> None:
        """Record that a translation was spoken."""

    async def command(self, command: AssistantCommand) -> None:
        """Give the room's assistant a command a participant sent; returns once it is taken.

        Raises:
            ControlPlaneError: it was refused (e.g. ``unknown_command``,
                ``empty_command``, ``not_in_room``).
        """

    async def speech_began(self, began: SpeechBegan) -> None:
        """Tell voicemode at once that a participant started speaking (never waits for it)."""

    async def media_quality(self, report: MediaQuality) -> None:
        """Report the room's media quality (never waits for voicemode)."""

    async def recorded(self, audio: RecordedAudio) -> None:
        """Hand voicemode a clip of a recording room's audio to store (never waits for it)."""

    async def wait_lost(self) -> str:
        """Return, with the reason, once the channel to voicemode is lost for good.

        The agent then stops, so voicemode dispatches a fresh one rather than
        a deaf agent staying in the room.
        """

    async def close(self) -> None:
        """Stop every room's updates and release the channel."""
