"""The real service on a real PostgreSQL store: rooms, resume after a crash, replay.

The database is shared by the whole session (and may be an external one named by
``VOICEMODE_TEST_POSTGRES_URL``), so every test uses room codes of its own.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from tests.support.postgres_server import postgres_url  # noqa: F401  (the fixture)
from tests.support.service import ROOT, Client, ServedInstance

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SENTENCES = [
    "The house is big.",
    "The dog is black.",
    "The cat is small.",
    "The book is red.",
    "The car is new.",
]


@pytest.fixture
def served_pg(postgres_url: str) -> Iterator[ServedInstance]:  # noqa: F811
    """``voicemode serve --db postgresql://...`` with a generous engine time limit."""
    instance = ServedInstance(db=postgres_url, env={"VOICEMODE_TRANSLATION_TIMEOUT_S": "30"})
    instance.start()
    yield instance
    instance.stop()
    if instance.log_path is not None:
        instance.log_path.unlink(missing_ok=True)


@pytest.fixture
def room() -> str:
    return f"pg-{uuid.uuid4().hex[:12]}"


async def joined(served: ServedInstance, user: str, lang: str, room: str, **join: Any) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": room, **join})
    assert reply["event"] == "joined-room", reply
    return client


async def say(client: Client, text: str, lang: str = "en") -> int:
    ack = await client.request("speech-transcript", {"transcript": text, "sourceLang": lang})
    assert ack["event"] == "ack", ack
    position: int = ack["data"]["position"]
    return position


def stored_frames(client: Client) -> list[dict[str, Any]]:
    return [frame for frame in client.frames if "pos" in frame]


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "runtime.py"), "replay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_three_clients_hear_each_other_through_postgres(
    served_pg: ServedInstance, room: str
) -> None:
    served = served_pg

    async def scenario() -> None:
        alice = await joined(served, "alice", "en", room)
        bob = await joined(served, "bob", "es", room)
        carol = await joined(served, "carol", "en", room)
        await alice.expect("user-joined", userId="bob")
        await alice.expect("user-joined", userId="carol")

        await alice.send(
            "speech-transcript", {"transcript": "The house is big.", "sourceLang": "en"}
        )
        mine = await alice.expect("recognized-speech")
        assert mine["data"]["text"] == "The house is big."
        assert mine["data"]["speakerName"] == "Alice"
        to_bob = await bob.expect("translated-message")
        assert to_bob["data"]["targetLang"] == "es"
        assert "casa" in to_bob["data"]["translatedText"].lower()
        assert to_bob["data"]["id"] == mine["data"]["id"]
        assert to_bob["pos"] > mine["pos"]
        to_carol = await carol.expect("translated-message")
        assert to_carol["data"]["translatedText"] == "The house is big."

        await bob.send(
            "speech-transcript", {"transcript": "La casa es grande.", "sourceLang": "es"}
        )
        to_alice = await alice.expect("translated-message")
        assert "house" in to_alice["data"]["translatedText"].lower()
        await asyncio.sleep(0.3)
        assert alice.named("translated-message") == [to_alice]
        assert len(bob.named("translated-message")) == 1
        for client in (alice, bob, carol):
            await client.close()

    asyncio.run(scenario())
    output = served.output()
    password = urlsplit(served.db).password
    assert "event store postgresql://" in output
    assert not password or password not in output, "the log never shows the password"

    lines = replay(room, "--db", served.db)
    assert lines.returncode == 0, lines.stderr
    assert password is None or password not in lines.stdout + lines.stderr
    timeline = lines.stdout.splitlines()
    assert [line.split()[4] for line in timeline[:7]] == [
        "RoomOpened",
        "ParticipantJoined",
        "ParticipantJoined",
        "ParticipantJoined",
        "TranscriptRecognized",
        "TranslationProduced",
        "TranscriptRecognized",
    ], timeline
    assert f"room {room} opened" in timeline[0]
    assert '"The house is big." [en -> es]' in timeline[4]
    assert "en -> es" in timeline[5] and "via apertium" in timeline[5]
    assert '"La casa es grande." [es -> en]' in timeline[6]

    records = [
        orjson.loads(line) for line in replay(room, "--db", served.db, "--json").stdout.splitlines()
    ]
    translations = [r for r in records if r["event"] == "TranslationProduced"]
    assert [(t["source_language"], t["target_language"]) for t in translations] == [
        ("en", "es"),
        ("es", "en"),
    ]
    assert all(t["engine"] == "apertium" for t in translations)
    positions = [r["pos"] for r in records]
    assert positions == sorted(set(positions))
    assert {r["room"] for r in records} == {room}


def test_resume_after_sigkill_on_postgres(served_pg: ServedInstance, room: str) -> None:
    served = served_pg

    async def before_crash() -> int:
        alice = await joined(served, "alice", "en", room)
        bob = await joined(served, "bob", "es", room)
        await say(alice, SENTENCES[0])
        await bob.expect("translated-message")
        seen: int = stored_frames(bob)[-1]["pos"]
        await bob.close()
        await alice.expect("user-left", userId="bob")
        for text in SENTENCES[1:]:
            await say(alice, text)
        return seen

    seen = asyncio.run(before_crash())
    served.kill()
    served.start()

    async def after_restart() -> None:
        bob = await joined(served, "bob", "es", room, since=seen)
        await bob.wait_for(
            lambda f: len(bob.named("translated-message")) == len(SENTENCES) - 1, timeout=30
        )
        await asyncio.sleep(0.5)
        got = bob.named("translated-message")
        assert [f["data"]["originalText"] for f in got] == SENTENCES[1:]
        positions = [f["pos"] for f in stored_frames(bob)]
        assert positions == sorted(set(positions)), "in order, none twice"
        assert all(p > seen for p in positions)
        assert all(
            f["data"]["targetLang"] == "es"
            and f["data"]["translatedText"] != f["data"]["originalText"]
            for f in got
        )
        await bob.close()

    asyncio.run(after_restart())

    records = [
        orjson.loads(line)
        for line in replay(
            room, "--db", served.db, "--json", "--type", "TranslationProduced"
        ).stdout.splitlines()
    ]
    assert [r["original_text"] for r in records] == SENTENCES, "one translation each, no copies"
    assert {r["target_language"] for r in records} == {"es"}


def test_replay_of_an_unknown_room_on_postgres(postgres_url: str) -> None:  # noqa: F811
    result = replay(f"pg-missing-{uuid.uuid4().hex[:8]}", "--db", postgres_url)
    assert result.returncode != 0
    assert "pg-missing-" in result.stderr
    assert "Traceback" not in result.stderr
