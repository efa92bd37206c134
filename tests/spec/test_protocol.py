"""The frame parsers, without a server: every bad input gets its stable code.

Table-driven, so a new rule is one row. The end-to-end tests
(``test_bad_input.py``) show the same codes reach a client over a WebSocket.
"""

from __future__ import annotations

import re
import time
from typing import Any
from uuid import uuid4

import jwt
import orjson
import pytest

from adapters.shells.auth import TokenError, issue_token, verify_user_token
from adapters.shells.livekit_agent.wire import decode_client
from adapters.shells.protocol import (
    COMMAND_EVENTS,
    MAX_POSITION,
    MAX_REF,
    AskAssistantFrame,
    AssistantCommandFrame,
    Authenticate,
    ClientErrorFrame,
    CloseRoomFrame,
    Command,
    JoinRoomFrame,
    LeaveRoomFrame,
    MuteParticipantFrame,
    ProtocolError,
    RemoveParticipantFrame,
    ResumeFrame,
    SetAssistantFrame,
    SetLanguage,
    SetPreferencesFrame,
    SetRecordingFrame,
    SpeechTranscript,
    StartSpeechFrame,
    StartVoiceSessionFrame,
    StopSpeechFrame,
    StopVoiceSessionFrame,
    parse_frame,
)
from events.domain import TranscriptMode

SECRET = "s3cret-for-the-parser-tests-0123456789abcdef"


def frame(event: str, data: dict[str, Any] | None = None, **envelope: Any) -> bytes:
    return orjson.dumps({"event": event, "data": data or {}, **envelope})


def transcript(**extra: Any) -> bytes:
    return frame("speech-transcript", {"transcript": "hi", "sourceLang": "en", **extra})


def start_speech(**extra: Any) -> bytes:
    return frame("start-speech", {"languageCode": "en", **extra})


