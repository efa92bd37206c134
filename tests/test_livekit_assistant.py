"""The assistant over LiveKit: a real LiveKit server (v1.13.5), a real rtc client, a real agent.

voicemode is a real in-process VoiceService with the embedded speech engines
(faster-whisper, espeak-ng) and the ``openai`` language model pointed at the
fake OpenAI streaming server. Alice is a livekit.rtc client in a room whose
assistant is on, as the seed's ``useLiveKitVoice`` hook would be: she speaks
a question (espeak-ng audio) after the wake word, hears the answer on her
``tts-en`` track, receives the ``transcription`` and ``assistant_response``
data packets, and sends commands as reliable data packets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from livekit import rtc

from actors.assistant.conversation import AssistantSettings
from actors.messages import Accepted, Outcome, SetAssistant
from actors.service import AssistantStack, ServiceSettings, SpeechStack, VoiceService
from adapters.engines.llm.openai_compatible import OpenAICompatibleChatModel
from adapters.engines.llm.registry import ChatRegistry
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent.agent import VoiceAgent
from adapters.shells.livekit_agent.speaking import track_name
from events.domain import Conversation, conversation_id_for, room_id_for
from events.store import EventStore
from runtime import build_speech
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import LOUD, Speaker, eventually, token
from tests.support.vendor_fakes import FakeOpenAI
from tests.test_livekit_agent import join

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

KEY = "sk-proj-SECRETKEY-0123456789wxyz"
QUESTION = "Assistant, what is the capital of France?"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(KEY, models={"gpt-test"}) as fake:
        yield fake


@dataclass
class Voicemode:
    """The service and the speech engines it shares with the agent."""

    service: VoiceService
    speech: SpeechStack


@pytest.fixture
def voicemode(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[Voicemode]:
    model = OpenAICompatibleChatModel(
        api_key=KEY, model="gpt-test", base_url=fake_openai.base_url, timeout_s=5.0
    )
    speech = build_speech(["faster-whisper"], ["espeak-ng"])
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([IdentityTranslator()]),
        ServiceSettings(),
        speech,
        AssistantStack(ChatRegistry([model], timeout_s=10.0), AssistantSettings()),
    )
    yield Voicemode(service, speech)
    service.close()


@dataclass
class Person:
    """Alice's side: her microphone, her ``tts-en`` track and the data packets she gets."""

    speaker: Speaker
    packets: list[dict[str, Any]] = field(default_factory=list)
    loud_at: list[float] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.speaker.room.on("data_received", self._on_data)
        self.speaker.room.on("track_subscribed", self._on_track)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [packet for packet in self.packets if packet.get("type") == kind]

    async def send(self, payload: bytes) -> None:
        await self.speaker.room.local_participant.publish_data(payload, reliable=True)

    def _on_data(self, packet: rtc.DataPacket) -> None:
        self.packets.append(orjson.loads(packet.data))

    def _on_track(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, _: rtc.RemoteParticipant
    ) -> None:
        if publication.name == track_name("en"):
            task = asyncio.create_task(self._listen(track))
            self._tasks.add(task)

    async def _listen(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream.from_track(track=track, sample_rate=48000):
            if np.abs(np.frombuffer(event.frame.data, dtype=np.int16)).max() > LOUD:
                self.loud_at.append(time.monotonic())

    async def leave(self) -> None:
        await self.speaker.room.disconnect()
        for task in self._tasks:
            task.cancel()


async def turn_assistant_on(service: VoiceService, code: str, user: str) -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def reply(outcome: Outcome) -> None:
        loop.call_soon_threadsafe(answer.set_result, outcome)

    service.tell_room(code, SetAssistant(user, True, reply))
    assert isinstance(await answer, Accepted)


async def conversation(service: VoiceService, code: str) -> list[Any]:
    stream = conversation_id_for(room_id_for(code), None)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: list(service.store.stream(stream)))


@pytest.mark.slow
def test_a_question_spoken_on_livekit_is_answered_in_speech_and_data_packets(
    voicemode: Voicemode, fake_openai: FakeOpenAI, livekit_server: LiveKitServer
) -> None:
    code = "lk-assistant"
    service = voicemode.service

    async def scenario() -> None:
        await join(service, code, "alice", "en")
        await turn_assistant_on(service, code, "alice")
        agent_room = rtc.Room()
        await agent_room.connect(
            livekit_server.url,
            token(livekit_server, "voicemode-agent", code, kind="agent"),
            rtc.RoomOptions(auto_subscribe=False),
        )
        agent = VoiceAgent(agent_room, code, DirectControlPlane(service), voicemode.speech)
        await agent.start()
        alice = Person(await Speaker.join(livekit_server, code, "alice"))
        try:
            await eventually(lambda: agent.listening == {"alice"}, what="the agent to listen")
            await eventually(lambda: agent.speaking == {"en"}, what="the tts-en track")
            await asyncio.wait_for(alice.speaker.subscribed.wait(), 30)
            await alice.speaker.say(QUESTION)

            (said,) = await eventually(
                lambda: alice.of_type("transcription"), what="the transcription packet"
            )
            assert said["participantIdentity"] == "alice" and said["final"] is True
            assert "capital" in said["text"].lower() and said["language"] == "en"
            assert isinstance(said["timestamp"], int)
            asked = time.monotonic()
            (response,) = await eventually(
                lambda: alice.of_type("assistant_response"),
                timeout_s=60,
                what="the assistant_response packet",
            )
            assert "capital" in response["transcript"].lower()
            assert response["response"], response
            assert response["interrupted"] is False and isinstance(response["timestamp"], int)
            await eventually(lambda: any(t > asked for t in alice.loud_at), what="spoken answer")
            answered = [
                e
                for e in await conversation(service, code)
                if isinstance(e, Conversation.AssistantResponded)
            ]
            assert [a.delivered for a in answered] == [response["response"]]

            await alice.send(orjson.dumps({"type": "command", "text": "clear", "timestamp": 1}))
            await eventually(
                lambda: _has(conversation(service, code), Conversation.ContextCleared),
                what="ContextCleared in the log",
            )
            await alice.send(b"clear context, please")
            (error,) = await eventually(lambda: alice.of_type("error"), what="the error packet")
            assert error["code"] == "malformed_command" and error["message"]
            await alice.send(orjson.dumps({"type": "command", "text": "make me a sandwich"}))
            await eventually(lambda: len(alice.of_type("error")) == 2, what="a second error")
            assert alice.of_type("error")[1]["code"] == "unknown_command"
        finally:
            await alice.leave()
            await agent.aclose()
            await agent_room.disconnect()

    asyncio.run(scenario())


async def _has(pending: Any, kind: type) -> bool:
    return any(isinstance(e, kind) for e in await pending)
