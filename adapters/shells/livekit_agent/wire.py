"""The agent channel's wire format, encoded and validated without I/O.

Agent workers on other machines reach voicemode over a WebSocket (see
:mod:`adapters.shells.agent_channel` and :mod:`adapters.shells.livekit_agent.network`).
Every frame is one JSON text frame ``{"event": NAME, "data": {...}, "ref"?:
str|int}``, as in the user protocol (:mod:`adapters.shells.protocol`), carrying the
typed messages of :mod:`actors.agent_messages` with camelCase keys,
UUIDs as strings and tuples as lists.

Agent to voicemode: ``attach {roomCode}`` (answered ``attached`` with its
``ref``), ``partial``, ``transcript`` and ``command {roomCode, userId, text}``
(each answered ``ack`` or ``error`` with its ``ref``), ``synthesized``,
``speech-began {roomCode, userId}``, ``media-quality {roomCode,
participantCount, dataRateBps, cpuShare, tracks: [{participantId, trackSid,
direction, packets, packetsLost, bytes, jitterS, rttS?, audioLevel?}]}`` and
``worker-ready {}``, and the one binary frame, a clip of a recording room
(:func:`encode_recorded`). voicemode to
agent: ``attached {roomCode}``, ``members {roomCode, languages}``,
``translation``, ``answered`` (the assistant answered), ``recording
{roomCode, recording}``, ``ack {}`` and ``error {code, message}``.

Decoding raises :class:`~adapters.shells.protocol.ProtocolError` with a stable code:
``frame_too_large``, ``binary_not_expected``, ``malformed_json``,
``invalid_frame``, ``unknown_event``, ``missing_field``, ``invalid_field``,
``invalid_room_code``, ``unknown_language``, ``empty_transcript`` or
``transcript_too_long``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import orjson

from actors.agent_messages import (
    INBOUND,
    OUTBOUND,
    AssistantAnswered,
    AssistantCommand,
    FinalTranscript,
    MediaQuality,
    PartialTranscript,
    RecordedAudio,
    RoomMembers,
    RoomRecording,
    SpeechBegan,
    SynthesisReport,
    TrackQuality,
    TranslationToSpeak,
)
from adapters.engines.audio import MAX_SAMPLE_RATE
from adapters.shells.auth import USER_ID
from adapters.shells.protocol import (
    MAX_TRANSCRIPT_CHARS,
    Fields,
    ProtocolError,
    Ref,
    parse_envelope,
    room_code,
)

MAX_NAME_CHARS = 64
"""Engines, voices, error codes and fallbacks are short names."""
MAX_FALLBACKS = 16
MAX_MEMBERS = 10_000
MAX_MESSAGE_CHARS = 2000
MAX_MILLISECONDS = 24 * 3600 * 1000
"""Durations and latencies: a day is far above any utterance or synthesis, and
far below what the store's 64-bit integers hold."""
MAX_TIMESTAMP_MS = 2**53
"""Milliseconds since the epoch, within what a JSON number holds exactly."""
MAX_TRACKS = 1000
"""Audio tracks in one media-quality report: far above any room's."""
MAX_PACKETS = 2**53
MAX_MEASURE = 1e9
"""Rates (bits/s), shares (cores) and durations (s) in a media-quality report stay below this."""
RECORDED_KINDS = frozenset({"utterance", "speech"})
"""What a recorded clip is: what was heard, or what was spoken."""
NAME = re.compile(rf"[!-~]{{1,{MAX_NAME_CHARS}}}")
"""A short name: visible ASCII, matched whole (no spaces or line breaks)."""


@dataclass(frozen=True)
class Attach:
    """``attach {roomCode}``: the agent serves this room from now on."""

    room_code: str


@dataclass(frozen=True)
class WorkerReady:
    """``worker-ready {}``: a worker (re)registered with LiveKit and can take rooms."""


@dataclass(frozen=True)
class Attached:
    """``attached {roomCode}``: the room's updates follow on this connection."""

    room_code: str