BAD: list[tuple[str, str | bytes, str]] = [
    # the assistant
    ("empty question", frame("ask-assistant", {"text": "  "}), "empty_question"),
    ("question too long", frame("ask-assistant", {"text": "q" * 5001}), "question_too_long"),
    ("command without text", frame("assistant-command", {}), "missing_field"),
    ("command not text", frame("assistant-command", {"text": 3}), "invalid_field"),
    ("set-assistant without enabled", frame("set-assistant", {}), "missing_field"),
    ("set-recording without enabled", frame("set-recording", {}), "missing_field"),
    (
        "set-recording enabled not a flag",
        frame("set-recording", {"enabled": "yes"}),
        "invalid_field",
    ),
    (
        "assistant and solo together",
        frame(
            "start-speech",
            {"languageCode": "en", "assistant": True, "soloMode": True, "soloTargetLang": "es"},
        ),
        "invalid_field",
    ),
    # room codes are matched whole: a trailing newline is not a room code
    ("room code with newline", frame("join-room", {"roomCode": "abc\n"}), "invalid_room_code"),
    ("empty room code", frame("join-room", {"roomCode": ""}), "invalid_room_code"),
    ("room code too long", frame("join-room", {"roomCode": "a" * 65}), "invalid_room_code"),
    (
        "voice room with newline",
        frame("start-voice-session", {"roomId": "abc\n"}),
        "invalid_room_code",
    ),
    # positions: 0 up to the largest signed 64-bit integer
    ("since 2**63", frame("resume", {"since": 2**63}), "invalid_field"),
    (
        "since 2**64 (a float to JSON)",
        b'{"event":"resume","data":{"since":18446744073709551616}}',
        "invalid_field",
    ),
    ("since negative", frame("resume", {"since": -1}), "invalid_field"),
    ("since true", frame("resume", {"since": True}), "invalid_field"),
    ("since a float", frame("resume", {"since": 1.5}), "invalid_field"),
    ("since a string", frame("resume", {"since": "3"}), "invalid_field"),
    ("since missing", frame("resume"), "missing_field"),
    ("join since 2**63", frame("join-room", {"roomCode": "r", "since": 2**63}), "invalid_field"),
    # sample rates: 8000-48000; 0 is not "the default"
    ("sample rate 0", start_speech(sampleRateHertz=0), "invalid_sample_rate"),
    ("sample rate 7999", start_speech(sampleRateHertz=7999), "invalid_sample_rate"),
    ("sample rate 48001", start_speech(sampleRateHertz=48001), "invalid_sample_rate"),
    ("sample rate 2**63", start_speech(sampleRateHertz=2**63), "invalid_sample_rate"),
    ("sample rate true", start_speech(sampleRateHertz=True), "invalid_field"),
    ("sample rate a string", start_speech(sampleRateHertz="16000"), "invalid_field"),
    ("unknown encoding", start_speech(encoding="MP3"), "unsupported_encoding"),
    # refs: a string, or an integer a JavaScript client holds exactly
    ("ref true", frame("leave-room", ref=True), "invalid_field"),
    ("ref 2**53", frame("leave-room", ref=MAX_REF + 1), "invalid_field"),
    ("ref -2**53", frame("leave-room", ref=-MAX_REF - 1), "invalid_field"),
    ("ref a float", frame("leave-room", ref=1.5), "invalid_field"),
    ("ref a list", frame("leave-room", ref=[1]), "invalid_field"),
    # language codes are matched whole too
    ("language with newline", frame("set-language", {"language": "en\n"}), "unknown_language"),
    ("language with space", frame("set-language", {"language": "en US"}), "unknown_language"),
    ("language too short", frame("set-language", {"language": "e"}), "unknown_language"),
    ("language unknown", frame("set-language", {"language": "xx"}), "unknown_language"),
    ("language not a string", frame("set-language", {"language": 1}), "invalid_field"),
    # engine and voice names: visible ASCII, at most 64
    ("voice with newline", frame("set-preferences", {"voice": "en\n"}), "invalid_field"),
    ("engine with space", frame("set-preferences", {"ttsEngine": "a b"}), "invalid_field"),
    ("engine too long", frame("set-preferences", {"sttEngine": "e" * 65}), "invalid_field"),
    ("speech not a bool", frame("set-preferences", {"speech": 1}), "invalid_field"),
    ("no preference", frame("set-preferences"), "missing_field"),
    # a transcript's own solo mode is checked like start-speech's
    ("solo transcript without target", transcript(soloMode=True), "missing_field"),
    ("solo transcript bad flag", transcript(soloMode="yes", soloTargetLang="es"), "invalid_field"),
    (
        "solo transcript bad target",
        transcript(soloMode=True, soloTargetLang="xx"),
        "unknown_language",
    ),
    ("start-speech solo without target", start_speech(soloMode=True), "missing_field"),
    # the envelope
    ("malformed json", "{not json", "malformed_json"),
    ("not an object", "[1]", "invalid_frame"),
    ("no event", '{"data": {}}', "invalid_frame"),
    ("data not an object", '{"event": "leave-room", "data": []}', "invalid_frame"),
    ("unknown event", frame("dance"), "unknown_event"),
    (
        "frame too large",
        frame("client-error", {"code": "c", "message": "x" * 70_000}),
        "frame_too_large",
    ),
    (
        "empty transcript",
        frame("speech-transcript", {"transcript": " ", "sourceLang": "en"}),
        "empty_transcript",
    ),
    (
        "long transcript",
        frame("speech-transcript", {"transcript": "x" * 5001, "sourceLang": "en"}),
        "transcript_too_long",
    ),
    # what the end-to-end table (test_bad_input.py) sends, stated on the parser
    ("event not a string", '{"event": 5}', "invalid_frame"),
    ("not json bytes", b"\xff\xfe", "malformed_json"),
    ("transcript missing", frame("speech-transcript", {"sourceLang": "en"}), "missing_field"),
    ("transcript null", transcript(transcript=None), "missing_field"),
    ("transcript a number", transcript(transcript=5), "invalid_field"),
    ("source language missing", frame("speech-transcript", {"transcript": "hi"}), "missing_field"),
    ("source language unknown", transcript(sourceLang="xx"), "unknown_language"),
    ("room code with a space", frame("join-room", {"roomCode": "no spaces!"}), "invalid_room_code"),
    ("room code missing", frame("join-room"), "missing_field"),
    ("room code a number", frame("join-room", {"roomCode": 7}), "invalid_field"),
    ("token missing", frame("authenticate"), "missing_field"),
    ("language missing", frame("set-language"), "missing_field"),
    ("spoken language missing", frame("start-speech"), "missing_field"),
    ("encoding in lower case", start_speech(encoding="linear16"), "unsupported_encoding"),
    ("solo flag a string", start_speech(soloMode="true", soloTargetLang="es"), "invalid_field"),
    (
        "voice session bad language",
        frame("start-voice-session", {"languageCode": "xx"}),
        "unknown_language",
    ),
    ("client error without code", frame("client-error", {"message": "m"}), "missing_field"),
    ("client error without message", frame("client-error", {"code": "c"}), "missing_field"),
    (
        "client error message too long",
        frame("client-error", {"code": "c", "message": "x" * 2001}),
        "invalid_field",
    ),
    (
        "client error details too long",
        frame("client-error", {"code": "c", "message": "m", "details": {"d": "x" * 2001}}),
        "invalid_field",
    ),
]


