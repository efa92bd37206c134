"""Who speaks a translation to whom: the WebSocket or the room's LiveKit agent, never both.

A listener in a voice session hears group translations on the agent's
``tts-<lang>`` track, so their WebSocket carries the text only; everyone else
hears them as ``synthesized-speech``. What each channel spoke is recorded
once, as a SpeechSynthesized of that channel. No LiveKit server here: the
rules are pure, and the recording goes through a real SQLite store.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.domain import DomainEvent

from actors.agent_messages import RoomMembers, SynthesisReport
from actors.service import ServiceSettings, VoiceService
from actors.speech import SpeechEnd, SpeechHeader, SpeechKey, SpeechPiece, SpeechSynthesis
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.engines.tts.espeak import EspeakSynthesizer
from adapters.engines.tts.registry import SynthesizerRegistry
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.frames import Listener, frames_for, spoken_on_websocket
from events.domain import (
    LIVEKIT_CHANNEL,
    WEBSOCKET_CHANNEL,
    Room,
    SpeechSynthesized,
    TranslationProduced,
    room_id_for,
    speech_id_for,
)
from events.store import EventStore, Recorded


def translated(room: Room, speaker: str, text: str, target: str, solo: bool = False) -> Recorded:
    """A transcript's translation as the fan-out records it (position filled in later)."""
    transcript_id = uuid4()
    event = TranslationProduced(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=TranslationProduced.create_timestamp(),
        room_id=room.id,
        transcript_id=transcript_id,
        speaker_id=speaker,
        speaker_name=speaker.capitalize(),
        original_text=text,
        translated_text=f"[{target}] {text}",
        source_language="en",
        target_language=target,
        solo=solo,
        engine="identity",
        latency_ms=1,
        fallbacks=(),
        error_code=None,
    )
    return Recorded(0, event)


def heard_by(listener: Listener, log: list[Recorded]) -> list[tuple[str, str, bool]]:
    """(frame, translated text, spoken over the WebSocket) for each translation frame."""
    heard = []
    for position, recorded in enumerate(log, 1):
        for frame in frames_for(listener, Recorded(position, recorded.event)):
            if "translatedText" in frame["data"]:
                text = frame["data"]["translatedText"]
                heard.append((frame["event"], text, spoken_on_websocket(listener, frame)))
    return heard


def room_log(room: Room) -> list[Recorded]:
    return [Recorded(0, e) for e in room.collect_events() if isinstance(e, DomainEvent)]


def test_a_listener_in_a_voice_session_hears_group_translations_on_livekit_only() -> None:
    room = Room(code="r")
    room.join("alice", "Alice", "en")
    room.join("bob", "Bob", "es")
    room.join("carol", "Carol", "es")
    log = room_log(room)
    log.append(translated(room, "alice", "before", "es"))
    room.start_voice("bob", "es", None, "r")
    log += room_log(room)
    log.append(translated(room, "alice", "during", "es"))
    room.end_voice("bob", "stopped")
    log += room_log(room)
    log.append(translated(room, "alice", "after", "es"))

    bob = heard_by(Listener("bob", "en"), log)
    assert bob == [
        ("translated-message", "[es] before", True),
        ("translated-message", "[es] during", False),
        ("translated-message", "[es] after", True),
    ], "in a voice session the text still comes over the WebSocket, the speech does not"
    carol = heard_by(Listener("carol", "en"), log)
    assert [spoken for *_, spoken in carol] == [True, True, True]


def test_solo_translations_stay_spoken_on_the_websocket_in_a_voice_session() -> None:
    """The agent never speaks solo translations (its tracks are shared), so the WebSocket does."""
    room = Room(code="r")
    room.join("bob", "Bob", "en")
    room.start_voice("bob", "en", "es", "r")
    log = [*room_log(room), translated(room, "bob", "mine", "es", solo=True)]
    assert heard_by(Listener("bob", "en"), log) == [("solo-translated", "[es] mine", True)]


def test_a_session_that_outlived_serve_holds_from_the_join() -> None:
    """Rejoining while the voice session is still on records nothing new; the join says so."""
    room = Room(code="r")
    room.join("bob", "Bob", "es")
    room.start_voice("bob", "es", None, "r")
    room.collect_events()
    room.join("bob", "Bob", "es")
    assert not room.collect_events()
    listener = Listener("bob", "es", in_voice_session=room.members["bob"].voice is not None)
    assert heard_by(listener, [translated(room, "alice", "hello", "es")]) == [
        ("translated-message", "[es] hello", False)
    ]


def test_the_agent_speaks_only_languages_heard_by_someone_in_the_livekit_room() -> None:
    members = RoomMembers("r", {"alice": "en", "bob": "es", "carol": "es", "dave": "fr"})
    assert members.languages_of({"alice", "bob", "agent-1", "stranger"}) == {"en", "es"}
    assert members.languages_of(set()) == frozenset()


def test_a_websocket_and_a_livekit_synthesis_have_different_streams() -> None:
    transcript = uuid4()
    websocket = speech_id_for(transcript, "es", "es", "espeak-ng")
    assert websocket == speech_id_for(transcript, "es", "es", "espeak-ng", WEBSOCKET_CHANNEL)
    assert websocket != speech_id_for(transcript, "es", "es", "espeak-ng", LIVEKIT_CHANNEL)


def test_both_channels_speaking_one_translation_are_both_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The agent's report of a translation a WebSocket listener also heard is not refused."""
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([IdentityTranslator()]),
        ServiceSettings(),
    )
    synthesis = SpeechSynthesis(SynthesizerRegistry([EspeakSynthesizer()]), service.writer)
    transcript = uuid4()
    room_id = room_id_for("r")
    pieces: list[SpeechPiece] = []
    done = threading.Event()

    def hear(_: SpeechKey, piece: SpeechPiece) -> None:
        pieces.append(piece)
        if isinstance(piece, SpeechEnd):
            done.set()

    def spoken() -> list[SpeechSynthesized]:
        events = [recorded.event for recorded in service.store.read_room("r")]
        return [e for e in events if isinstance(e, SpeechSynthesized)]

    try:
        with caplog.at_level(logging.INFO):
            synthesis.request(room_id, SpeechKey(transcript, "es", None, ()), "hola", hear)
            assert done.wait(30)
            header = pieces[0]
            assert isinstance(header, SpeechHeader)
            _wait_until(lambda: len(spoken()) == 1)
            report = SynthesisReport(
                "r", transcript, "es", header.voice, header.engine, 22050, 600, 40, (), None
            )
            asyncio.run(DirectControlPlane(service).synthesized(report))
            _wait_until(lambda: len(spoken()) == 2)
        channels = sorted((e.channel, e.transcript_id, e.language) for e in spoken())
        assert channels == [("livekit", transcript, "es"), ("websocket", transcript, "es")]
        assert "append refused" not in caplog.text and "not recorded" not in caplog.text
    finally:
        synthesis.close()
        service.close()


def _wait_until(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
