"""LiveKit data packets and the assistant's agent-channel frames, without a server.

A client's ``useLiveKitVoice`` hook sends ``{type: "command", text,
timestamp}`` and reads ``transcription`` and ``assistant_response`` packets;
the agent passes commands on to voicemode, which tells it of answers, over
the agent channel's wire.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from actors.agent_messages import (
    AssistantAnswered,
    AssistantCommand,
    SpeechBegan,
    TranslationToSpeak,
)
from adapters.shells.livekit_agent.answers import MAX_ANSWERS, SpokenAnswers
from adapters.shells.livekit_agent.data_packets import (
    MalformedCommandError,
    assistant_response_packet,
    command_text,
    error_packet,
    transcription_packet,
)
from adapters.shells.livekit_agent.wire import (
    Framed,
    decode_client,
    decode_server,
    encode_client,
    encode_server,
)
from adapters.shells.protocol import ProtocolError

ANSWER = AssistantAnswered(
    "r",
    None,
    uuid4(),
    "alice",
    "What is the capital of France?",
    "Paris.",
    "en",
    False,
    None,
    1_700_000,
)


def packet(**fields: Any) -> bytes:
    return orjson.dumps(fields)


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (packet(type="command", text="help", timestamp=1_732_000_000_000), "help"),
        (packet(type="command", text="clear"), "clear"),
        (packet(type="command", text=""), ""),
        (
            packet(type="command", text="  switch language to Spanish "),
            "  switch language to Spanish ",
        ),
        ('{"type":"command","text":"ayuda ¿qué?"}'.encode(), "ayuda ¿qué?"),
    ],
)
def test_the_hooks_command_packet_gives_its_text_unparsed(payload: bytes, text: str) -> None:
    assert command_text(payload) == text


@pytest.mark.parametrize(
    "payload",
    [
        packet(type="transcription", text="hi"),
        packet(type="assistant_response", transcript="q", response="a"),
        packet(type="chat", message="hello everyone"),
        packet(type="Command", text="help"),
    ],
)
def test_packets_of_other_types_are_not_commands(payload: bytes) -> None:
    assert command_text(payload) is None


@pytest.mark.parametrize(
    "payload",
    [
        b"help",
        b"",
        b"\xff\xfe{}",
        b'{"type": "command", "text": "help"',
        b"[]",
        b'"command"',
        b"42",
        b"null",
        packet(text="help"),
        packet(type=None, text="help"),
        packet(type=7, text="help"),
        packet(type="command"),
        packet(type="command", text=None),
        packet(type="command", text=["help"]),
        packet(type="command", text=42),
    ],
)
def test_packets_that_cannot_be_read_as_commands_are_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedCommandError) as refused:
        command_text(payload)
    assert refused.value.code == "malformed_command"
    assert refused.value.message


def test_a_transcription_packet_is_what_the_hook_shows() -> None:
    sent = orjson.loads(transcription_packet("Hello there", "en", "alice", 1_732_000_000_123))
    assert sent == {
        "type": "transcription",
        "text": "Hello there",
        "language": "en",
        "participantIdentity": "alice",
        "final": True,
        "timestamp": 1_732_000_000_123,
    }


def test_an_assistant_response_carries_the_question_and_what_was_delivered() -> None:
    sent = orjson.loads(assistant_response_packet(ANSWER))
    assert sent["type"] == "assistant_response"
    assert sent["transcript"] == ANSWER.question and sent["response"] == "Paris."
    assert sent["timestamp"] == ANSWER.timestamp_ms
    assert sent["language"] == "en" and sent["interrupted"] is False
    assert sent["participantIdentity"] == "alice" and sent["errorCode"] is None


def test_an_error_packet_names_its_code() -> None:
    sent = orjson.loads(error_packet("unknown_command", "say help", 5))
    assert sent == {
        "type": "error",
        "code": "unknown_command",
        "message": "say help",
        "timestamp": 5,
    }


# the agent channel's frames for the assistant ---------------------------------


@pytest.mark.parametrize(
    "message",
    [
        AssistantCommand("team-42", "alice", "clear"),
        AssistantCommand("r", "bob@example.com", ""),
        SpeechBegan("r", "alice"),
    ],
)
def test_the_agents_assistant_messages_survive_the_wire(message: Any) -> None:
    assert decode_client(encode_client(message, 3).decode()) == Framed(message, 3)


@pytest.mark.parametrize(
    "message",
    [
        ANSWER,
        AssistantAnswered("r", "alice", uuid4(), "alice", "q", "It is", "es", True, None, 2**40),
        AssistantAnswered(
            "r", None, uuid4(), "bob", "q", "", "en", False, "assistant_unavailable", 0
        ),
        TranslationToSpeak(
            "r", uuid4(), "assistant", "es", "París.", audience=("bob",), answer_id=uuid4()
        ),
        TranslationToSpeak(
            "r", uuid4(), "assistant", "en", "Paris.", audience=(), answer_id=uuid4()
        ),
        TranslationToSpeak("r", uuid4(), "alice", "es", "hola"),
    ],
)
def test_answers_and_their_sentences_survive_the_wire(message: Any) -> None:
    assert decode_server(encode_server(message).decode()) == Framed(message)


def test_a_translation_from_an_older_voicemode_is_heard_by_everyone() -> None:
    frame = orjson.loads(encode_server(TranslationToSpeak("r", uuid4(), "alice", "es", "hola")))
    del frame["data"]["audience"], frame["data"]["answerId"]
    translation = decode_server(orjson.dumps(frame).decode()).message
    assert isinstance(translation, TranslationToSpeak)
    assert translation.audience is None and not translation.assistant


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"roomCode": "r", "text": "help"}, "missing_field"),
        ({"roomCode": "r", "userId": "alice"}, "missing_field"),
        ({"roomCode": "r", "userId": "al ice", "text": "help"}, "invalid_field"),
        ({"roomCode": "r", "userId": "alice", "text": 3}, "invalid_field"),
        ({"roomCode": "no spaces", "userId": "alice", "text": "help"}, "invalid_room_code"),
    ],
)
def test_a_bad_command_frame_is_refused_with_its_code(data: dict[str, Any], code: str) -> None:
    raw = orjson.dumps({"event": "command", "data": data, "ref": 1}).decode()
    with pytest.raises(ProtocolError) as refused:
        decode_client(raw)
    assert refused.value.code == code and refused.value.ref == 1


def test_an_audience_must_be_user_ids() -> None:
    frame = orjson.loads(encode_server(TranslationToSpeak("r", uuid4(), "assistant", "es", "x")))
    frame["data"]["audience"] = ["bob", "not a user"]
    with pytest.raises(ProtocolError) as refused:
        decode_server(orjson.dumps(frame).decode())
    assert refused.value.code == "invalid_field"


# barge-in: which answers stop ----------------------------------------------------


def sentence(
    answer_id: UUID, language: str, audience: tuple[str, ...] | None
) -> TranslationToSpeak:
    return TranslationToSpeak("r", uuid4(), "assistant", language, "x", False, audience, answer_id)


def test_an_answer_stops_in_every_language_when_anyone_who_hears_it_speaks() -> None:
    answers = SpokenAnswers()
    shared, private = uuid4(), uuid4()
    assert answers.admit(sentence(shared, "en", ("alice",)))
    assert answers.admit(sentence(shared, "es", ("bob",)))
    assert answers.admit(sentence(private, "en", ("carol",)))
    assert answers.interrupt("bob") == {shared}
    assert not answers.admit(sentence(shared, "en", ("alice",)))
    assert answers.admit(sentence(private, "en", ("carol",)))
    assert answers.interrupt("dave") == frozenset()


def test_an_answer_heard_by_everyone_stops_for_anyone() -> None:
    answers = SpokenAnswers()
    everyone = uuid4()
    answers.admit(sentence(everyone, "en", None))
    assert answers.interrupt("zoe") == {everyone}


def test_a_recorded_answer_is_forgotten_and_so_is_the_oldest_beyond_the_limit() -> None:
    answers = SpokenAnswers()
    first = uuid4()
    answers.admit(sentence(first, "en", ("alice",)))
    answers.interrupt("alice")
    answers.answered(first)
    assert answers.admit(sentence(first, "en", ("alice",)))
    for _ in range(MAX_ANSWERS):
        answers.admit(sentence(uuid4(), "en", ("bob",)))
    assert answers.interrupt("alice") == frozenset()