@dataclass(frozen=True)
class Ack:
    """``ack {}``: the frame with this ``ref`` was done (a transcript is durable)."""


@dataclass(frozen=True)
class ErrorReply:
    """``error {code, message}``: a frame was refused; ``code`` is stable."""

    code: str
    message: str


ClientMessage = (
    Attach
    | PartialTranscript
    | FinalTranscript
    | SynthesisReport
    | AssistantCommand
    | SpeechBegan
    | MediaQuality
    | WorkerReady
)
"""What an agent worker sends voicemode."""

ServerMessage = (
    Attached
    | RoomMembers
    | TranslationToSpeak
    | AssistantAnswered
    | RoomRecording
    | Ack
    | ErrorReply
)
"""What voicemode sends an agent worker."""

MessageT = TypeVar("MessageT", ClientMessage, ServerMessage)


@dataclass(frozen=True)
class Framed(Generic[MessageT]):
    """A decoded frame: its message and the correlation id it carried."""

    message: MessageT
    ref: Ref = None


def encode_client(message: ClientMessage, ref: Ref = None) -> bytes:
    """One frame from the agent (UTF-8 JSON, sent as a text frame)."""
    return _encode(message, ref)


def encode_server(message: ServerMessage, ref: Ref = None) -> bytes:
    """One frame from voicemode (UTF-8 JSON, sent as a text frame)."""
    return _encode(message, ref)


def decode_client(raw: str | bytes) -> Framed[ClientMessage]:
    """Parse and validate a frame an agent sent, as websockets delivers it.

    A text frame is a ``str``; ``bytes`` is a binary frame and is refused.

    Raises:
        ProtocolError: the frame is not a valid agent frame.
    """
    return _decode(raw, _CLIENT_PARSERS)


def decode_server(raw: str | bytes) -> Framed[ServerMessage]:
    """Parse and validate a frame voicemode sent, as websockets delivers it.

    Raises:
        ProtocolError: the frame is not a valid voicemode frame.
    """
    return _decode(raw, _SERVER_PARSERS)


def encode_recorded(audio: RecordedAudio) -> bytes:
    """A recorded clip as one binary frame: header length, ``recorded`` header, audio.

    A 4-byte big-endian length, the header (JSON, as a text frame's), then
    the Ogg Opus bytes. One frame, so nothing the agent sends meanwhile can come between the two.
    """
    header = orjson.dumps({"event": "recorded", "data": _recorded_data(audio)})
    return len(header).to_bytes(4, "big") + header + audio.opus


def decode_recorded(raw: bytes) -> RecordedAudio:
    """Parse and validate a binary ``recorded`` frame (see :func:`encode_recorded`).

    Raises:
        ProtocolError: not such a frame (``binary_not_expected`` if it is
            not even shaped like one).
    """
    size = int.from_bytes(raw[:4], "big")
    if len(raw) < 4 + size or size == 0 or raw[4:5] != b"{":
        raise ProtocolError(
            "binary_not_expected", "the only binary frame is a recorded clip (header, audio)"
        )
    name, envelope = parse_envelope(raw[4 : 4 + size])
    if name != "recorded":
        raise ProtocolError("unknown_event", "the only binary frame is recorded", envelope.ref)
    fields = _AgentFields(envelope.data, envelope.ref)
    kind = fields.required_name("kind")
    if kind not in RECORDED_KINDS:
        raise ProtocolError("invalid_field", "kind is utterance or speech", fields.ref)
    started_at_ms = fields.integer("startedAtMs", required=True, low=0, high=MAX_TIMESTAMP_MS)
    assert started_at_ms is not None
    opus = raw[4 + size :]
    if not opus.startswith(b"OggS"):
        raise ProtocolError("invalid_field", "the audio is an Ogg Opus file", fields.ref)
    return RecordedAudio(
        fields.room_code(),
        kind,
        fields.uuid("transcriptId"),
        fields.optional_user_id("speakerId"),
        fields.lang("language"),
        fields.name("voice", required=False),
        fields.name("engine", required=False),
        started_at_ms,
        fields.count("durationMs"),
        fields.count("sampleRate", MAX_SAMPLE_RATE),
        opus,
    )