@pytest.mark.parametrize(("raw", "code"), [(r, c) for _, r, c in BAD], ids=[n for n, _, _ in BAD])
def test_bad_frames_are_refused_with_their_code(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_frame(raw)
    assert refused.value.code == code
    assert refused.value.message


def test_every_code_the_parser_documents_has_a_row() -> None:
    """A new refusal in ``parse_frame`` needs a row here (and in the README's table)."""
    documented = set(re.findall(r"``(\w+)``", (parse_frame.__doc__ or "").split("Raises:")[1]))
    assert documented == {code for _, _, code in BAD}


def test_a_refusal_echoes_the_frames_ref() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_frame(frame("resume", {"since": 2**63}, ref="r-1"))
    assert refused.value.ref == "r-1"


GOOD: list[tuple[str, str | bytes, Command]] = [
    ("authenticate", frame("authenticate", {"token": "t0k"}), Authenticate("t0k")),
    ("join", frame("join-room", {"roomCode": "r1"}), JoinRoomFrame("r1", None, None)),
    (
        "join in a language, resuming",
        frame("join-room", {"roomCode": "r1", "language": "es-MX", "since": 0}),
        JoinRoomFrame("r1", "es", 0),
    ),
    ("leave", frame("leave-room"), LeaveRoomFrame()),
    ("leave with data null", '{"event": "leave-room", "data": null}', LeaveRoomFrame()),
    ("leave without data", '{"event": "leave-room"}', LeaveRoomFrame()),
    ("set language", frame("set-language", {"language": "fr"}), SetLanguage("fr")),
    ("speech", start_speech(), StartSpeechFrame("en", None, "LINEAR16", 16000)),
    (
        "solo Opus speech",
        start_speech(
            soloMode=True, soloTargetLang="de", encoding="OGG_OPUS", sampleRateHertz=48000
        ),
        StartSpeechFrame("en", "de", "OGG_OPUS", 48000),
    ),
    (
        "a solo target without solo mode is ignored",
        start_speech(soloMode=False, soloTargetLang="de"),
        StartSpeechFrame("en", None, "LINEAR16", 16000),
    ),
    ("stop speech", frame("stop-speech"), StopSpeechFrame()),
    ("voice session", frame("start-voice-session"), StartVoiceSessionFrame(None, None, None)),
    (
        "solo voice session in another room",
        frame(
            "start-voice-session",
            {"roomId": "r2", "languageCode": "en-GB", "soloMode": True, "soloTargetLang": "es"},
        ),
        StartVoiceSessionFrame("r2", "en", "es"),
    ),
    ("stop voice session", frame("stop-voice-session"), StopVoiceSessionFrame()),
    ("transcript, trimmed", transcript(transcript="  hi \n"), SpeechTranscript("hi", "en")),
    (
        "client error with details",
        frame("client-error", {"code": "mic", "message": "denied", "details": {"n": 1}}),
        ClientErrorFrame("mic", "denied", '{"n":1}'),
    ),
    (
        "client error code cut at 100",
        frame("client-error", {"code": "c" * 150, "message": "m"}),
        ClientErrorFrame("c" * 100, "m", None),
    ),
    ("resume", frame("resume", {"since": 42}), ResumeFrame(42)),
    (
        "preferences: absent keeps, empty resets",
        frame("set-preferences", {"speech": False, "ttsEngine": ""}),
        SetPreferencesFrame(False, None, None, "", None),
    ),
    (
        "typed question, trimmed",
        frame("ask-assistant", {"text": " why? "}),
        AskAssistantFrame("why?"),
    ),
    ("typed command", frame("assistant-command", {"text": "help"}), AssistantCommandFrame("help")),
    ("assistant on", frame("set-assistant", {"enabled": True}), SetAssistantFrame(True)),
    ("recording off", frame("set-recording", {"enabled": False}), SetRecordingFrame(False)),
    (
        "speech for the assistant",
        frame("start-speech", {"languageCode": "en", "assistant": True}),
        StartSpeechFrame("en", None, "LINEAR16", 16000, assistant=True),
    ),
    (
        "voice session with the assistant",
        frame("start-voice-session", {"assistant": True}),
        StartVoiceSessionFrame(None, None, None, assistant=True),
    ),
    ("close the room", frame("close-room", {"roomId": "r1"}), CloseRoomFrame("r1")),
    (
        "remove someone",
        frame("remove-participant", {"userId": "bob"}),
        RemoveParticipantFrame("bob", None, None),
    ),
    (
        "mute someone",
        frame("mute-participant", {"userId": "bob", "muted": True}),
        MuteParticipantFrame("bob", True, None),
    ),
]


@pytest.mark.parametrize(
    ("raw", "command"), [(r, c) for _, r, c in GOOD], ids=[n for n, _, _ in GOOD]
)
def test_good_frames_parse_to_their_typed_command(raw: str | bytes, command: Command) -> None:
    assert parse_frame(raw).command == command


def test_every_client_event_has_a_good_frame() -> None:
    """Each command a client may send is shown parsing, so none is untested."""
    assert {orjson.loads(raw)["event"] for _, raw, _ in GOOD} == COMMAND_EVENTS


def test_values_at_the_edges_of_their_ranges_are_accepted() -> None:
    assert parse_frame(frame("resume", {"since": MAX_POSITION})).command == ResumeFrame(
        MAX_POSITION
    )
    assert parse_frame(frame("resume", {"since": 0})).command == ResumeFrame(0)
    joined = parse_frame(frame("join-room", {"roomCode": "a.b_c-9", "since": 5}))
    assert joined.command == JoinRoomFrame("a.b_c-9", None, 5)
    for rate in (8000, 48000):
        speech = parse_frame(start_speech(sampleRateHertz=rate)).command
        assert isinstance(speech, StartSpeechFrame) and speech.sample_rate == rate
    default = parse_frame(start_speech()).command
    assert isinstance(default, StartSpeechFrame) and default.sample_rate == 16000
    for ref in (MAX_REF, -MAX_REF, "any string"):
        assert parse_frame(frame("leave-room", ref=ref)).ref == ref
    assert parse_frame(frame("set-language", {"language": "pt_BR"})).command.language == "pt"  # type: ignore[union-attr]
    assert parse_frame(frame("set-preferences", {"voice": "en-us+f3"})).name == "set-preferences"


def test_a_transcript_may_carry_its_own_mode() -> None:
    def mode(raw: bytes) -> TranscriptMode | None:
        command = parse_frame(raw).command
        assert isinstance(command, SpeechTranscript)
        return command.mode

    assert mode(transcript()) is None, "no soloMode: the speaker's own mode"
    assert mode(transcript(soloMode=True, soloTargetLang="es-ES")) == TranscriptMode("es")
    assert mode(transcript(soloMode=False)) == TranscriptMode(None), "explicitly group"


def agent_transcript(**changes: Any) -> str:
    data = {
        "roomCode": "r1",
        "speakerId": "alice",
        "utteranceId": str(uuid4()),
        "text": "hello",
        "language": "en",
        "engine": "faster-whisper",
        "durationMs": 1200,
        "decodeMs": 80,
        "fallbacks": [],
        **changes,
    }
    return orjson.dumps({"event": "transcript", "data": data, "ref": 1}).decode()


def agent_synthesized(**changes: Any) -> str:
    data = {
        "roomCode": "r1",
        "transcriptId": str(uuid4()),
        "language": "es",
        "voice": "es",
        "engine": "espeak-ng",
        "sampleRate": 22050,
        "audioMs": 900,
        "firstChunkMs": 40,
        "fallbacks": [],
        **changes,
    }
    return orjson.dumps({"event": "synthesized", "data": data}).decode()


AGENT_BAD: list[tuple[str, str, str]] = [
    ("duration 2**63", agent_transcript(durationMs=2**63), "invalid_field"),
    ("duration over a day", agent_transcript(durationMs=86_400_001), "invalid_field"),
    ("duration negative", agent_transcript(durationMs=-1), "invalid_field"),
    ("decode true", agent_transcript(decodeMs=True), "invalid_field"),
    ("speaker with newline", agent_transcript(speakerId="alice\n"), "invalid_field"),
    ("room with newline", agent_transcript(roomCode="r1\n"), "invalid_room_code"),
    ("engine with newline", agent_transcript(engine="whisper\n"), "invalid_field"),
    ("fallback with space", agent_transcript(fallbacks=["a b"]), "invalid_field"),
    ("sample rate 10**6", agent_synthesized(sampleRate=10**6), "invalid_field"),
    ("audio 2**63", agent_synthesized(audioMs=2**63), "invalid_field"),
    ("first chunk a float", agent_synthesized(firstChunkMs=1.5), "invalid_field"),
]


@pytest.mark.parametrize(
    ("raw", "code"), [(r, c) for _, r, c in AGENT_BAD], ids=[n for n, _, _ in AGENT_BAD]
)
def test_bad_agent_frames_are_refused_with_their_code(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode_client(raw)
    assert refused.value.code == code


def test_good_agent_frames_pass() -> None:
    assert decode_client(agent_transcript()).ref == 1
    assert decode_client(agent_synthesized(sampleRate=0, voice=None, errorCode="tts_failed"))


def test_user_ids_in_tokens_are_matched_whole() -> None:
    with pytest.raises(ValueError):
        issue_token(SECRET, "alice\n", "Alice", "en", 60)
    now = int(time.time())
    forged_shape = jwt.encode(
        {"sub": "alice\n", "kind": "user", "iat": now, "exp": now + 60}, SECRET, "HS256"
    )
    with pytest.raises(TokenError) as refused:
        verify_user_token(SECRET, forged_shape)
    assert refused.value.code == "invalid_token"
    language_with_newline = jwt.encode(
        {"sub": "alice", "lang": "en\n", "kind": "user", "iat": now, "exp": now + 60},
        SECRET,
        "HS256",
    )
    with pytest.raises(TokenError):
        verify_user_token(SECRET, language_with_newline)
    assert verify_user_token(SECRET, issue_token(SECRET, "a.b@c:d-e_f", "A", "en", 60)).user_id
