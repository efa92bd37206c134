"""The LiveKit agent against a real LiveKit server (v1.13.5) and real rtc clients.

voicemode is a real in-process VoiceService with the embedded speech engines
(faster-whisper, espeak-ng) and Apertium; its participants join the room
first, as the WebSocket gateway would make them. People are livekit.rtc rooms
(LiveKit's Rust SDK): a speaker publishes espeak-ng English on a microphone
track, pushed in real time; a listener subscribes to the ``tts-es`` track and
the ``lk.transcription`` text streams. The agent is dispatched by the LiveKit
server to a worker registered under its agent name, or, where the test must
hold the agent's own room (to force it to reconnect), started directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from livekit import api, rtc
from livekit.protocol import models
from livekit.protocol.agent import Job

from actors.agent_messages import (
    ControlPlaneError,
    FinalTranscript,
    PartialTranscript,
    RoomMembers,
    TranslationToSpeak,
)
from actors.messages import Accepted, JoinRoom, Outcome, RoomCommand, SubmitTranscript
from actors.service import ServiceSettings, SpeechStack, VoiceService
from adapters.engines.translation.apertium import ApertiumTranslator
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent.agent import AgentSettings, VoiceAgent
from adapters.shells.livekit_agent.worker import build_agent_server, room_code_of
from events.domain import Room, SpeechSynthesized, TranslationProduced
from events.store import EventStore
from runtime import build_speech
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import MIC_RATE, Listener, Speaker, eventually, token
from tests.support.speech import word_error_rate

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

FIRST = "The weather today is sunny with a light breeze from the west."
SECOND = "Please send me the report before the meeting on Friday."
WER_LIMIT = 0.3
SILENT_S = 3.0
"""How long a silent room is watched for audio the agent should not send."""


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


class RecordingControlPlane(DirectControlPlane):
    """The in-process control plane, remembering the captions it passed on (never stored)."""

    def __init__(self, service: VoiceService, partials: list[PartialTranscript]) -> None:
        super().__init__(service)
        self.partials = partials

    async def partial(self, caption: PartialTranscript) -> None:
        self.partials.append(caption)
        await super().partial(caption)


@dataclass
class Voicemode:
    """The voicemode side: the service and the speech engines it shares with the agent."""

    service: VoiceService
    speech: SpeechStack
    partials: list[PartialTranscript] = field(default_factory=list)

    def control_plane(self) -> DirectControlPlane:
        return RecordingControlPlane(self.service, self.partials)

    async def join(self, code: str, user: str, language: str) -> None:
        await join(self.service, code, user, language)

    async def type_text(self, code: str, user: str, text: str, language: str) -> None:
        """What ``user`` types into the room, as the WebSocket's typed messages arrive."""
        outcome = await ask_room(
            self.service,
            code,
            lambda reply: SubmitTranscript(user, text, language, "client", 0, reply),
        )
        assert isinstance(outcome, Accepted)

    async def events(self, code: str) -> list[Any]:
        loop = asyncio.get_running_loop()
        recorded = await loop.run_in_executor(
            None, lambda: list(self.service.store.read_room(code))
        )
        return [entry.event for entry in recorded]

    async def transcripts(self, code: str) -> list[Room.TranscriptRecognized]:
        return [e for e in await self.events(code) if isinstance(e, Room.TranscriptRecognized)]


async def ask_room(
    service: VoiceService, code: str, message: Callable[[Callable[[Outcome], None]], RoomCommand]
) -> Outcome:
    """Tell room ``code`` the message ``message(reply)`` builds, and await its reply."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def reply(outcome: Outcome) -> None:
        loop.call_soon_threadsafe(answer.set_result, outcome)

    service.tell_room(code, message(reply))
    return await answer


async def join(service: VoiceService, code: str, user: str, language: str) -> None:
    """Make ``user`` a member of the room, as the WebSocket gateway's join-room does."""
    outcome = await ask_room(
        service, code, lambda reply: JoinRoom(user, user.capitalize(), language, reply)
    )
    assert isinstance(outcome, Accepted)


@pytest.fixture
def voicemode(tmp_path: Path) -> Iterator[Voicemode]:
    speech = build_speech(["faster-whisper"], ["espeak-ng"])
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([ApertiumTranslator()], timeout_s=5),
        ServiceSettings(),
        speech,
    )
    yield Voicemode(service, speech)
    service.close()


