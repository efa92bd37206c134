"""A served instance with hosted speech engines uses them and falls back to the embedded ones."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import Client, ServedInstance
from tests.support.speech import linear16, silence
from tests.support.vendor_fakes import FakeOpenAI, VendorError

pytestmark = pytest.mark.slow

KEY = "sk-test-speech-0123456789"
SENTENCE = "The house is big."


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(KEY, models={"whisper-test", "tts-test"}) as fake:
        yield fake


@pytest.fixture
def hosted(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServedInstance]:
    instance = ServedInstance(
        db=str(tmp_path / "speech.db"),
        env={
            "VOICEMODE_SPEECH": "on",
            "VOICEMODE_STT_ENGINES": "openai,faster-whisper",
            "VOICEMODE_TTS_ENGINES": "openai,espeak-ng",
            "VOICEMODE_OPENAI_API_KEY": KEY,
            "VOICEMODE_OPENAI_BASE_URL": fake_openai.base_url,
            "VOICEMODE_OPENAI_STT_MODEL": "whisper-test",
            "VOICEMODE_OPENAI_TTS_MODEL": "tts-test",
            "VOICEMODE_OPENAI_TTS_VOICES": "alloy",
        },
    )
    instance.start()
    yield instance
    instance.stop()


async def speak(client: Client, text: str) -> None:
    audio = silence(0.3) + linear16(text) + silence(1.0)
    step = 3200
    for start in range(0, len(audio), step):
        await client.ws.send(audio[start : start + step])
        await asyncio.sleep(0.1)


def test_hosted_stt_and_tts_are_used_and_fall_back(
    hosted: ServedInstance, fake_openai: FakeOpenAI
) -> None:
    fake_openai.transcribe = lambda _audio, _name: "The house is big (openai)."

    async def scenario() -> None:
        alice = await Client.connect(hosted.url, hosted.token("alice", lang="en"))
        bob = await Client.connect(hosted.url, hosted.token("bob", lang="es"))
        await alice.request("join-room", {"roomCode": "r1"})
        await bob.request("join-room", {"roomCode": "r1"})
        started = await alice.request("start-speech", {"languageCode": "en"})
        assert started["event"] == "ack", started
        await speak(alice, SENTENCE)
        first = await alice.expect("recognized-speech", timeout=15)
        assert first["data"]["text"] == "The house is big (openai)."
        header = await bob.expect("synthesized-speech", timeout=15)
        assert header["data"]["engine"] == "openai"
        assert header["data"]["sampleRate"] == 24000

        fake_openai.script(*[VendorError(503, "overloaded")] * 20)
        await speak(alice, SENTENCE)
        second = await alice.wait_for(
            lambda f: f["event"] == "recognized-speech" and f["data"]["id"] != first["data"]["id"],
            timeout=20,
        )
        assert "house" in second["data"]["text"].lower()
        assert "(openai)" not in second["data"]["text"]
        await alice.request("stop-speech")

    asyncio.run(scenario())
    hosted.stop()
    timeline = hosted.replay("r1", "--type", "TranscriptRecognized")
    assert "via openai" in timeline
    assert "via faster-whisper" in timeline and "openai:engine_unavailable" in timeline
    assert KEY not in hosted.output()