def _decode(
    raw: str | bytes, parsers: Mapping[str, Callable[[_AgentFields], MessageT]]
) -> Framed[MessageT]:
    if isinstance(raw, bytes):
        raise ProtocolError("binary_not_expected", "the agent channel carries text frames only")
    name, envelope = parse_envelope(raw)
    fields = _AgentFields(envelope.data, envelope.ref)
    parser = parsers.get(name)
    if parser is None:
        raise ProtocolError("unknown_event", f"unknown event {name[:MAX_NAME_CHARS]!r}", fields.ref)
    return Framed(parser(fields), fields.ref)


class _AgentFields(Fields):
    """The user protocol's typed field access, plus the agent channel's value types."""

    def room_code(self) -> str:
        """``roomCode``, in the user protocol's alphabet."""
        code = room_code(self, "roomCode", required=True)
        assert code is not None
        return code

    def user_id(self, key: str) -> str:
        """A user (LiveKit participant) id."""
        value = self.required_text(key)
        if not USER_ID.fullmatch(value):
            raise ProtocolError("invalid_field", f"data.{key} is not a user id", self.ref)
        return value

    def uuid(self, key: str) -> UUID:
        """A UUID, sent as its string."""
        try:
            return UUID(self.required_text(key))
        except ValueError as error:
            raise ProtocolError("invalid_field", f"data.{key} must be a UUID", self.ref) from error

    def optional_uuid(self, key: str) -> UUID | None:
        """A UUID, or None when absent or null."""
        return self.uuid(key) if self.data.get(key) is not None else None

    def lang(self, key: str) -> str:
        """A required language code, normalized to ISO 639-1."""
        value = self.language(key)
        assert value is not None
        return value

    def count(self, key: str, high: int = MAX_MILLISECONDS) -> int:
        """A required integer in ``[0, high]`` (by default a duration in ms)."""
        value = self.integer(key, required=True, low=0, high=high)
        assert value is not None
        return value

    def name(self, key: str, *, required: bool = True) -> str | None:
        """A short name (engine, voice, code)."""
        value = self.text(key, required=required)
        if value is not None and not NAME.fullmatch(value):
            raise ProtocolError(
                "invalid_field",
                f"data.{key} is 1-{MAX_NAME_CHARS} visible ASCII characters",
                self.ref,
            )
        return value

    def required_name(self, key: str) -> str:
        """A short name that must be present."""
        value = self.name(key)
        assert value is not None
        return value

    def names(self, key: str) -> tuple[str, ...]:
        """A list of short names (absent means none)."""
        value = self._get(key, list, "a list", False) or []
        if len(value) > MAX_FALLBACKS or not all(
            isinstance(item, str) and NAME.fullmatch(item) for item in value
        ):
            raise ProtocolError(
                "invalid_field", f"data.{key} is up to {MAX_FALLBACKS} short names", self.ref
            )
        return tuple(value)

    def measure(self, key: str, *, required: bool = True) -> float | None:
        """A non-negative finite number (a rate, a share, seconds, a level)."""
        value = self.data.get(key)
        if value is None and not required:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= MAX_MEASURE
        ):
            raise ProtocolError(
                "invalid_field", f"data.{key} must be a number 0-{MAX_MEASURE:g}", self.ref
            )
        return float(value)

    def required_measure(self, key: str) -> float:
        """A number that must be present."""
        value = self.measure(key)
        assert value is not None
        return value

    def tracks(self, key: str) -> tuple[TrackQuality, ...]:
        """The measured tracks of a media-quality report."""
        value = self._get(key, list, "a list", True)
        if len(value) > MAX_TRACKS or not all(isinstance(item, dict) for item in value):
            raise ProtocolError(
                "invalid_field", f"data.{key} is up to {MAX_TRACKS} objects", self.ref
            )
        return tuple(_parse_track(_AgentFields(item, self.ref)) for item in value)

    def caption(self, key: str) -> str:
        """Text someone said, up to the user protocol's transcript length."""
        text = self.required_text(key)
        if len(text) > MAX_TRANSCRIPT_CHARS:
            raise ProtocolError(
                "transcript_too_long",
                f"data.{key} is limited to {MAX_TRANSCRIPT_CHARS} characters",
                self.ref,
            )
        return text

    def spoken(self, key: str) -> str:
        """A final transcript's text: a caption that is not blank."""
        text = self.caption(key)
        if not text.strip():
            raise ProtocolError("empty_transcript", f"data.{key} is empty", self.ref)
        return text

    def optional_user_id(self, key: str) -> str | None:
        """A user id, or None when absent or null."""
        return self.user_id(key) if self.data.get(key) is not None else None

    def user_ids(self, key: str) -> tuple[str, ...] | None:
        """A list of user ids, or None when absent or null."""
        value = self._get(key, list, "a list", False)
        if value is None:
            return None
        if len(value) > MAX_MEMBERS or not all(
            isinstance(user, str) and USER_ID.fullmatch(user) for user in value
        ):
            raise ProtocolError(
                "invalid_field", f"data.{key} is up to {MAX_MEMBERS} user ids", self.ref
            )
        return tuple(value)

    def languages(self, key: str) -> dict[str, str]:
        """A map of user id to language code."""
        value: dict[str, Any] = self._get(key, dict, "an object", True)
        if len(value) > MAX_MEMBERS or not all(USER_ID.fullmatch(user) for user in value):
            raise ProtocolError(
                "invalid_field", f"data.{key} maps up to {MAX_MEMBERS} user ids", self.ref
            )
        members = _AgentFields(value, self.ref)
        return {user: members.lang(user) for user in value}


