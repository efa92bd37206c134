"""Translation pipelines are started when a room's languages change, not on the first message."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from actors.messages import Accepted, ChangeLanguage, JoinRoom, Outcome, SubmitTranscript
from actors.room import RoomActor
from actors.warmup import TranslationWarmer
from adapters.engines.translation.apertium import ApertiumTranslator
from adapters.engines.translation.base import TranslationError, Translator
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from events.domain import LanguagePair, Preferences, Room
from events.store import EventStore
from events.writer import GroupCommitWriter
from tests.support.service import Client, ServedInstance

GRACE = timedelta(minutes=15)


def pairs(*spec: str, preference: tuple[str, ...] = ()) -> set[LanguagePair]:
    """``pairs("en>fr", "fr>en")``."""
    wanted = set()
    for item in spec:
        source, target = item.split(">")
        wanted.add(LanguagePair(source, target, preference))
    return wanted


# The pairs a room may need ---------------------------------------------------


def test_each_members_language_is_a_possible_source_for_every_other_language() -> None:
    room = Room(code="r1")
    room.join("alice", "Alice", "en")
    assert room.translation_pairs(GRACE) == set(), "alone: nothing to translate"
    room.join("bob", "Bob", "fr")
    assert room.translation_pairs(GRACE) == pairs("en>fr", "fr>en")
    room.join("carol", "Carol", "en")
    assert room.translation_pairs(GRACE) == pairs("en>fr", "fr>en")
    room.change_language("bob", "es")
    assert room.translation_pairs(GRACE) == pairs("en>es", "es>en")


def test_preferences_solo_targets_and_voice_languages_count() -> None:
    room = Room(code="r1")
    room.join("alice", "Alice", "en")
    room.join("bob", "Bob", "fr")
    room.set_preferences("bob", Preferences(translation_engine="openai"))
    room.start_speech("alice", "en", "de", "LINEAR16", 16000)
    room.start_voice("bob", "it", None, "r1")
    # Bob speaks it over LiveKit; nobody else hears fr, so it -> fr is never needed.
    assert room.translation_pairs(GRACE) == pairs("en>fr", "en>de") | pairs(
        "fr>en", "it>en", preference=("openai",)
    )


def test_members_away_past_the_grace_period_are_not_prepared_for() -> None:
    room = Room(code="r1")
    room.join("alice", "Alice", "en")
    room.join("bob", "Bob", "fr")
    room.leave("bob", "disconnected")
    assert room.translation_pairs(GRACE) == pairs("en>fr", "fr>en")
    assert room.translation_pairs(timedelta(0)) == set()


# The registry warms the engine that would translate ------------------------------


class Recording(Translator):
    """Test double: records warm-ups; may not support pairs, may fail to warm."""

    def __init__(self, name: str, *, supports: bool = True, fails: bool = False) -> None:
        self.name = name
        self._supports = supports
        self._fails = fails
        self.warmed: list[tuple[str, str]] = []

    def supports(self, source: str, target: str) -> bool:
        return self._supports

    def translate(self, text: str, source: str, target: str) -> str:
        return text

    def warm(self, source: str, target: str) -> None:
        self.warmed.append((source, target))
        if self._fails:
            raise TranslationError("cannot start")


def test_registry_warms_the_first_engine_that_supports_the_pair() -> None:
    nopair = Recording("nopair", supports=False)
    first, second = Recording("first"), Recording("second")
    registry = TranslationRegistry([nopair, first, second])
    registry.warm("en", "fr")
    registry.warm("en", "es", ("second",))
    registry.warm("en", "en")
    assert (nopair.warmed, first.warmed, second.warmed) == ([], [("en", "fr")], [("en", "es")])
    registry.close()


def test_registry_warms_the_fallback_when_the_first_engine_cannot_warm() -> None:
    broken, fallback = Recording("broken", fails=True), Recording("fallback")
    registry = TranslationRegistry([broken, fallback])
    registry.warm("en", "fr")  # never raises
    assert broken.warmed == fallback.warmed == [("en", "fr")]
    registry.close()


def test_engines_without_pipelines_have_nothing_to_warm() -> None:
    IdentityTranslator().warm("en", "fr")


# The warmer: off the caller's thread, each pair queued once ---------------------


class Gate:
    """A registry whose warm-ups wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started: list[LanguagePair] = []
        self.lock = threading.Lock()

    def warm(self, source: str, target: str, preference: tuple[str, ...] = ()) -> None:
        with self.lock:
            self.started.append(LanguagePair(source, target, preference))
        self.open.wait(10)


def test_the_warmer_returns_at_once_and_queues_a_pair_once() -> None:
    gate = Gate()
    warmer = TranslationWarmer(gate, workers=2)  # two, to see both pairs start
    try:
        begun = time.perf_counter()
        warmer.warm(pairs("en>fr", "fr>en"))
        warmer.warm(pairs("en>fr", "fr>en"))
        assert time.perf_counter() - begun < 0.05, "asking never waits for a pipeline"
        deadline = time.monotonic() + 5
        while len(gate.started) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(gate.started) == sorted(pairs("en>fr", "fr>en"))
        gate.open.set()
        time.sleep(0.2)
        warmer.warm(pairs("en>fr"))  # done, so asked again: warmed again (a no-op if running)
        deadline = time.monotonic() + 5
        while len(gate.started) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(gate.started) == 3
    finally:
        gate.open.set()
        warmer.stop()


# The room actor asks when its languages change -----------------------------------


