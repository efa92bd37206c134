"""Resume: a client that was away gets exactly what it missed, even across a crash."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.service import Client, ServedInstance

SENTENCES = [
    "The house is big.",
    "The dog is black.",
    "The cat is small.",
    "The book is red.",
    "The car is new.",
    "The tree is tall.",
]


async def joined(served: ServedInstance, user: str, lang: str, **join: Any) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": "r1", **join})
    assert reply["event"] == "joined-room", reply
    return client


async def say(client: Client, text: str) -> int:
    ack = await client.request("speech-transcript", {"transcript": text, "sourceLang": "en"})
    assert ack["event"] == "ack", ack
    position: int = ack["data"]["position"]
    return position


def stored_frames(client: Client) -> list[dict[str, Any]]:
    return [frame for frame in client.frames if "pos" in frame]


def test_resume_delivers_exactly_the_missed_frames_in_order(served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "es")
        for text in SENTENCES[:2]:
            await say(alice, text)
        await bob.wait_for(lambda f: len(bob.named("translated-message")) == 2)
        last_seen = stored_frames(bob)[-1]["pos"]
        await bob.close()
        await alice.expect("user-left", userId="bob")

        for text in SENTENCES[2:5]:
            await say(alice, text)
        carol = await joined(served, "carol", "en")

        bob = await joined(served, "bob", "es")
        await bob.send("resume", {"since": last_seen})
        await bob.wait_for(lambda f: len(bob.named("translated-message")) == 3)
        await say(alice, SENTENCES[5])
        await bob.wait_for(lambda f: len(bob.named("translated-message")) == 4)
        await asyncio.sleep(0.5)

        frames = stored_frames(bob)
        positions = [f["pos"] for f in frames]
        assert positions == sorted(set(positions)), "in order, none twice"
        assert all(p > last_seen for p in positions)
        originals = [f["data"]["originalText"] for f in bob.named("translated-message")]
        assert originals == SENTENCES[2:6], "none missing"
        assert [f["data"]["userId"] for f in bob.named("user-joined")] == ["carol"]
        await carol.close()

    asyncio.run(scenario())


def test_resume_while_others_keep_talking_is_gapless(served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "en")
        await say(alice, "first")
        await bob.expect("translated-message", originalText="first")
        seen = stored_frames(bob)[-1]["pos"]
        await bob.close()
        talking = True
        said: list[str] = []

        async def chatter() -> None:
            n = 0
            while talking:
                n += 1
                said.append(f"line {n}")
                await say(alice, f"line {n}")
                await asyncio.sleep(0.005)

        task = asyncio.create_task(chatter())
        await asyncio.sleep(0.3)
        bob = await Client.connect(served.url, served.token("bob", lang="en"))
        await bob.send("join-room", {"roomCode": "r1"})
        await bob.send("resume", {"since": seen})
        await asyncio.sleep(0.5)
        talking = False
        await task
        await bob.wait_for(lambda f: f.get("data", {}).get("originalText") == said[-1], timeout=10)
        got = [f["data"]["originalText"] for f in bob.named("translated-message")]
        assert got == said
        positions = [f["pos"] for f in stored_frames(bob)]
        assert positions == sorted(set(positions))

    asyncio.run(scenario())


def test_resume_with_a_ref_is_acknowledged_after_the_missed_frames(
    served: ServedInstance,
) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "en")
        await say(alice, SENTENCES[0])
        await bob.expect("translated-message", originalText=SENTENCES[0])
        seen = stored_frames(bob)[-1]["pos"]
        await bob.close()
        await alice.expect("user-left", userId="bob")
        last = 0
        for text in SENTENCES[1:4]:
            last = await say(alice, text)

        bob = await joined(served, "bob", "en")
        ack = await bob.request("resume", {"since": seen}, ref="catch-up")
        assert ack["event"] == "ack", ack
        assert ack["data"]["event"] == "resume"
        assert ack["data"]["position"] >= last, "caught up to at least the last missed event"
        missed = [f["data"]["originalText"] for f in bob.named("translated-message")]
        assert missed == SENTENCES[1:4], "the missed frames come before the ack"
        assert all(f["pos"] <= ack["data"]["position"] for f in stored_frames(bob))

        await say(alice, SENTENCES[4])
        live = await bob.expect("translated-message", originalText=SENTENCES[4])
        assert live["pos"] > ack["data"]["position"]

    asyncio.run(scenario())


def test_a_since_past_the_end_of_the_log_does_not_silence_the_session(
    served: ServedInstance,
) -> None:
    """A client that claims to have seen the future still hears what comes next."""

    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "en")
        ack = await bob.request("resume", {"since": 10**12})
        assert ack["event"] == "ack"
        assert ack["data"]["position"] < 10**12, "clamped to the log's newest position"
        await say(alice, SENTENCES[0])
        await bob.expect("translated-message", originalText=SENTENCES[0])

    asyncio.run(scenario())


@pytest.mark.slow
def test_resume_after_sigkill_delivers_everything_accepted(served: ServedInstance) -> None:
    async def before_crash() -> int:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "es")
        await say(alice, SENTENCES[0])
        await bob.expect("translated-message")
        seen: int = stored_frames(bob)[-1]["pos"]
        await bob.close()
        await alice.expect("user-left", userId="bob")
        for text in SENTENCES[1:5]:
            await say(alice, text)
        return seen

    seen = asyncio.run(before_crash())
    served.kill()
    served.start()

    async def after_restart() -> None:
        bob = await joined(served, "bob", "es", since=seen)
        await bob.wait_for(lambda f: len(bob.named("translated-message")) == 4, timeout=20)
        await asyncio.sleep(0.5)
        originals = [f["data"]["originalText"] for f in bob.named("translated-message")]
        assert originals == SENTENCES[1:5]
        positions = [f["pos"] for f in stored_frames(bob)]
        assert positions == sorted(set(positions))
        assert all(
            f["data"]["targetLang"] == "es"
            and f["data"]["translatedText"] != f["data"]["originalText"]
            for f in bob.named("translated-message")
        )

    asyncio.run(after_restart())