def _encode(message: ClientMessage | ServerMessage, ref: Ref) -> bytes:
    name, encoder = _ENCODERS[type(message)]
    frame: dict[str, Any] = {"event": name, "data": encoder(message)}
    if ref is not None:
        frame["ref"] = ref
    return orjson.dumps(frame)


def _attach_data(message: Any) -> dict[str, Any]:
    return {"roomCode": message.room_code}


def _nothing(_: Any) -> dict[str, Any]:
    return {}


def _partial_data(caption: PartialTranscript) -> dict[str, Any]:
    return {
        "roomCode": caption.room_code,
        "speakerId": caption.speaker_id,
        "utteranceId": str(caption.utterance_id),
        "text": caption.text,
        "language": caption.language,
    }


def _transcript_data(transcript: FinalTranscript) -> dict[str, Any]:
    return {
        "roomCode": transcript.room_code,
        "speakerId": transcript.speaker_id,
        "utteranceId": str(transcript.utterance_id),
        "text": transcript.text,
        "language": transcript.language,
        "engine": transcript.engine,
        "durationMs": transcript.duration_ms,
        "decodeMs": transcript.decode_ms,
        "fallbacks": list(transcript.fallbacks),
    }


def _synthesized_data(report: SynthesisReport) -> dict[str, Any]:
    return {
        "roomCode": report.room_code,
        "transcriptId": str(report.transcript_id),
        "language": report.language,
        "voice": report.voice,
        "engine": report.engine,
        "sampleRate": report.sample_rate,
        "audioMs": report.audio_ms,
        "firstChunkMs": report.first_chunk_ms,
        "fallbacks": list(report.fallbacks),
        "errorCode": report.error_code,
    }


def _command_data(command: AssistantCommand) -> dict[str, Any]:
    return {"roomCode": command.room_code, "userId": command.user_id, "text": command.text}


