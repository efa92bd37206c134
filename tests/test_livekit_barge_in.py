"""Barge-in over LiveKit: speaking over the assistant's answer cuts it within 200 ms.

Real parts throughout, as in :mod:`tests.test_livekit_assistant`: a real
LiveKit server, an in-process VoiceService with faster-whisper and espeak-ng,
the ``openai`` model pointed at the fake OpenAI (its long answer paced, so it
is still being generated when Alice speaks over it), a VoiceAgent, and Alice
as a livekit.rtc client in a room whose shared assistant is on.

What is measured: the agent's voice detector logs ``<room>: alice began
speaking`` on the speech pipeline's thread at the moment it detects her
speech start; a logging handler stamps that record with ``time.monotonic()``
as it is emitted (the detection time). Alice's client stamps every frame it
receives on ``tts-en`` whose peak is loud (speech, not silence) with
``time.monotonic()`` on arrival. The answer's audio "stops" at the last loud
frame received after the detection, so what is asserted (no loud frame more
than 200 ms after the detection, until Alice stops speaking and her next
question could be answered) includes what the cut takes in the agent and
the frames already on their way through LiveKit to her. Both clocks are the
same process's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from livekit import rtc

from actors.agent_messages import ControlPlane
from actors.messages import Accepted, StartVoiceSession
from actors.service import VoiceService
from actors.usecases.asking import ask_room
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent import listening
from adapters.shells.livekit_agent.agent import VoiceAgent
from events.domain import Conversation
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import Speaker, eventually, token
from tests.support.speech import trimmed
from tests.support.vendor_fakes import FakeOpenAI, Paced
from tests.test_livekit_agent import join
from tests.test_livekit_assistant import (
    Person,
    Voicemode,
    conversation,
    fake_openai,
    turn_assistant_on,
    voicemode,
)

__all__ = ["fake_openai", "livekit_server", "voicemode"]  # fixtures, imported to be found

QUESTION = "Assistant, what is the capital of France?"
FOLLOW_UP = "Assistant, how tall is the Eiffel Tower?"
ANSWER = (
    "Paris is the capital of France and its largest city by far. "
    "It stands on the river Seine in the north of the country. "
    "About two million people live in the city itself. "
    "The Eiffel Tower was built there for the world fair of eighteen eighty nine. "
    "The Louvre holds the most visited collection of art in the world. "
    "Its cafes, bridges and gardens draw visitors all year round."
)
FOLLOW_UP_ANSWER = "It is about three hundred and thirty metres tall."
CUT_WITHIN_S = 0.2
MIC_RATE = 16000


class ScriptedAnswers(dict[str, str]):
    """The fake model's answers, found by a word of the question (the transcript varies)."""

    def get(self, key: str, default: Any = None, /) -> Any:
        heard = key.lower()
        if "capital" in heard or "france" in heard:
            return ANSWER
        if "tall" in heard or "eiffel" in heard:
            return FOLLOW_UP_ANSWER
        return default


class Detections(logging.Handler):
    """When the agent's voice detector heard someone begin speaking, stamped as it logs it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.at: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.at.append((time.monotonic(), record.getMessage()))

    def of(self, who: str, since: float) -> list[float]:
        return [at for at, message in self.at if at > since and f"{who} began speaking" in message]


@pytest.fixture
def detections() -> Iterator[Detections]:
    logger = logging.getLogger(listening.__name__)
    handler, level = Detections(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def start_agent(
    lk: LiveKitServer, code: str, control: ControlPlane, voicemode: Voicemode
) -> tuple[VoiceAgent, rtc.Room]:
    """A VoiceAgent in its own LiveKit connection, as a job of the worker would start it."""
    agent_room = rtc.Room()
    await agent_room.connect(
        lk.url,
        token(lk, "voicemode-agent", code, kind="agent"),
        rtc.RoomOptions(auto_subscribe=False),
    )
    agent = VoiceAgent(agent_room, code, control, voicemode.speech)
    await agent.start()
    return agent, agent_room


async def talk_to_the_assistant(service: VoiceService, code: str, user: str) -> None:
    """Record ``user``'s voice session in assistant mode, as start-voice-session would."""
    outcome = await ask_room(
        service,
        code,
        lambda reply: StartVoiceSession(user, "en", None, code, reply, assistant=True),
        15,
    )
    assert isinstance(outcome, Accepted), outcome


