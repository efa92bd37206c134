"""The assistant through the networked agent channel: ``voicemode serve`` and a remote agent.

``voicemode serve`` runs as a process with LiveKit configured and the
``openai`` model pointed at the fake OpenAI; the agent is a VoiceAgent in
this process (faster-whisper, espeak-ng) reaching serve's core only over
``ws://.../agent`` through :class:`NetworkControlPlane`, as a worker on
another machine would. Alice is in an assistant-mode voice session: her
WebSocket for the session's frames, a livekit.rtc client for her voice, her
``tts-en`` track and the data packets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from adapters.shells.livekit_agent.network import NetworkControlPlane
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import Speaker, eventually
from tests.support.service import ServedInstance
from tests.support.vendor_fakes import FakeOpenAI, Paced
from tests.test_livekit_assistant import KEY, Person, Voicemode, fake_openai, voicemode
from tests.test_livekit_barge_in import (
    ANSWER,
    Detections,
    ScriptedAnswers,
    detections,
    start_agent,
)
from tests.test_voice_sessions import events_named, member, serve_with_livekit

__all__ = ["detections", "fake_openai", "livekit_server", "voicemode"]  # fixtures to be found

TYPED_QUESTION = "What is the capital of France?"
SPOKEN_OVER = "Assistant, how tall is the Eiffel Tower?"
STOPPED_WITHIN_S = 1.0
"""From the agent's detection of a speech start to the asker's WebSocket being told the answer
stopped, through the agent channel and the core: well before the utterance (about 2 s) could
end, be transcribed and reach the core as a transcript instead."""


@pytest.fixture
def served(
    tmp_path: Path, livekit_server: LiveKitServer, fake_openai: FakeOpenAI
) -> Iterator[ServedInstance]:
    """``serve`` with LiveKit and the fake OpenAI as its only language model."""
    yield from serve_with_livekit(
        tmp_path,
        livekit_server,
        {
            "VOICEMODE_LLM_ENGINES": "openai",
            "VOICEMODE_OPENAI_API_KEY": KEY,
            "VOICEMODE_OPENAI_BASE_URL": fake_openai.base_url,
            "VOICEMODE_OPENAI_LLM_MODEL": "gpt-test",
        },
    )


@pytest.mark.slow
def test_commands_and_speech_starts_reach_the_core_over_the_agent_channel(
    served: ServedInstance,
    livekit_server: LiveKitServer,
    fake_openai: FakeOpenAI,
    voicemode: Voicemode,
    detections: Detections,
) -> None:
    room = "served-assistant"
    fake_openai.chat_replies = ScriptedAnswers()
    # about 7 s to generate: still going when Alice starts speaking
    fake_openai.script(Paced(first_text_s=0.3, interval_s=0.1))

    async def scenario() -> None:
        async with member(served, "alice", room, "en") as alice_ws:
            ready = await alice_ws.request(
                "start-voice-session", {"languageCode": "en", "assistant": True}, timeout=20
            )
            assert ready["event"] == "voice-session-ready", ready
            plane = NetworkControlPlane(
                served.agent_url, served.agent_secret, "worker-1", connect_timeout_s=10
            )
            agent, agent_room = await start_agent(livekit_server, room, plane, voicemode)
            alice = Person(
                await Speaker.connect(ready["data"]["liveKitUrl"], ready["data"]["liveKitToken"])
            )
            try:
                await eventually(lambda: agent.listening == {"alice"}, what="the agent to listen")
                await eventually(lambda: agent.speaking == {"en"}, what="the tts-en track")
                await asyncio.wait_for(alice.speaker.subscribed.wait(), 30)

                await alice.send(orjson.dumps({"type": "command", "text": "clear", "timestamp": 1}))
                await alice_ws.expect("context-cleared", timeout=20, userId="alice")
                await alice.send(orjson.dumps({"type": "command", "text": "make me a sandwich"}))
                (refused,) = await eventually(lambda: alice.of_type("error"), what="an error")
                assert refused["code"] == "unknown_command" and refused["message"]

                asked = await alice_ws.request("ask-assistant", {"text": TYPED_QUESTION})
                assert asked["event"] == "ack", asked
                await alice_ws.expect("assistant-text", timeout=20, userId="alice")
                started = time.monotonic()
                speaking = asyncio.create_task(alice.speaker.say(SPOKEN_OVER))
                (detected, *_) = await eventually(
                    lambda: detections.of("alice", started), 10, "alice's speech detected"
                )
                stopped = await alice_ws.expect("assistant-interrupted", timeout=20)
                assert time.monotonic() - detected < STOPPED_WITHIN_S, "at her speech start"
                await speaking
                cut = await alice_ws.expect(
                    "assistant-response", timeout=20, answerId=stopped["data"]["answerId"]
                )
                assert cut["data"]["interruptedAt"] == stopped["data"]["at"]
                assert ANSWER.startswith(cut["data"]["answer"])
                assert len(cut["data"]["answer"]) < len(ANSWER), "its generation stopped"
                response, *_ = await eventually(
                    lambda: alice.of_type("assistant_response"), 20, "the assistant_response"
                )
                assert response["interrupted"] is True
                assert response["response"] == cut["data"]["delivered"]
            finally:
                await alice.leave()
                await agent.aclose()
                await agent_room.disconnect()

        commands = events_named(served, room, "CommandRecognized")
        assert [(c["intent"], c["source"], c["user_id"]) for c in commands] == [
            ("clear_context", "data", "alice")
        ]
        assert len(events_named(served, room, "ContextCleared")) == 1
        (answered, *_) = events_named(served, room, "AssistantResponded")
        assert answered["interrupted_at"] == cut["data"]["interruptedAt"]
        assert answered["owner"] == "alice"

    asyncio.run(scenario())
