"""Translation fan-out: one translation per transcript and target language, even across a crash."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from events.domain import Room, TranslationProduced
from events.store import EventStore
from tests.support.service import Client, ServedInstance

PROJECTION = "translation-fanout"
LISTENERS = {"bob": "es", "carol": "fr", "dan": "en", "erin": "es", "frank": "es"}
TRANSLATED = {"es", "fr"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedInstance]:
    """A served instance whose engine limit is generous enough for a loaded machine."""
    instance = ServedInstance(
        db=str(tmp_path / "voicemode.db"), env={"VOICEMODE_TRANSLATION_TIMEOUT_S": "30"}
    )
    instance.start()
    yield instance
    instance.stop()


@dataclass(frozen=True)
class Snapshot:
    """What the store holds about transcripts and their translations."""

    transcripts: dict[UUID, tuple[int, Room.TranscriptRecognized]]
    translations: list[tuple[int, TranslationProduced]]
    tracked: int

    @property
    def last_transcript(self) -> int:
        return max(position for position, _ in self.transcripts.values())


def snapshot(db: str) -> Snapshot:
    store = EventStore.open(db)
    try:
        # The position first: events read after it hold at least what it covers
        # (read last, a commit in between would make it run ahead of them).
        tracked = store.tracked(PROJECTION)
        transcripts: dict[UUID, tuple[int, Room.TranscriptRecognized]] = {}
        translations: list[tuple[int, TranslationProduced]] = []
        for recorded in store.read():
            event = recorded.event
            if isinstance(event, Room.TranscriptRecognized):
                transcripts[event.transcript_id] = (recorded.position, event)
            elif isinstance(event, TranslationProduced):
                translations.append((recorded.position, event))
        return Snapshot(transcripts, translations, tracked)
    finally:
        store.close()


def wait_for_fanout(db: str, timeout: float = 30.0) -> Snapshot:
    """The store once the fan-out has caught up with the last transcript."""
    deadline = time.monotonic() + timeout
    while True:
        current = snapshot(db)
        if current.transcripts and current.tracked >= current.last_transcript:
            return current
        assert time.monotonic() < deadline, (
            f"fan-out stuck at {current.tracked}, last transcript {current.last_transcript}"
        )
        time.sleep(0.1)


def assert_exactly_once(current: Snapshot, texts: list[str]) -> None:
    """Every transcript said has one translation per target language: no gap, no copy."""
    said = [event.text for _, event in sorted(current.transcripts.values())]
    assert said == texts
    for _, transcript in current.transcripts.values():
        assert set(transcript.targets) == TRANSLATED, "never en, the speaker's own language"
    counts = Counter((t.transcript_id, t.target_language) for _, t in current.translations)
    expected = {(tid, lang) for tid in current.transcripts for lang in TRANSLATED}
    assert set(counts) == expected, "no gaps, and nothing for en"
    duplicated = {key: n for key, n in counts.items() if n != 1}
    assert duplicated == {}, "one translation per language, not one per listener"
    for position, translation in current.translations:
        transcript_position, transcript = current.transcripts[translation.transcript_id]
        assert position > transcript_position
        assert translation.original_text == transcript.text
        assert translation.engine == "apertium", translation
        assert translation.error_code is None
        assert translation.translated_text != translation.original_text
    assert current.tracked == current.last_transcript


async def joined(served: ServedInstance, user: str, lang: str) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": "r1"})
    assert reply["event"] == "joined-room", reply
    return client


def translated(client: Client) -> list[dict[str, Any]]:
    return client.named("translated-message")


async def received(client: Client, count: int, timeout: float = 30.0) -> None:
    """Wait until ``client`` got ``count`` translated messages."""
    await client.wait_for(lambda _: len(translated(client)) >= count, timeout)


def echoing(ref: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("ref") == ref


def test_each_transcript_is_translated_once_per_language(served: ServedInstance) -> None:
    texts = [f"The house number {n} is big." for n in range(1, 11)]

    async def scenario() -> dict[str, Client]:
        alice = await joined(served, "alice", "en")
        listeners = {user: await joined(served, user, lang) for user, lang in LISTENERS.items()}
        for text in texts:
            ack = await alice.request("speech-transcript", {"transcript": text, "sourceLang": "en"})
            assert ack["event"] == "ack", ack
        for client in listeners.values():
            await received(client, len(texts))
        await asyncio.sleep(0.3)
        return listeners

    async def run() -> None:
        listeners = await scenario()
        for user, client in listeners.items():
            frames = translated(client)
            assert [f["data"]["originalText"] for f in frames] == texts, user
            assert {f["data"]["targetLang"] for f in frames} == {LISTENERS[user]}
        dan = translated(listeners["dan"])
        assert all(f["data"]["translatedText"] == f["data"]["originalText"] for f in dan)
        spanish = [[f["pos"] for f in translated(listeners[u])] for u in ("bob", "erin", "frank")]
        assert spanish[0] == spanish[1] == spanish[2], "the three es listeners share one event"
        assert len(set(spanish[0])) == len(texts)
        assert all(
            "casa" in f["data"]["translatedText"].lower() for f in translated(listeners["bob"])
        )
        assert all(
            "maison" in f["data"]["translatedText"].lower() for f in translated(listeners["carol"])
        )

    asyncio.run(run())
    assert_exactly_once(wait_for_fanout(served.db), texts)
    served.stop()
    assert_exactly_once(snapshot(served.db), texts)


@pytest.mark.slow
def test_no_gap_and_no_duplicate_after_sigkill_during_fanout(served: ServedInstance) -> None:
    before = [f"The dog number {n} is black." for n in range(1, 4)]
    burst = [f"The cat number {n} is small." for n in range(1, 31)]

    async def until_crash() -> int:
        alice = await joined(served, "alice", "en")
        listeners = {user: await joined(served, user, lang) for user, lang in LISTENERS.items()}
        for text in before:
            await alice.request("speech-transcript", {"transcript": text, "sourceLang": "en"})
        bob = listeners["bob"]
        await received(bob, len(before))
        seen: int = translated(bob)[-1]["pos"]
        refs = [f"say-{n}" for n in range(len(burst))]
        for ref, text in zip(refs, burst, strict=True):
            await alice.send("speech-transcript", {"transcript": text, "sourceLang": "en"}, ref)
        for ref in refs:
            ack = await alice.wait_for(echoing(ref), timeout=20)
            assert ack["event"] == "ack", ack
        return seen

    seen = asyncio.run(until_crash())
    served.kill()
    crashed = snapshot(served.db)
    print(f"at the crash: fan-out at {crashed.tracked}, last transcript {crashed.last_transcript}")
    assert [event.text for _, event in sorted(crashed.transcripts.values())] == before + burst, (
        "every acknowledged transcript is durable"
    )
    served.start()
    recovered = wait_for_fanout(served.db)
    assert_exactly_once(recovered, before + burst)

    async def resumed() -> None:
        bob = await Client.connect(served.url, served.token("bob", lang="es"))
        reply = await bob.request("join-room", {"roomCode": "r1", "since": seen})
        assert reply["event"] == "joined-room", reply
        await received(bob, len(burst))
        await asyncio.sleep(0.5)
        assert [f["data"]["originalText"] for f in translated(bob)] == burst
        positions = [f["pos"] for f in translated(bob)]
        assert positions == sorted(set(positions))
        await bob.close()

    asyncio.run(resumed())
    served.stop()
    assert_exactly_once(snapshot(served.db), before + burst)