def speech_seconds(text: str) -> float:
    """How long espeak-ng speaks ``text``, without its silence before and after."""
    return len(trimmed(text, MIC_RATE)) / 2 / MIC_RATE


@pytest.mark.slow
def test_speaking_over_an_answer_on_livekit_cuts_it_and_keeps_only_what_was_heard(
    voicemode: Voicemode,
    fake_openai: FakeOpenAI,
    livekit_server: LiveKitServer,
    detections: Detections,
) -> None:
    code = "lk-barge-in"
    service = voicemode.service
    fake_openai.chat_replies = ScriptedAnswers()
    # about 7 s to generate: still going when Alice speaks over its first sentence
    fake_openai.script(Paced(first_text_s=0.3, interval_s=0.1))

    async def scenario() -> None:
        await join(service, code, "alice", "en")
        await turn_assistant_on(service, code, "alice")
        # Assistant mode too: everything she says is for the assistant, so the test does
        # not hang on tiny.en hearing the wake word (it heard "Assistant" as "As is done").
        await talk_to_the_assistant(service, code, "alice")
        agent, agent_room = await start_agent(
            livekit_server, code, DirectControlPlane(service), voicemode
        )
        alice = Person(await Speaker.join(livekit_server, code, "alice"))
        try:
            await eventually(lambda: agent.listening == {"alice"}, what="the agent to listen")
            await eventually(lambda: agent.speaking == {"en"}, what="the tts-en track")
            await asyncio.wait_for(alice.speaker.subscribed.wait(), 30)
            asked = time.monotonic()
            await alice.speaker.say(QUESTION)
            first_heard = await eventually(
                lambda: [t for t in alice.loud_at if t > asked], 60, "the answer on tts-en"
            )
            await asyncio.sleep(0.5)  # well inside its first sentence (about 4 s long)

            started = time.monotonic()
            speaking = asyncio.create_task(alice.speaker.say(FOLLOW_UP))
            (detected, *_) = await eventually(
                lambda: detections.of("alice", first_heard[0]), 10, "alice's speech detected"
            )
            # Speaker.say sends 1 s of silence first: she is silent until then
            assert detected > started + 1.0, "detected after she began speaking"
            stops_speaking = started + 1.0 + speech_seconds(FOLLOW_UP)
            assert [t for t in alice.loud_at if detected - 0.5 < t < detected], (
                "the answer was being heard when she spoke"
            )
            await speaking
            late = [t - detected for t in alice.loud_at if detected + CUT_WITHIN_S < t]
            late = [delay for delay in late if delay < stops_speaking - detected]
            assert not late, f"answer still heard {late[:3]} s after the detected speech start"

            response, *_ = await eventually(
                lambda: alice.of_type("assistant_response"), 30, "the assistant_response packet"
            )
            assert response["interrupted"] is True and "capital" in response["transcript"].lower()
            assert response["response"] and ANSWER.startswith(response["response"])
            assert len(response["response"]) < len(ANSWER)

            answered = await eventually(
                lambda: _answers(conversation(service, code), 2), 60, "the follow-up's answer"
            )
            cut = answered[0]
            assert cut.interrupted_at is not None and cut.interrupted_at < len(cut.answer)
            assert len(cut.answer) < len(ANSWER), "its generation stopped too"
            assert cut.delivered == response["response"]
            assert answered[1].answer == FOLLOW_UP_ANSWER and answered[1].interrupted_at is None

            asks = [r.json()["messages"] for r in fake_openai.requests]
            assert len(asks) == 2
            previous = [m["content"] for m in asks[1] if m["role"] == "assistant"]
            assert previous == [cut.delivered], "the follow-up's context holds what was heard"
        finally:
            await alice.leave()
            await agent.aclose()
            await agent_room.disconnect()

    asyncio.run(scenario())


async def _answers(pending: Any, count: int) -> list[Conversation.AssistantResponded]:
    answered = [e for e in await pending if isinstance(e, Conversation.AssistantResponded)]
    return answered if len(answered) >= count else []