def _speech_began_data(began: SpeechBegan) -> dict[str, Any]:
    return {"roomCode": began.room_code, "userId": began.user_id}


def _media_quality_data(report: MediaQuality) -> dict[str, Any]:
    return {
        "roomCode": report.room_code,
        "participantCount": report.participant_count,
        "dataRateBps": report.data_rate_bps,
        "cpuShare": report.cpu_share,
        "tracks": [
            {
                "participantId": track.participant_id,
                "trackSid": track.track_sid,
                "direction": track.direction,
                "packets": track.packets,
                "packetsLost": track.packets_lost,
                "bytes": track.bytes,
                "jitterS": track.jitter_s,
                "rttS": track.rtt_s,
                "audioLevel": track.audio_level,
            }
            for track in report.tracks
        ],
    }


def _answered_data(answered: AssistantAnswered) -> dict[str, Any]:
    return {
        "roomCode": answered.room_code,
        "owner": answered.owner,
        "answerId": str(answered.answer_id),
        "userId": answered.user_id,
        "question": answered.question,
        "response": answered.response,
        "language": answered.language,
        "interrupted": answered.interrupted,
        "errorCode": answered.error_code,
        "timestampMs": answered.timestamp_ms,
    }


def _members_data(members: RoomMembers) -> dict[str, Any]:
    return {"roomCode": members.room_code, "languages": dict(members.languages)}


def _translation_data(translation: TranslationToSpeak) -> dict[str, Any]:
    return {
        "roomCode": translation.room_code,
        "transcriptId": str(translation.transcript_id),
        "speakerId": translation.speaker_id,
        "language": translation.language,
        "text": translation.text,
        "solo": translation.solo,
        "audience": list(translation.audience) if translation.audience is not None else None,
        "answerId": str(translation.answer_id) if translation.answer_id is not None else None,
    }


def _recording_data(recording: RoomRecording) -> dict[str, Any]:
    return {"roomCode": recording.room_code, "recording": recording.recording}


def _recorded_data(audio: RecordedAudio) -> dict[str, Any]:
    return {
        "roomCode": audio.room_code,
        "kind": audio.kind,
        "transcriptId": str(audio.transcript_id),
        "speakerId": audio.speaker_id,
        "language": audio.language,
        "voice": audio.voice,
        "engine": audio.engine,
        "startedAtMs": audio.started_at_ms,
        "durationMs": audio.duration_ms,
        "sampleRate": audio.sample_rate,
    }


def _error_data(error: ErrorReply) -> dict[str, Any]:
    return {"code": error.code, "message": error.message}


_ENCODERS: Mapping[type, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    Attach: ("attach", _attach_data),
    PartialTranscript: ("partial", _partial_data),
    FinalTranscript: ("transcript", _transcript_data),
    SynthesisReport: ("synthesized", _synthesized_data),
    AssistantCommand: ("command", _command_data),
    SpeechBegan: ("speech-began", _speech_began_data),
    MediaQuality: ("media-quality", _media_quality_data),
    WorkerReady: ("worker-ready", _nothing),
    Attached: ("attached", _attach_data),
    RoomMembers: ("members", _members_data),
    TranslationToSpeak: ("translation", _translation_data),
    AssistantAnswered: ("answered", _answered_data),
    RoomRecording: ("recording", _recording_data),
    Ack: ("ack", _nothing),
    ErrorReply: ("error", _error_data),
}


def _parse_partial(fields: _AgentFields) -> PartialTranscript:
    return PartialTranscript(
        fields.room_code(),
        fields.user_id("speakerId"),
        fields.uuid("utteranceId"),
        fields.caption("text"),
        fields.lang("language"),
    )


def _parse_transcript(fields: _AgentFields) -> FinalTranscript:
    return FinalTranscript(
        fields.room_code(),
        fields.user_id("speakerId"),
        fields.uuid("utteranceId"),
        fields.spoken("text"),
        fields.lang("language"),
        fields.required_name("engine"),
        fields.count("durationMs"),
        fields.count("decodeMs"),
        fields.names("fallbacks"),
    )