@contextlib.asynccontextmanager
async def people(server: LiveKitServer, code: str) -> AsyncIterator[tuple[Speaker, Listener]]:
    """Alice speaks English, Bob listens in Spanish."""
    alice = await Speaker.join(server, code, "alice")
    bob = await Listener.join(server, code, "bob")
    try:
        yield alice, bob
    finally:
        await alice.room.disconnect()
        await bob.leave()


@contextlib.asynccontextmanager
async def agent_worker(
    server: LiveKitServer, voicemode: Voicemode, agent_name: str
) -> AsyncIterator[None]:
    """An in-process agent worker serving ``voicemode``, registered with LiveKit until exit.

    The only worker: it must not turn a room down when the machine is busy.
    """
    worker = build_agent_server(
        server.url,
        server.api_key,
        server.api_secret,
        voicemode.control_plane,
        speech=voicemode.speech,
        agent_name=agent_name,
        load_threshold=math.inf,
    )
    registered = asyncio.Event()
    worker.on("worker_registered", lambda *_: registered.set())
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(registered.wait(), 30)
        yield
    finally:
        await worker.aclose()
        await running


async def dispatch(server: LiveKitServer, agent_name: str, code: str) -> None:
    """Ask LiveKit to send ``agent_name`` to room ``code``, as serve does."""
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=code)
        )


@contextlib.asynccontextmanager
async def dispatched_conversation(
    server: LiveKitServer, voicemode: Voicemode, agent_name: str, code: str
) -> AsyncIterator[tuple[Speaker, Listener]]:
    """Alice and Bob in LiveKit room ``code``, with an agent dispatched there as serve does.

    Yields once the agent listens to Alice and Bob has ``tts-es``.
    """
    async with (
        agent_worker(server, voicemode, agent_name),
        people(server, code) as (alice, bob),
    ):
        await dispatch(server, agent_name, code)
        await asyncio.wait_for(alice.subscribed.wait(), 30)
        await eventually(lambda: bob.subscribed_at, what="bob to get tts-es")
        yield alice, bob


async def assert_spoken_in_spanish(voicemode: Voicemode, code: str, bob: Listener) -> None:
    """Everything after a transcript: its translation recorded, shown, spoken and heard."""
    events = await eventually(
        lambda: _spanish_speech(voicemode, code), what="the Spanish translation to be spoken"
    )
    translation = next(e for e in events if isinstance(e, TranslationProduced))
    await eventually(
        lambda: any(text == translation.translated_text for text, _ in bob.texts),
        what="the translation's text stream",
    )
    attributes = next(a for text, a in bob.texts if text == translation.translated_text)
    assert attributes["language"] == "es"
    assert attributes["transcript_id"] == str(translation.transcript_id)


async def _spanish_speech(voicemode: Voicemode, code: str) -> list[Any]:
    events = await voicemode.events(code)
    translated = any(
        isinstance(e, TranslationProduced) and e.target_language == "es" for e in events
    )
    spoken = any(
        isinstance(e, SpeechSynthesized) and e.language == "es" and e.audio_ms > 0 for e in events
    )
    return events if translated and spoken else []


def test_a_job_serves_the_room_its_dispatch_names_else_the_livekit_room() -> None:
    room = models.Room(name="lk-0123")
    assert room_code_of(Job(room=room, metadata='{"roomCode": "team-42"}')) == "team-42"
    assert room_code_of(Job(room=room)) == "lk-0123"
    assert room_code_of(Job(room=room, metadata="not json")) == "lk-0123"


def test_the_direct_control_plane_reports_members_then_translations_and_refuses_strangers(
    tmp_path: Path,
) -> None:
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([IdentityTranslator()]),
        ServiceSettings(),
    )
    utterance = uuid4()

    def said(speaker: str) -> FinalTranscript:
        return FinalTranscript("r", speaker, utterance, "hello", "en", "client", 900, 80, ())

    async def scenario() -> None:
        await join(service, "r", "alice", "en")
        control = DirectControlPlane(service)
        await control.attach("r")
        updates = control.updates("r")
        assert await anext(updates) == RoomMembers("r", {"alice": "en"})
        await join(service, "r", "bob", "es")
        assert await anext(updates) == RoomMembers("r", {"alice": "en", "bob": "es"})
        with pytest.raises(ControlPlaneError) as refused:
            await control.transcript(said("mallory"))
        assert refused.value.code == "not_in_room"
        await control.transcript(said("alice"))
        translation = await asyncio.wait_for(anext(updates), 10)
        assert translation == TranslationToSpeak("r", utterance, "alice", "es", "hello")
        await control.close()
        assert [update async for update in updates] == []

    try:
        run(scenario)
    finally:
        service.close()


