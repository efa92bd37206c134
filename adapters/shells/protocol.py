"""The WebSocket control-plane protocol, parsed and validated without I/O.

A client text frame is one JSON object ``{"event": NAME, "data": {...},
"ref"?: str|int}``. :func:`parse_frame` turns it into a typed command or
raises :class:`ProtocolError` with a stable ``code``. Nothing here touches a
socket, so every rule is unit-testable and fuzzable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.engines.audio.formats import ENCODINGS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from adapters.languages import UnknownLanguageError, normalize_language
from events.domain import TranscriptMode

MAX_TEXT_FRAME_BYTES = 64 * 1024
MAX_TRANSCRIPT_CHARS = 5000
MAX_ERROR_MESSAGE_CHARS = 2000
ROOM_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""Matched whole (``fullmatch``): ``$`` would let a trailing newline through."""
NAME = re.compile(r"[!-~]{0,64}")
"""Engine and voice names: up to 64 visible ASCII characters (empty resets)."""
MAX_POSITION = 2**63 - 1
"""The largest log position: SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit."""
MAX_BAR_S = 24 * 3600
"""The longest a removed participant may be kept from rejoining."""
USER_ID = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
"""A user id, as tokens name them (matched whole)."""
MAX_REF = 2**53 - 1
"""Integer refs stay exact in JavaScript clients (``Number.MAX_SAFE_INTEGER``)."""

Ref = str | int | None


