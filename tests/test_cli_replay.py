"""``voicemode replay``: a real history, recorded by a served instance, explained by the CLI."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import pytest

from events.timeline import EVENT_TYPES
from tests.support.service import ROOT, Client, ServedInstance

R1_EVENTS = [
    ("RoomOpened", ""),
    ("ParticipantJoined", "alice"),
    ("ParticipantJoined", "bob"),
    ("ParticipantJoined", "carol"),
    ("TranscriptRecognized", "alice"),
    ("TranslationProduced", "alice"),
    ("TranslationProduced", "alice"),
    ("TranscriptRecognized", "bob"),
    ("TranslationProduced", "bob"),
    ("TranslationProduced", "bob"),
    ("LanguageChanged", "carol"),
    ("ParticipantLeft", "bob"),
    ("SpeechStarted", "alice"),
    ("TranscriptRecognized", "alice"),
    ("TranslationProduced", "alice"),
    ("ClientErrorReported", "carol"),
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedInstance]:
    """A served instance whose engine limit is generous enough for a loaded machine."""
    instance = ServedInstance(
        db=str(tmp_path / "voicemode.db"), env={"VOICEMODE_TRANSLATION_TIMEOUT_S": "30"}
    )
    instance.start()
    yield instance
    instance.stop()


def voicemode_command() -> list[str]:
    """The installed console script, or ``python runtime.py`` when it is missing."""
    script = Path(sys.executable).with_name("voicemode")
    if script.is_file():
        return [str(script)]
    return [sys.executable, str(ROOT / "runtime.py")]


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*voicemode_command(), "replay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def replay_ok(*args: str) -> list[str]:
    result = replay(*args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def replay_json(*args: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in replay_ok(*args, "--json")]


@dataclass(frozen=True)
class Line:
    """One parsed line of the text timeline."""

    position: int
    room: str
    event: str
    who: str
    text: str


def parse(lines: list[str]) -> list[Line]:
    parsed = []
    for text in lines:
        tokens = text.split()
        position, room, event = int(tokens[0]), tokens[3], tokens[4]
        who = "" if event == "RoomOpened" else tokens[5]
        parsed.append(Line(position, room, event, who, text))
    return parsed


def members(lines: list[str]) -> set[str]:
    """The participant lines of ``--state-at``, whitespace normalised."""
    return {" ".join(line.split()) for line in lines[1:]}


@dataclass
class History:
    """A store written by a real served instance, and the positions it acknowledged."""

    db: str
    at: dict[str, int] = field(default_factory=dict)


async def joined(served: ServedInstance, user: str, lang: str, room: str) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": room})
    assert reply["event"] == "joined-room", reply
    return client


async def acked(client: Client, event: str, data: dict[str, Any]) -> int:
    reply = await client.request(event, data)
    assert reply["event"] == "ack", reply
    position: int = reply["data"]["position"]
    return position


async def say(client: Client, text: str, lang: str) -> int:
    return await acked(client, "speech-transcript", {"transcript": text, "sourceLang": lang})


async def make_history(served: ServedInstance, at: dict[str, int]) -> None:
    alice = await joined(served, "alice", "en", "r1")
    bob = await joined(served, "bob", "es", "r1")
    at["bob joined"] = (await bob.wait_for(lambda f: f["event"] == "joined-room"))["data"][
        "position"
    ]
    carol = await joined(served, "carol", "fr", "r1")
    dave = await joined(served, "dave", "en", "r2")

    at["house"] = await say(alice, "The house is big.", "en")
    await bob.expect("translated-message", originalText="The house is big.")
    await carol.expect("translated-message", originalText="The house is big.")
    at["room two"] = await say(dave, "Room two is quiet.", "en")
    at["dog"] = await say(bob, "El perro es negro.", "es")
    await alice.expect("translated-message", originalText="El perro es negro.")
    await carol.expect("translated-message", originalText="El perro es negro.")
    at["carol es"] = await acked(carol, "set-language", {"language": "es"})
    left = await bob.request("leave-room")
    assert left["event"] == "left-room", left
    await alice.expect("user-left", userId="bob")
    at["solo"] = await acked(
        alice, "start-speech", {"languageCode": "en", "soloMode": True, "soloTargetLang": "fr"}
    )
    at["cat"] = await say(alice, "The cat is small.", "en")
    await alice.expect("solo-translated", originalText="The cat is small.")
    at["error"] = await acked(
        carol, "client-error", {"code": "mic_denied", "message": "Microphone permission denied"}
    )
    for client in (alice, bob, carol, dave):
        await client.close()
    await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    db = str(tmp_path_factory.mktemp("replay") / "voicemode.db")
    # A generous engine time limit: cold Apertium pipelines on a loaded CI machine
    # must not turn this history into untranslated fallbacks.
    served = ServedInstance(db=db, env={"VOICEMODE_TRANSLATION_TIMEOUT_S": "30"})
    served.start()
    recorded = History(db)
    try:
        asyncio.run(make_history(served, recorded.at))
    finally:
        served.stop()
    assert served.process is not None and served.process.returncode == 0, served.output()
    yield recorded


def test_timeline_lists_the_room_in_log_order_with_names_and_explanations(
    history: History,
) -> None:
    lines = parse(replay_ok("r1", "--db", history.db))
    positions = [line.position for line in lines]
    assert positions == sorted(set(positions)), "log order, each once"
    assert all(line.room == "r1" for line in lines)
    head, tail = lines[: len(R1_EVENTS)], lines[len(R1_EVENTS) :]
    assert [(line.event, line.who) for line in head] == R1_EVENTS
    assert {(line.event, line.who) for line in tail} == {
        ("ParticipantLeft", "alice"),
        ("ParticipantLeft", "carol"),
    }, "disconnects at the end"
    assert all("left (disconnected)" in line.text for line in tail)

    by_position = {line.position: line.text for line in lines}
    assert "room r1 opened" in head[0].text
    assert "Alice joined, hears en" in head[1].text
    assert "Bob joined, hears es" in head[2].text
    assert "Carol joined, hears fr" in head[3].text
    assert '"The house is big." [en -> es,fr]' in by_position[history.at["house"]]
    to_es, to_fr = head[5].text, head[6].text
    assert "en -> es" in to_es and "casa" in to_es.lower() and "via apertium" in to_es
    assert "en -> fr" in to_fr and "maison" in to_fr.lower() and "via apertium" in to_fr
    assert '"El perro es negro." [es -> en,fr]' in by_position[history.at["dog"]]
    assert "es -> en" in head[8].text and "dog" in head[8].text.lower()
    assert "es -> fr" in head[9].text and "chien" in head[9].text.lower()
    assert "hears fr -> es" in by_position[history.at["carol es"]]
    assert "left (left)" in head[11].text
    assert "speaks en (solo -> fr)" in by_position[history.at["solo"]]
    assert '"The cat is small." [en -> fr]' in by_position[history.at["cat"]]
    assert "en -> fr" in head[14].text and "chat" in head[14].text.lower()
    assert "apertium" in head[14].text
    assert 'mic_denied: "Microphone permission denied"' in by_position[history.at["error"]]


def test_room_filter_excludes_other_rooms(history: History) -> None:
    everything = parse(replay_ok("--db", history.db))
    r1 = parse(replay_ok("r1", "--db", history.db))
    r2 = parse(replay_ok("r2", "--db", history.db))
    assert {line.room for line in everything} == {"r1", "r2"}
    assert [line.position for line in everything] == sorted(
        [line.position for line in r1] + [line.position for line in r2]
    )
    assert not any("Room two" in line.text or line.who == "dave" for line in r1)
    assert [(line.event, line.who) for line in r2] == [
        ("RoomOpened", ""),
        ("ParticipantJoined", "dave"),
        ("TranscriptRecognized", "dave"),
        ("ParticipantLeft", "dave"),
    ]
    assert '"Room two is quiet." [en -> -]' in r2[2].text, "nobody to translate for"


def test_json_lines_carry_every_field(history: History) -> None:
    records = replay_json("r1", "--db", history.db)
    assert [record["pos"] for record in records] == sorted({record["pos"] for record in records})
    assert [(r["event"], r["who"]) for r in records[: len(R1_EVENTS)]] == R1_EVENTS
    assert all(record["room"] == "r1" for record in records)
    assert all(isinstance(record["time"], str) and record["summary"] for record in records)
    by_position = {record["pos"]: record for record in records}

    house = by_position[history.at["house"]]
    assert house["event"] == "TranscriptRecognized"
    assert house["text"] == "The house is big."
    assert house["source_language"] == "en"
    assert house["speaker_id"] == "alice"
    assert house["speaker_name"] == "Alice"
    assert list(house["targets"]) == ["es", "fr"]
    assert house["solo_target"] is None

    translations = [r for r in records if r["event"] == "TranslationProduced"]
    assert [(t["original_text"], t["target_language"]) for t in translations] == [
        ("The house is big.", "es"),
        ("The house is big.", "fr"),
        ("El perro es negro.", "en"),
        ("El perro es negro.", "fr"),
        ("The cat is small.", "fr"),
    ]
    assert [(t["engine"], t["error_code"]) for t in translations] == [("apertium", None)] * 5
    assert all(t["translated_text"] != t["original_text"] for t in translations)
    assert [t["solo"] for t in translations] == [False, False, False, False, True]
    assert {t["transcript_id"] for t in translations[:2]} == {house["transcript_id"]}

    changed = by_position[history.at["carol es"]]
    assert (changed["event"], changed["user_id"]) == ("LanguageChanged", "carol")
    assert (changed["previous"], changed["language"]) == ("fr", "es")
    solo = by_position[history.at["solo"]]
    assert (solo["event"], solo["language"], solo["solo_target"]) == ("SpeechStarted", "en", "fr")
    error = by_position[history.at["error"]]
    assert error["event"] == "ClientErrorReported"
    assert (error["code"], error["message"]) == ("mic_denied", "Microphone permission denied")


def test_type_and_participant_filters(history: History) -> None:
    transcripts = parse(replay_ok("r1", "--db", history.db, "--type", "TranscriptRecognized"))
    assert [line.event for line in transcripts] == ["TranscriptRecognized"] * 3
    assert [line.position for line in transcripts] == [
        history.at["house"],
        history.at["dog"],
        history.at["cat"],
    ]
    both = parse(
        replay_ok("r1", "--db", history.db, "--type", "LanguageChanged", "--type", "SpeechStarted")
    )
    assert [line.position for line in both] == [history.at["carol es"], history.at["solo"]]

    bob = parse(replay_ok("r1", "--db", history.db, "--participant", "bob"))
    assert [(line.event, line.who) for line in bob] == [
        ("ParticipantJoined", "bob"),
        ("TranscriptRecognized", "bob"),
        ("TranslationProduced", "bob"),
        ("TranslationProduced", "bob"),
        ("ParticipantLeft", "bob"),
    ]
    bob_transcripts = replay_json(
        "r1", "--db", history.db, "--participant", "bob", "--type", "TranscriptRecognized"
    )
    assert [r["text"] for r in bob_transcripts] == ["El perro es negro."]
    assert parse(replay_ok("r1", "--db", history.db, "--participant", "nobody")) == []


def test_type_names_match_in_any_case_and_unknown_ones_are_refused(history: History) -> None:
    exact = replay_ok("r1", "--db", history.db, "--type", "TranscriptRecognized")
    assert len(exact) == 3
    assert replay_ok("r1", "--db", history.db, "--type", "transcriptrecognized") == exact
    assert replay_ok("r1", "--db", history.db, "--type", "TRANSCRIPTRECOGNIZED") == exact

    unknown = replay("r1", "--db", history.db, "--type", "Nope")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        "voicemode replay: unknown event type 'Nope'; known types: " + ", ".join(EVENT_TYPES)
    ]
    assert "TranscriptRecognized" in EVENT_TYPES and "TranslationProduced" in EVENT_TYPES


def test_since_and_until_bound_positions(history: History) -> None:
    everything = [line.position for line in parse(replay_ok("r1", "--db", history.db))]
    since, until = history.at["house"], history.at["carol es"]
    bounded = parse(
        replay_ok("r1", "--db", history.db, "--since", str(since), "--until", str(until))
    )
    assert [line.position for line in bounded] == [p for p in everything if since < p <= until]
    assert bounded[0].event == "TranslationProduced", "since is exclusive"
    assert bounded[-1].event == "LanguageChanged", "until is inclusive"
    later = parse(replay_ok("r1", "--db", history.db, "--since", str(history.at["cat"])))
    assert [line.position for line in later] == [p for p in everything if p > history.at["cat"]]
    assert replay_ok("r1", "--db", history.db, "--until", "0") == []


def test_state_at_shows_the_room_as_it_was(history: History) -> None:
    before_bob = replay_ok(
        "r1", "--db", history.db, "--state-at", str(history.at["bob joined"] - 1)
    )
    assert before_bob[0].startswith("room r1 at position")
    assert "1 participant(s)" in before_bob[0]
    assert members(before_bob) == {"alice Alice hears en group present"}

    position = history.at["house"]
    lines = replay_ok("r1", "--db", history.db, "--state-at", str(position))
    assert lines[0] == f"room r1 at position {position}: 3 participant(s)"
    assert members(lines) == {
        "alice Alice hears en group present",
        "bob Bob hears es group present",
        "carol Carol hears fr group present",
    }

    position = history.at["carol es"]
    lines = replay_ok("r1", "--db", history.db, "--state-at", str(position))
    assert members(lines) == {
        "alice Alice hears en group present",
        "bob Bob hears es group present",
        "carol Carol hears es group present",
    }

    position = history.at["error"]
    lines = replay_ok("r1", "--db", history.db, "--state-at", str(position))
    assert lines[0] == f"room r1 at position {position}: 2 participant(s)"
    assert members(lines) == {
        "alice Alice hears en solo -> fr present, speaking",
        "carol Carol hears es group present",
    }

    last = max(line.position for line in parse(replay_ok("r1", "--db", history.db)))
    lines = replay_ok("r1", "--db", history.db, "--state-at", str(last))
    assert members(lines) == {
        "alice Alice hears en group away",
        "carol Carol hears es group away",
    }, "a disconnect keeps the member, away; it ends her speech, and its solo mode"


def test_bad_requests_get_a_clear_message_and_a_failure_code(
    history: History, tmp_path: Path
) -> None:
    missing = replay("nosuchroom", "--db", history.db)
    assert missing.returncode != 0
    assert "no room nosuchroom" in missing.stderr
    assert missing.stdout == ""
    assert "Traceback" not in missing.stderr

    no_room = replay("--db", history.db, "--state-at", "5")
    assert no_room.returncode == 2
    assert "--state-at needs a ROOM" in no_room.stderr

    unknown_at = replay("nosuchroom", "--db", history.db, "--state-at", "5")
    assert unknown_at.returncode != 0
    assert "nosuchroom" in unknown_at.stdout + unknown_at.stderr
    not_yet = replay("r2", "--db", history.db, "--state-at", "1")
    assert not_yet.returncode != 0
    assert "r2 did not exist at position 1" in not_yet.stdout + not_yet.stderr

    typo = tmp_path / "typo.db"
    no_store = replay("r1", "--db", str(typo))
    assert no_store.returncode != 0
    assert str(typo) in no_store.stderr
    assert "Traceback" not in no_store.stderr
    assert not typo.exists(), "replay never creates a store"

    bad_flag = replay("r1", "--db", history.db, "--since", "soon")
    assert bad_flag.returncode == 2
    assert "--since" in bad_flag.stderr


class LineReader:
    """Collects a subprocess's stdout lines on a thread, so tests can wait with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, *needles: str, timeout: float = 5.0) -> str:
        """The first line (old or new) containing every needle."""
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if all(needle in line for needle in needles):
                return line
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            self.lines.append(line)
            if all(needle in line for needle in needles):
                return line
        raise AssertionError(f"{needles!r} not printed within {timeout} s; got {self.lines}")

    def drain(self, quiet_s: float = 0.3) -> list[str]:
        while True:
            try:
                self.lines.append(self._queue.get(timeout=quiet_s))
            except queue.Empty:
                return self.lines