@pytest.mark.slow
def test_a_dispatched_agent_transcribes_a_speaker_and_speaks_the_translation(
    voicemode: Voicemode, livekit_server: LiveKitServer
) -> None:
    code = "lk-dispatch"
    agent_name = "voicemode-test"

    async def scenario() -> None:
        await voicemode.join(code, "alice", "en")
        await voicemode.join(code, "bob", "es")
        conversation = dispatched_conversation(livekit_server, voicemode, agent_name, code)
        async with conversation as (alice, bob):
            silent_from = await bob.audio_packets_received()
            await asyncio.sleep(SILENT_S)
            silent_packets = await bob.audio_packets_received() - silent_from
            # Opus DTX: comfort-noise packets a few times a second, not 50 packets/s of audio.
            assert silent_packets < 10 * SILENT_S, "the agent sent audio while nobody spoke"
            started = time.monotonic()
            await alice.say(FIRST)

            (transcript,) = await eventually(
                lambda: voicemode.transcripts(code), what="alice's transcript"
            )
            assert transcript.speaker_id == "alice"
            assert transcript.source_language == "en"
            assert transcript.engine == "faster-whisper"
            assert word_error_rate(FIRST, transcript.text) <= WER_LIMIT, transcript.text
            assert transcript.targets == ("es",)
            assert any(
                caption.utterance_id == transcript.transcript_id
                and caption.speaker_id == "alice"
                and caption.language == "en"
                for caption in voicemode.partials
            ), "captions carry the id of the transcript they lead to"
            await assert_spoken_in_spanish(voicemode, code, bob)
            await eventually(lambda: bob.heard_since(started), what="bob to hear Spanish")
            assert await bob.audio_packets_received() - silent_from > 50, "speech was sent"
            await asyncio.sleep(1)
            assert len(await voicemode.transcripts(code)) == 1, "the agent heard itself"

    run(scenario)


@pytest.mark.slow
def test_a_quiet_rooms_tracks_sleep_and_wake_when_someone_starts_speaking(
    voicemode: Voicemode, livekit_server: LiveKitServer
) -> None:
    """Idle tracks cost CPU (LiveKit encodes their silence); a quiet room gives them up.

    They come back at the first syllable, so the translation is not late.
    """
    code = "lk-sleep"
    nap_s = 3.0

    async def scenario() -> None:
        await voicemode.join(code, "alice", "en")
        await voicemode.join(code, "bob", "es")
        agent_room = rtc.Room()
        await agent_room.connect(
            livekit_server.url,
            token(livekit_server, "voicemode-agent", code, kind="agent"),
            rtc.RoomOptions(auto_subscribe=False),
        )
        settings = AgentSettings(voice_sleep_s=nap_s)
        agent = VoiceAgent(agent_room, code, voicemode.control_plane(), voicemode.speech, settings)
        await agent.start()
        try:
            async with people(livekit_server, code) as (alice, bob):
                await eventually(lambda: bob.subscribed_at, what="bob to get tts-es")
                await eventually(lambda: agent.asleep == {"en", "es"}, nap_s + 5, "a nap")
                assert agent.speaking == set()
                await eventually(lambda: not _tts_published(bob), what="tts-es to be unpublished")

                started = time.monotonic()
                await alice.say(FIRST)
                ended = time.monotonic()
                assert agent.speaking == {"en", "es"}, "the tracks woke while alice spoke"
                await eventually(
                    lambda: bob.subscriptions_after_asking_again() == 2, what="tts-es again"
                )
                assert bob.subscribed_at[-1] < ended, "bob had tts-es again before alice ended"
                await assert_spoken_in_spanish(voicemode, code, bob)
                await eventually(lambda: bob.heard_since(started), what="bob to hear Spanish")

                # Nobody speaks in LiveKit: a typed message wakes its language's track
                # alone, and is heard from its start once bob subscribed again.
                await eventually(lambda: agent.asleep == {"en", "es"}, nap_s + 10, "a new nap")
                await eventually(lambda: not _tts_published(bob), what="tts-es asleep again")
                typed = time.monotonic()
                await voicemode.type_text(code, "alice", SECOND, "en")
                await eventually(lambda: bob.heard_since(typed), what="the typed text spoken")
                assert agent.asleep == {"en"}, "only the language spoken to woke"
                assert bob.subscribed_at[-1] < next(at for at in bob.loud_at if at > typed)
        finally:
            await agent.aclose()
            await agent_room.disconnect()

    run(scenario)