class Asked:
    """Records what a room asked to warm, thread-safely."""

    def __init__(self) -> None:
        self.calls: list[list[LanguagePair]] = []
        self.changed = threading.Condition()

    def __call__(self, wanted: Sequence[LanguagePair]) -> None:
        with self.changed:
            self.calls.append(list(wanted))
            self.changed.notify_all()

    def wait_for(self, count: int) -> list[list[LanguagePair]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.calls) >= count, 10), self.calls
            return list(self.calls)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    opened = EventStore.open(str(tmp_path / "warm.db"))
    yield opened
    opened.close()


def ask(room: object, make: object) -> Outcome:
    done = threading.Event()
    outcomes: list[Outcome] = []

    def reply(outcome: Outcome) -> None:
        outcomes.append(outcome)
        done.set()

    room.tell(make(reply))  # type: ignore[attr-defined, operator]
    assert done.wait(10)
    assert isinstance(outcomes[0], Accepted), outcomes
    return outcomes[0]


def test_joining_and_switching_language_ask_for_the_rooms_new_pairs(store: EventStore) -> None:
    writer = GroupCommitWriter(store)
    asked = Asked()
    room = RoomActor.start("r1", store, writer, GRACE, lambda _: None, asked)
    try:
        ask(room, lambda reply: JoinRoom("alice", "Alice", "en", reply))
        ask(room, lambda reply: JoinRoom("bob", "Bob", "fr", reply))
        assert asked.wait_for(1) == [[LanguagePair("en", "fr"), LanguagePair("fr", "en")]]
        ask(room, lambda reply: SubmitTranscript("alice", "hello", "en", "typed", 0, reply))
        ask(room, lambda reply: JoinRoom("carol", "Carol", "en", reply))
        ask(room, lambda reply: ChangeLanguage("bob", "es", reply))
        calls = asked.wait_for(2)
        assert len(calls) == 2, "a transcript, or a join in a language present, asks nothing"
        assert calls[-1] == [LanguagePair("en", "es"), LanguagePair("es", "en")]
        ask(room, lambda reply: JoinRoom("dave", "Dave", "fr", reply))
        calls = asked.wait_for(3)
        assert calls[-1] == [
            LanguagePair("en", "fr"),
            LanguagePair("es", "fr"),
            LanguagePair("fr", "en"),
            LanguagePair("fr", "es"),
        ], "into the newcomer's language first: the others are likelier to speak next"
    finally:
        room.stop()

    reopened = Asked()
    room = RoomActor.start("r1", store, writer, GRACE, lambda _: None, reopened)
    try:
        (call,) = reopened.wait_for(1)
        assert set(call) == pairs("en>es", "es>en", "en>fr", "fr>en", "es>fr", "fr>es"), (
            "a room opened again (after a restart) warms all its pairs"
        )
    finally:
        room.stop()
        writer.stop()


# Apertium: pipelines of the whole route, started and warmed ahead of use --------------


def test_apertium_warm_starts_every_hop_and_translation_reuses_them() -> None:
    engine = ApertiumTranslator()
    try:
        engine.warm("en", "fr")
        warm = (engine.pipeline_pid("en", "ca"), engine.pipeline_pid("ca", "fr"))
        assert None not in warm, "both hops of the pivot route run"
        engine.warm("en", "fr")
        assert engine.translate("The house is big.", "en", "fr")
        assert (engine.pipeline_pid("en", "ca"), engine.pipeline_pid("ca", "fr")) == warm
        engine.warm("en", "xx")  # no route: nothing to do
    finally:
        engine.close()


# End to end: the first message is as fast as the next one -------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedInstance]:
    instance = ServedInstance(
        db=str(tmp_path / "warm.db"),
        env={"VOICEMODE_LOG_LEVEL": "INFO", "VOICEMODE_TRANSLATION_TIMEOUT_S": "30"},
    )
    instance.start()
    yield instance
    instance.stop()


async def wait_for_log(served: ServedInstance, *lines: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not all(line in served.output() for line in lines):
        assert asyncio.get_running_loop().time() < deadline, f"never logged {lines}"
        await asyncio.sleep(0.1)


def test_the_first_translation_after_a_join_is_as_fast_as_the_next(
    served: ServedInstance,
) -> None:
    texts = ["The house is big.", "The dog is black."]

    async def scenario() -> None:
        alice = await Client.connect(served.url, served.token("alice", lang="en"))
        bob = await Client.connect(served.url, served.token("bob", lang="fr"))
        for client in (alice, bob):
            reply = await client.request("join-room", {"roomCode": "r1"})
            assert reply["event"] == "joined-room", reply
        # en -> fr and fr -> en go through Catalan: four pipelines start when Bob joins.
        # Waiting for all four (not only en -> fr) keeps warm-ups from competing with
        # the translations measured.
        directions = ("eng-cat", "cat-fra", "fra-cat", "cat-eng")
        await wait_for_log(served, *(f"apertium {d} pipeline warm" for d in directions))
        for text in texts:
            await alice.send("speech-transcript", {"transcript": text, "sourceLang": "en"})
            await bob.expect("translated-message", originalText=text, timeout=30)

    asyncio.run(scenario())
    produced = [
        json.loads(line)
        for line in served.replay("r1", "--type", "TranslationProduced", "--json").splitlines()
    ]
    latency = {entry["original_text"]: entry["latency_ms"] for entry in produced}
    assert all(entry["engine"] == "apertium" for entry in produced), produced
    first, second = latency[texts[0]], latency[texts[1]]
    # Cold, the first took 1-3 s here (two pipelines to start); warm ones take a few ms.
    assert first < 300, f"first message {first} ms, second {second} ms"