def _parse_synthesized(fields: _AgentFields) -> SynthesisReport:
    return SynthesisReport(
        fields.room_code(),
        fields.uuid("transcriptId"),
        fields.lang("language"),
        fields.name("voice", required=False),
        fields.required_name("engine"),
        fields.count("sampleRate", MAX_SAMPLE_RATE),
        fields.count("audioMs"),
        fields.count("firstChunkMs"),
        fields.names("fallbacks"),
        fields.name("errorCode", required=False),
    )


def _parse_media_quality(fields: _AgentFields) -> MediaQuality:
    return MediaQuality(
        fields.room_code(),
        fields.count("participantCount", MAX_MEMBERS),
        fields.required_measure("dataRateBps"),
        fields.required_measure("cpuShare"),
        fields.tracks("tracks"),
    )


def _parse_track(fields: _AgentFields) -> TrackQuality:
    direction = fields.required_name("direction")
    if direction not in (INBOUND, OUTBOUND):
        raise ProtocolError(
            "invalid_field", f"data.direction is {INBOUND!r} or {OUTBOUND!r}", fields.ref
        )
    return TrackQuality(
        fields.user_id("participantId"),
        fields.required_name("trackSid"),
        direction,
        fields.count("packets", MAX_PACKETS),
        fields.count("packetsLost", MAX_PACKETS),
        fields.count("bytes", MAX_PACKETS),
        fields.required_measure("jitterS"),
        fields.measure("rttS", required=False),
        fields.measure("audioLevel", required=False),
    )


def _parse_translation(fields: _AgentFields) -> TranslationToSpeak:
    return TranslationToSpeak(
        fields.room_code(),
        fields.uuid("transcriptId"),
        fields.user_id("speakerId"),
        fields.lang("language"),
        fields.required_text("text"),
        fields.flag("solo"),
        fields.user_ids("audience"),
        fields.optional_uuid("answerId"),
    )


def _parse_answered(fields: _AgentFields) -> AssistantAnswered:
    timestamp_ms = fields.integer("timestampMs", required=True, low=0, high=MAX_TIMESTAMP_MS)
    assert timestamp_ms is not None
    return AssistantAnswered(
        fields.room_code(),
        fields.optional_user_id("owner"),
        fields.uuid("answerId"),
        fields.user_id("userId"),
        fields.required_text("question"),
        fields.required_text("response"),
        fields.lang("language"),
        fields.flag("interrupted"),
        fields.name("errorCode", required=False),
        timestamp_ms,
    )


def _parse_error(fields: _AgentFields) -> ErrorReply:
    return ErrorReply(
        fields.required_name("code"), fields.required_text("message")[:MAX_MESSAGE_CHARS]
    )


_CLIENT_PARSERS: Mapping[str, Callable[[_AgentFields], ClientMessage]] = {
    "attach": lambda fields: Attach(fields.room_code()),
    "partial": _parse_partial,
    "transcript": _parse_transcript,
    "synthesized": _parse_synthesized,
    "command": lambda fields: AssistantCommand(
        fields.room_code(), fields.user_id("userId"), fields.required_text("text")
    ),
    "speech-began": lambda fields: SpeechBegan(fields.room_code(), fields.user_id("userId")),
    "media-quality": _parse_media_quality,
    "worker-ready": lambda _: WorkerReady(),
}

_SERVER_PARSERS: Mapping[str, Callable[[_AgentFields], ServerMessage]] = {
    "attached": lambda fields: Attached(fields.room_code()),
    "members": lambda fields: RoomMembers(fields.room_code(), fields.languages("languages")),
    "translation": _parse_translation,
    "answered": _parse_answered,
    "recording": lambda fields: RoomRecording(fields.room_code(), fields.flag("recording")),
    "ack": lambda _: Ack(),
    "error": _parse_error,
}
