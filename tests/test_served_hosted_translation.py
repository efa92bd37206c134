"""A served instance configured with a hosted engine uses it, and falls back when it fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import Client, ServedInstance
from tests.support.vendor_fakes import FakeOpenAI, VendorError

KEY = "sk-test-served-0123456789"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(KEY, models={"gpt-test"}) as fake:
        yield fake


@pytest.fixture
def hosted(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServedInstance]:
    instance = ServedInstance(
        db=str(tmp_path / "hosted.db"),
        env={
            "VOICEMODE_TRANSLATION_ENGINES": "openai,apertium",
            "VOICEMODE_OPENAI_API_KEY": KEY,
            "VOICEMODE_OPENAI_BASE_URL": fake_openai.base_url,
            "VOICEMODE_OPENAI_MODEL": "gpt-test",
        },
    )
    instance.start()
    yield instance
    instance.stop()


def test_hosted_engine_translates_and_falls_back_to_apertium(
    hosted: ServedInstance, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_replies["The house is big."] = "La casa es enorme (openai)"

    async def scenario() -> None:
        alice = await Client.connect(hosted.url, hosted.token("alice", lang="en"))
        bob = await Client.connect(hosted.url, hosted.token("bob", lang="es"))
        await alice.request("join-room", {"roomCode": "r1"})
        await bob.request("join-room", {"roomCode": "r1"})
        await alice.send(
            "speech-transcript", {"transcript": "The house is big.", "sourceLang": "en"}
        )
        first = await bob.expect("translated-message")
        assert first["data"]["translatedText"] == "La casa es enorme (openai)"

        fake_openai.script(VendorError(500, "upstream exploded"))
        await alice.send(
            "speech-transcript", {"transcript": "The dog is black.", "sourceLang": "en"}
        )
        second = await bob.wait_for(
            lambda f: (
                f["event"] == "translated-message"
                and f["data"]["originalText"] == "The dog is black."
            )
        )
        assert "perro" in second["data"]["translatedText"].lower()
        assert "errorCode" not in second["data"]

    asyncio.run(scenario())
    hosted.stop()
    replay = hosted.replay("r1", "--type", "TranslationProduced")
    assert "via openai" in replay
    assert "via apertium" in replay and "openai:engine_unavailable" in replay
    assert KEY not in hosted.output()
