"""A listener who changes language while a translation is on its way still gets it, once.

End to end on a served instance whose only translation engine is a local
OpenAI-compatible fake that holds its answers into chosen languages until the
test releases them, so the race (speak, switch, then translate) is forced.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.service import Client, ServedInstance
from tests.support.vendor_fakes import FakeOpenAI, RecordedRequest, Response

KEY = "sk-test-delivery-0123456789"
_TARGET = re.compile(r"code '(\w+)'\. Reply")


class GatedOpenAI(FakeOpenAI):
    """Chat translations into a gated language wait until :meth:`release`."""

    def __init__(self) -> None:
        super().__init__(KEY, models={"gpt-test"})
        self._gates: dict[str, threading.Event] = {}
        self._gates_lock = threading.Lock()
        self.held: queue.Queue[str] = queue.Queue()

    def hold(self, language: str) -> None:
        with self._gates_lock:
            self._gates[language] = threading.Event()

    def release(self, language: str) -> None:
        with self._gates_lock:
            gate = self._gates.pop(language, None)
        if gate is not None:
            gate.set()

    def release_all(self) -> None:
        for language in list(self._gates):
            self.release(language)

    def _chat(self, request: RecordedRequest) -> Response:
        system = str(request.json()["messages"][0]["content"])
        match = _TARGET.search(system)
        with self._gates_lock:
            gate = self._gates.get(match.group(1)) if match else None
        if gate is not None and match is not None:
            self.held.put(match.group(1))
            gate.wait(timeout=60)
        return super()._chat(request)


@pytest.fixture
def fake() -> Iterator[GatedOpenAI]:
    with GatedOpenAI() as vendor:
        try:
            yield vendor
        finally:
            vendor.release_all()


@pytest.fixture
def served(tmp_path: Path, fake: GatedOpenAI) -> Iterator[ServedInstance]:
    instance = ServedInstance(
        db=str(tmp_path / "race.db"),
        env={
            "VOICEMODE_TRANSLATION_ENGINES": "openai",
            "VOICEMODE_OPENAI_API_KEY": KEY,
            "VOICEMODE_OPENAI_BASE_URL": fake.base_url,
            "VOICEMODE_OPENAI_MODEL": "gpt-test",
            "VOICEMODE_OPENAI_TIMEOUT_S": "60",
            "VOICEMODE_TRANSLATION_TIMEOUT_S": "60",
        },
    )
    instance.start()
    yield instance
    instance.stop()


async def joined(served: ServedInstance, user: str, lang: str, **join: Any) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": "r1", **join})
    assert reply["event"] == "joined-room", reply
    return client


async def switch(client: Client, language: str) -> None:
    ack = await client.request("set-language", {"language": language})
    assert ack["event"] == "ack", ack


async def say(client: Client, text: str) -> str:
    ack = await client.request("speech-transcript", {"transcript": text, "sourceLang": "en"})
    assert ack["event"] == "ack", ack
    mine = await client.expect("recognized-speech", text=text)
    return str(mine["data"]["id"])


async def held(fake: GatedOpenAI, language: str) -> None:
    """Wait until the service's request into ``language`` is being held by the fake."""
    got = await asyncio.to_thread(fake.held.get, timeout=20)
    assert got == language


async def recorded(served: ServedInstance, what: str, timeout: float = 20) -> None:
    """Wait until the store holds a translation whose replay line contains ``what``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while what not in await asyncio.to_thread(served.replay, "r1", "--type", "TranslationProduced"):
        assert asyncio.get_running_loop().time() < deadline, f"no translation {what!r}"
        await asyncio.sleep(0.1)


def translations(client: Client, transcript_id: str) -> list[str]:
    """The target language of every translated-message about one transcript."""
    return [
        frame["data"]["targetLang"]
        for frame in client.named("translated-message")
        if frame["data"]["id"] == transcript_id
    ]


def last_pos(client: Client) -> int:
    return max(int(frame["pos"]) for frame in client.frames if "pos" in frame)


def test_switching_language_during_a_slow_translation_loses_nothing(
    served: ServedInstance, fake: GatedOpenAI
) -> None:
    """The issue's scenario: Bob es -> fr, Alice speaks, Bob -> es, then fr arrives."""

    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "es")
        carol = await joined(served, "carol", "en")
        await switch(bob, "fr")
        fake.hold("fr")
        first = await say(alice, "The house is big.")
        await held(fake, "fr")
        await switch(bob, "es")
        fake.release("fr")
        await bob.wait_for(lambda _: translations(bob, first) != [])

        second = await say(alice, "The dog is black.")
        await bob.wait_for(lambda _: translations(bob, second) != [])
        await asyncio.sleep(0.3)
        assert translations(bob, first) == ["fr"], "heard fr when it was spoken: fr, once"
        assert translations(bob, second) == ["es"]
        assert translations(carol, first) == ["en"], "carol hears the original"
        seen = last_pos(bob)
        await bob.close()
        await alice.expect("user-left", userId="bob")

        again = await joined(served, "bob", "es", since=seen)
        third = await say(alice, "The cat is small.")
        await again.wait_for(lambda _: translations(again, third) != [])
        assert translations(again, first) == [] and translations(again, second) == []
        await again.close()

        anew = await joined(served, "bob", "es", since=0)
        await anew.wait_for(lambda _: translations(anew, third) != [])
        await asyncio.sleep(0.3)
        got = [translations(anew, said) for said in (first, second, third)]
        assert got == [["fr"], ["es"], ["es"]], "a full resume tells the same story once"

    asyncio.run(scenario())


def test_a_translation_recorded_while_away_reaches_the_listener_it_was_made_for(
    served: ServedInstance, fake: GatedOpenAI
) -> None:
    """Transcript before ``since``, translation after it, language switched in between."""

    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "fr")
        fake.hold("fr")
        said = await say(alice, "The house is big.")
        await held(fake, "fr")
        await switch(bob, "es")
        dave = await joined(served, "dave", "en")
        await bob.expect("user-joined", userId="dave")
        seen = last_pos(bob)
        await bob.close()
        await alice.expect("user-left", userId="bob")
        fake.release("fr")
        await recorded(served, "en -> fr")

        bob = await joined(served, "bob", "es", since=seen)
        await bob.wait_for(lambda _: translations(bob, said) != [])
        later = await say(alice, "The dog is black.")
        await bob.wait_for(lambda _: translations(bob, later) != [])
        await asyncio.sleep(0.3)
        assert translations(bob, said) == ["fr"]
        assert translations(bob, later) == ["es"]
        assert translations(dave, said) == [], "dave joined after it was said"

    asyncio.run(scenario())