def test_follow_prints_new_events_from_a_running_server(served: ServedInstance) -> None:
    async def before() -> None:
        alice = await joined(served, "alice", "en", "r1")
        bob = await joined(served, "bob", "es", "r1")
        await say(alice, "The house is big.", "en")
        await bob.expect("translated-message")
        await alice.close()
        await bob.close()

    asyncio.run(before())
    follower = subprocess.Popen(
        [*voicemode_command(), "replay", "r1", "--db", served.db, "--follow"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert follower.stdout is not None and follower.stderr is not None
    reader = LineReader(follower.stdout)
    try:
        reader.wait_for('"The house is big."', timeout=20)
        reader.wait_for("TranslationProduced", "casa")

        async def live() -> None:
            dave = await joined(served, "dave", "en", "r2")
            carol = await joined(served, "carol", "es", "r1")
            await say(dave, "Room two is quiet.", "en")
            started = time.monotonic()
            await say(carol, "El libro es rojo.", "es")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, reader.wait_for, '"El libro es rojo."')
            assert time.monotonic() - started < 5
            await loop.run_in_executor(None, reader.wait_for, "TranslationProduced", "es -> en")
            await carol.close()
            await loop.run_in_executor(None, reader.wait_for, "carol", "left (disconnected)")
            await dave.close()

        asyncio.run(live())
        lines = parse(reader.drain())
        assert follower.poll() is None, "--follow keeps running"
        positions = [line.position for line in lines]
        assert positions == sorted(set(positions)), "history then live, in order, none twice"
        assert all(line.room == "r1" for line in lines)
        assert not any("Room two" in line.text for line in lines), "r2 is filtered out live too"
        assert [(line.event, line.who) for line in lines if line.who == "carol"] == [
            ("ParticipantJoined", "carol"),
            ("TranscriptRecognized", "carol"),
            ("TranslationProduced", "carol"),
            ("ParticipantLeft", "carol"),
        ]
        live_said = next(line for line in lines if '"El libro es rojo."' in line.text)
        assert "[es -> en]" in live_said.text, "alice is away, still translated for"
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            follower.wait(timeout=10)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()
            pytest.fail("replay --follow did not stop on Ctrl-C")
    assert follower.returncode == 0, follower.stderr.read()
    assert "Traceback" not in follower.stderr.read()