class ProtocolError(Exception):
    """A client frame that cannot be accepted, with a stable error code."""

    def __init__(self, code: str, message: str, ref: Ref = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


@dataclass(frozen=True)
class Authenticate:
    """``authenticate {token}``: identify the connection."""

    token: str


@dataclass(frozen=True)
class JoinRoomFrame:
    """``join-room {roomCode, language?, since?}``."""

    room_code: str
    language: str | None
    since: int | None


@dataclass(frozen=True)
class LeaveRoomFrame:
    """``leave-room``."""


@dataclass(frozen=True)
class SetLanguage:
    """``set-language {language}``: change the language this user hears."""

    language: str


@dataclass(frozen=True)
class StartSpeechFrame:
    """``start-speech {languageCode, soloMode?, soloTargetLang?, assistant?, ...}``.

    Also ``encoding?`` and ``sampleRateHertz?``; with ``assistant``, what is
    said is for the assistant (assistant mode).
    """

    language: str
    solo_target: str | None
    encoding: str
    sample_rate: int
    assistant: bool = False


@dataclass(frozen=True)
class StopSpeechFrame:
    """``stop-speech``."""


@dataclass(frozen=True)
class StartVoiceSessionFrame:
    """``start-voice-session {roomId?, languageCode?, soloMode?, soloTargetLang?, assistant?}``.

    Talk over LiveKit in the room ``roomId`` (joined first if it is not the
    connection's room), speaking ``languageCode``; with ``assistant``, to the
    assistant.
    """

    room_code: str | None
    language: str | None
    solo_target: str | None
    assistant: bool = False


@dataclass(frozen=True)
class AskAssistantFrame:
    """``ask-assistant {text}``: a typed question for the assistant."""

    text: str


@dataclass(frozen=True)
class AssistantCommandFrame:
    """``assistant-command {text}``: a typed command (``help``, ``clear``...)."""

    text: str


@dataclass(frozen=True)
class SetAssistantFrame:
    """``set-assistant {enabled}``: turn the room's shared assistant on or off."""

    enabled: bool


@dataclass(frozen=True)
class CloseRoomFrame:
    """``close-room {roomId?}``: close the room (default: the connection's), for its owner."""

    room_code: str | None


@dataclass(frozen=True)
class RemoveParticipantFrame:
    """``remove-participant {userId, roomId?, barSeconds?}``: take someone out of the room."""

    user_id: str
    room_code: str | None
    bar_s: int | None


@dataclass(frozen=True)
class MuteParticipantFrame:
    """``mute-participant {userId, muted, roomId?}``: mute or unmute someone's microphone."""

    user_id: str
    muted: bool
    room_code: str | None


@dataclass(frozen=True)
class SetRecordingFrame:
    """``set-recording {enabled}``: start or stop recording the room (its owner or an operator)."""

    enabled: bool


@dataclass(frozen=True)
class StopVoiceSessionFrame:
    """``stop-voice-session``."""


@dataclass(frozen=True)
class SpeechTranscript:
    """``speech-transcript {transcript, sourceLang, soloMode?, soloTargetLang?}``.

    Text already recognized. With ``soloMode`` it has a mode of its own
    (``true``: solo into ``soloTargetLang``; ``false``: group); without, it
    takes the speaker's current mode.
    """

    text: str
    source_language: str
    mode: TranscriptMode | None = None


@dataclass(frozen=True)
class ClientErrorFrame:
    """``client-error {code, message, details?}``: the client reports a problem."""

    code: str
    message: str
    details: str | None


@dataclass(frozen=True)
class SetPreferencesFrame:
    """``set-preferences {speech?, sttEngine?, translationEngine?, ttsEngine?, voice?}``.

    Absent fields keep their value; an empty string resets an engine or voice.
    """

    speech: bool | None
    stt_engine: str | None
    translation_engine: str | None
    tts_engine: str | None
    voice: str | None


@dataclass(frozen=True)
class ResumeFrame:
    """``resume {since}``: send what was missed after position ``since``."""

    since: int


Command = (
    Authenticate
    | JoinRoomFrame
    | LeaveRoomFrame
    | SetLanguage
    | StartSpeechFrame
    | StopSpeechFrame
    | StartVoiceSessionFrame
    | StopVoiceSessionFrame
    | SpeechTranscript
    | ClientErrorFrame
    | ResumeFrame
    | SetPreferencesFrame
    | AskAssistantFrame
    | AssistantCommandFrame
    | SetAssistantFrame
    | CloseRoomFrame
    | RemoveParticipantFrame
    | MuteParticipantFrame
    | SetRecordingFrame
)


@dataclass(frozen=True)
class ClientFrame:
    """A parsed client frame: the command and the client's correlation id."""

    name: str
    command: Command
    ref: Ref


class Fields:
    """Typed access to a frame's ``data`` object, raising ProtocolError."""

    def __init__(self, data: dict[str, Any], ref: Ref) -> None:
        self.data = data
        self.ref = ref

    def _get(self, key: str, kind: type | tuple[type, ...], kind_name: str, required: bool) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise ProtocolError("missing_field", f"data.{key} is required", self.ref)
            return None
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ProtocolError("invalid_field", f"data.{key} must be {kind_name}", self.ref)
        return value

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A string field."""
        value: str | None = self._get(key, str, "a string", required)
        return value

    def required_text(self, key: str) -> str:
        """A string field that must be present."""
        value = self.text(key)
        assert value is not None
        return value

    def flag(self, key: str) -> bool:
        """An optional boolean field (absent means false)."""
        return bool(self.optional_flag(key))

    def optional_flag(self, key: str) -> bool | None:
        """An optional boolean field (None when absent)."""
        value: bool | None = self._get(key, bool, "a boolean", False)
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool,
        low: int,
        high: int,
        out_of_range: str = "invalid_field",
    ) -> int | None:
        """An integer field within ``[low, high]`` (a boolean is not an integer).

        Every integer has a range, so no value can overflow the store or the
        JSON encoder further in. ``out_of_range`` is the code for an integer
        outside it (a wrong type is always ``invalid_field``).
        """
        value: int | None = self._get(key, int, "an integer", required)
        if value is not None and not low <= value <= high:
            raise ProtocolError(out_of_range, f"data.{key} must be {low}-{high}", self.ref)
        return value

    def language(self, key: str, *, required: bool = True) -> str | None:
        """A language code field, normalized to ISO 639-1."""
        value = self.text(key, required=required)
        if value is None:
            return None
        try:
            return normalize_language(value)
        except UnknownLanguageError as error:
            raise ProtocolError(error.code, str(error), self.ref) from error


def parse_envelope(raw: str | bytes) -> tuple[str, Fields]:
    """The event name and typed ``data`` of one JSON text frame, with its ``ref``.

    The envelope ``{"event", "data"?, "ref"?}`` is shared by the users'
    protocol and the agents' channel.

    Raises:
        ProtocolError: ``frame_too_large``, ``malformed_json``,
            ``invalid_frame`` or ``invalid_field`` (a bad ``ref``).
    """
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_TEXT_FRAME_BYTES:
        raise ProtocolError(
            "frame_too_large", f"text frames are limited to {MAX_TEXT_FRAME_BYTES} bytes"
        )
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ProtocolError("malformed_json", f"frame is not valid JSON: {error}") from error
    if not isinstance(frame, dict):
        raise ProtocolError("invalid_frame", "a frame must be a JSON object")
    ref = frame.get("ref")
    if ref is not None and not _valid_ref(ref):
        raise ProtocolError(
            "invalid_field", f"ref must be a string or an integer -{MAX_REF}-{MAX_REF}"
        )
    name = frame.get("event")
    if not isinstance(name, str):
        raise ProtocolError("invalid_frame", 'a frame needs an "event" string', ref)
    data = frame.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError("invalid_frame", '"data" must be a JSON object', ref)
    return name, Fields(data, ref)


def _valid_ref(ref: object) -> bool:
    if isinstance(ref, bool):
        return False
    if isinstance(ref, int):
        return -MAX_REF <= ref <= MAX_REF
    return isinstance(ref, str)


def parse_frame(raw: str | bytes) -> ClientFrame:
    """Parse and validate one client text frame.

    Raises:
        ProtocolError: with one of the codes ``frame_too_large``,
            ``malformed_json``, ``invalid_frame``, ``unknown_event``,
            ``missing_field``, ``invalid_field``, ``unknown_language``,
            ``empty_transcript``, ``transcript_too_long``,
            ``unsupported_encoding``, ``invalid_sample_rate``, ``invalid_room_code``,
            ``empty_question``, ``question_too_long``.
    """
    name, fields = parse_envelope(raw)
    parser = _PARSERS.get(name)
    if parser is None:
        raise ProtocolError("unknown_event", f"unknown event {name!r}", fields.ref)
    return ClientFrame(name, parser(fields), fields.ref)


def _authenticate(fields: Fields) -> Command:
    return Authenticate(fields.required_text("token"))


def room_code(fields: Fields, key: str, *, required: bool) -> str | None:
    """A room code field, in the room-code alphabet."""
    code = fields.text(key, required=required)
    if code is not None and not ROOM_CODE.fullmatch(code):
        raise ProtocolError(
            "invalid_room_code", f"{key} is 1-64 letters, digits, '.', '_' or '-'", fields.ref
        )
    return code


def _solo_target(fields: Fields) -> str | None:
    """``soloTargetLang`` when ``soloMode`` is on (then required), else None."""
    solo_target = fields.language("soloTargetLang", required=False)
    if not fields.flag("soloMode"):
        return None
    if solo_target is None:
        raise ProtocolError("missing_field", "soloMode needs data.soloTargetLang", fields.ref)
    return solo_target


def _join_room(fields: Fields) -> Command:
    code = room_code(fields, "roomCode", required=True)
    assert code is not None
    return JoinRoomFrame(
        code,
        fields.language("language", required=False),
        _position(fields, "since", required=False),
    )


def _leave_room(_: Fields) -> Command:
    return LeaveRoomFrame()


def _set_language(fields: Fields) -> Command:
    language = fields.language("language")
    assert language is not None
    return SetLanguage(language)


def _assistant(fields: Fields, solo_target: str | None) -> bool:
    """``assistant``: assistant mode, which cannot be solo mode too."""
    assistant = fields.flag("assistant")
    if assistant and solo_target is not None:
        raise ProtocolError(
            "invalid_field", "assistant mode and soloMode cannot go together", fields.ref
        )
    return assistant


def _start_speech(fields: Fields) -> Command:
    language = fields.language("languageCode")
    assert language is not None
    solo_target = _solo_target(fields)
    assistant = _assistant(fields, solo_target)
    encoding = fields.text("encoding", required=False) or "LINEAR16"
    if encoding not in ENCODINGS:
        raise ProtocolError(
            "unsupported_encoding", f"encoding must be one of {', '.join(ENCODINGS)}", fields.ref
        )
    rate = fields.integer(
        "sampleRateHertz",
        required=False,
        low=MIN_SAMPLE_RATE,
        high=MAX_SAMPLE_RATE,
        out_of_range="invalid_sample_rate",
    )
    return StartSpeechFrame(
        language, solo_target, encoding, 16000 if rate is None else rate, assistant
    )


def _stop_speech(_: Fields) -> Command:
    return StopSpeechFrame()


def _start_voice_session(fields: Fields) -> Command:
    solo_target = _solo_target(fields)
    return StartVoiceSessionFrame(
        room_code(fields, "roomId", required=False),
        fields.language("languageCode", required=False),
        solo_target,
        _assistant(fields, solo_target),
    )


def _stop_voice_session(_: Fields) -> Command:
    return StopVoiceSessionFrame()


def _speech_transcript(fields: Fields) -> Command:
    text = fields.required_text("transcript").strip()
    if not text:
        raise ProtocolError("empty_transcript", "transcript is empty", fields.ref)
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise ProtocolError(
            "transcript_too_long",
            f"transcripts are limited to {MAX_TRANSCRIPT_CHARS} characters",
            fields.ref,
        )
    language = fields.language("sourceLang")
    assert language is not None
    mode = (
        None if fields.optional_flag("soloMode") is None else TranscriptMode(_solo_target(fields))
    )
    return SpeechTranscript(text, language, mode)


def _ask_assistant(fields: Fields) -> Command:
    text = fields.required_text("text").strip()
    if not text:
        raise ProtocolError("empty_question", "the question is empty", fields.ref)
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise ProtocolError(
            "question_too_long",
            f"questions are limited to {MAX_TRANSCRIPT_CHARS} characters",
            fields.ref,
        )
    return AskAssistantFrame(text)


def _assistant_command(fields: Fields) -> Command:
    text = fields.text("text")
    assert text is not None
    return AssistantCommandFrame(text)


def _set_assistant(fields: Fields) -> Command:
    enabled = fields.optional_flag("enabled")
    if enabled is None:
        raise ProtocolError("missing_field", "set-assistant needs data.enabled", fields.ref)
    return SetAssistantFrame(enabled)


def _set_recording(fields: Fields) -> Command:
    enabled = fields.optional_flag("enabled")
    if enabled is None:
        raise ProtocolError("missing_field", "set-recording needs data.enabled", fields.ref)
    return SetRecordingFrame(enabled)


def _client_error(fields: Fields) -> Command:
    message = fields.required_text("message")
    details = fields.data.get("details")
    details_text = None if details is None else orjson.dumps(details).decode()
    if len(message) > MAX_ERROR_MESSAGE_CHARS or len(details_text or "") > MAX_ERROR_MESSAGE_CHARS:
        raise ProtocolError("invalid_field", "client-error message or details too long", fields.ref)
    return ClientErrorFrame(fields.required_text("code")[:100], message, details_text)


def _set_preferences(fields: Fields) -> Command:
    speech = fields.optional_flag("speech")
    names = [
        fields.text(key, required=False)
        for key in ("sttEngine", "translationEngine", "ttsEngine", "voice")
    ]
    if speech is None and all(name is None for name in names):
        raise ProtocolError("missing_field", "set-preferences needs at least one field", fields.ref)
    if any(name is not None and not NAME.fullmatch(name) for name in names):
        raise ProtocolError(
            "invalid_field",
            "engine and voice names are at most 64 visible ASCII characters",
            fields.ref,
        )
    return SetPreferencesFrame(speech, *names)


def _user_id(fields: Fields) -> str:
    user_id = fields.required_text("userId")
    if not USER_ID.fullmatch(user_id):
        raise ProtocolError(
            "invalid_field", "data.userId is 1-128 letters, digits or . _ @ : -", fields.ref
        )
    return user_id


def _close_room(fields: Fields) -> Command:
    return CloseRoomFrame(room_code(fields, "roomId", required=False))


def _remove_participant(fields: Fields) -> Command:
    return RemoveParticipantFrame(
        _user_id(fields),
        room_code(fields, "roomId", required=False),
        fields.integer("barSeconds", required=False, low=0, high=MAX_BAR_S),
    )


def _mute_participant(fields: Fields) -> Command:
    muted = fields.optional_flag("muted")
    if muted is None:
        raise ProtocolError("missing_field", "data.muted is required", fields.ref)
    return MuteParticipantFrame(
        _user_id(fields), muted, room_code(fields, "roomId", required=False)
    )


def _resume(fields: Fields) -> Command:
    since = _position(fields, "since", required=True)
    assert since is not None
    return ResumeFrame(since)


def _position(fields: Fields, key: str, *, required: bool) -> int | None:
    """A log position: 0 (the start) up to the largest the store can hold."""
    return fields.integer(key, required=required, low=0, high=MAX_POSITION)


_PARSERS: dict[str, Callable[[Fields], Command]] = {
    "authenticate": _authenticate,
    "join-room": _join_room,
    "leave-room": _leave_room,
    "set-language": _set_language,
    "start-speech": _start_speech,
    "stop-speech": _stop_speech,
    "start-voice-session": _start_voice_session,
    "stop-voice-session": _stop_voice_session,
    "speech-transcript": _speech_transcript,
    "client-error": _client_error,
    "resume": _resume,
    "set-preferences": _set_preferences,
    "ask-assistant": _ask_assistant,
    "assistant-command": _assistant_command,
    "set-assistant": _set_assistant,
    "close-room": _close_room,
    "remove-participant": _remove_participant,
    "mute-participant": _mute_participant,
    "set-recording": _set_recording,
}

COMMAND_EVENTS = frozenset(_PARSERS)
"""Every command a client may send; each one with a ``ref`` is answered with it."""