def _tts_published(listener: Listener) -> bool:
    """Whether the agent publishes ``tts-es`` in the listener's view of the room."""
    return any(
        publication.name == "tts-es"
        for participant in listener.room.remote_participants.values()
        for publication in participant.track_publications.values()
    )


@pytest.mark.slow
def test_the_agent_keeps_transcribing_after_a_forced_reconnect_and_ignores_agents(
    voicemode: Voicemode, livekit_server: LiveKitServer
) -> None:
    code = "lk-reconnect"

    async def scenario() -> None:
        await voicemode.join(code, "alice", "en")
        await voicemode.join(code, "bob", "es")
        agent_room = rtc.Room()
        await agent_room.connect(
            livekit_server.url,
            token(livekit_server, "voicemode-agent", code, kind="agent"),
            rtc.RoomOptions(auto_subscribe=False),
        )
        # Tracks at 48 kHz: espeak-ng's 22050 Hz audio is resampled on the way out.
        # Tracks never sleep here: the reconnects alone may take longer than a nap.
        settings = AgentSettings(tts_sample_rate=48000, voice_sleep_s=math.inf)
        agent = VoiceAgent(agent_room, code, voicemode.control_plane(), voicemode.speech, settings)
        await agent.start()
        assert agent.speaking == set(), "nobody is in the LiveKit room to hear anything yet"
        other_agent = rtc.Room()
        await other_agent.connect(
            livekit_server.url, token(livekit_server, "other-agent", code, kind="agent")
        )
        robot_source = rtc.AudioSource(MIC_RATE, 1)
        await other_agent.local_participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track("microphone", robot_source),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
        )
        try:
            async with people(livekit_server, code) as (alice, bob):
                await eventually(lambda: agent.listening == {"alice"}, what="the agent to listen")
                await eventually(lambda: agent.speaking == {"en", "es"}, what="their tracks")
                await eventually(lambda: bob.subscribed_at, what="bob to get tts-es")
                await alice.say(FIRST)
                await eventually(lambda: voicemode.transcripts(code), what="the first transcript")
                await assert_spoken_in_spanish(voicemode, code, bob)

                for kind in (
                    rtc.SimulateScenarioKind.SIMULATE_SIGNAL_RECONNECT,
                    rtc.SimulateScenarioKind.SIMULATE_FULL_RECONNECT,
                ):
                    reconnected = asyncio.Event()
                    agent_room.once("reconnected", reconnected.set)
                    await agent_room.simulate_scenario(kind)
                    await asyncio.wait_for(reconnected.wait(), 30)
                await eventually(lambda: agent.listening == {"alice"}, what="listening again")
                await eventually(
                    lambda: bob.subscriptions_after_asking_again() > 1, what="tts-es republished"
                )
                after = time.monotonic()
                await alice.say(SECOND)
                transcripts = await eventually(
                    lambda: _at_least(2, voicemode.transcripts(code)),
                    what="the transcript after the reconnect",
                )
                assert word_error_rate(SECOND, transcripts[1].text) <= WER_LIMIT
                await eventually(lambda: bob.heard_since(after), what="speech after reconnect")

                other = agent_room.remote_participants["other-agent"]
                assert not any(pub.subscribed for pub in other.track_publications.values())
                await alice.room.disconnect()
                await eventually(lambda: not agent.listening, what="alice's pipeline to end")
                await eventually(lambda: agent.speaking == {"es"}, what="tts-en to be retired")
        finally:
            await other_agent.disconnect()
            await agent.aclose()
            await agent_room.disconnect()

    run(scenario)


async def _at_least(count: int, pending: Coroutine[Any, Any, list[Any]]) -> list[Any]:
    found = await pending
    return found if len(found) >= count else []
