"""A room end to end for text: join, speak, hear it translated, leave."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tests.support.service import Client, ServedInstance


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


async def joined(
    served: ServedInstance, user: str, lang: str, room: str = "r1", **join: Any
) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": room, **join})
    assert reply["event"] == "joined-room", reply
    return client


def test_three_clients_hear_each_transcript_in_their_language(served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "es")
        carol = await joined(served, "carol", "en")
        await alice.expect("user-joined", userId="bob")
        await alice.expect("user-joined", userId="carol")
        await bob.expect("user-joined", userId="carol")

        await alice.send(
            "speech-transcript", {"transcript": "The house is big.", "sourceLang": "en"}
        )
        mine = await alice.expect("recognized-speech")
        assert mine["data"]["text"] == "The house is big."
        assert mine["data"]["sourceLang"] == "en"
        assert mine["data"]["speakerName"] == "Alice"
        assert isinstance(mine["pos"], int)

        to_bob = await bob.expect("translated-message")
        assert to_bob["data"]["targetLang"] == "es"
        assert "casa" in to_bob["data"]["translatedText"].lower()
        assert to_bob["data"]["originalText"] == "The house is big."
        assert to_bob["data"]["fromUserId"] == "alice"
        assert to_bob["data"]["toUserId"] == "bob"
        assert to_bob["data"]["id"] == mine["data"]["id"]
        assert to_bob["pos"] > mine["pos"]

        to_carol = await carol.expect("translated-message")
        assert to_carol["data"]["translatedText"] == "The house is big."
        assert to_carol["data"]["targetLang"] == "en"
        assert to_carol["data"]["toUserId"] == "carol"

        await asyncio.sleep(0.3)
        assert alice.named("translated-message") == []
        assert len(bob.named("translated-message")) == 1

        await bob.send(
            "speech-transcript", {"transcript": "La casa es grande.", "sourceLang": "es"}
        )
        to_alice = await alice.expect("translated-message")
        assert "house" in to_alice["data"]["translatedText"].lower()

        await carol.request("leave-room")
        await alice.expect("user-left", userId="carol")
        await bob.close()
        await alice.expect("user-left", userId="bob")
        await alice.close()
        await carol.close()

    run(scenario)


def test_solo_mode_translates_privately_for_the_speaker(served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "en")
        started = await alice.request(
            "start-speech", {"languageCode": "en", "soloMode": True, "soloTargetLang": "es"}
        )
        assert started["event"] == "ack"
        await alice.send(
            "speech-transcript", {"transcript": "The dog is black.", "sourceLang": "en"}
        )
        solo = await alice.expect("solo-translated")
        assert solo["data"]["targetLang"] == "es"
        assert "perro" in solo["data"]["translatedText"].lower()
        assert solo["data"]["originalText"] == "The dog is black."
        await asyncio.sleep(0.3)
        assert bob.named("translated-message") == []
        assert alice.named("recognized-speech") == []

    run(scenario)


def test_solo_mode_ends_with_the_speech_session(served: ServedInstance) -> None:
    """After ``stop-speech`` the speaker's typed messages reach the room again."""

    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "es")
        solo = {"languageCode": "en", "soloMode": True, "soloTargetLang": "fr"}
        assert (await alice.request("start-speech", solo))["event"] == "ack"
        assert (await alice.request("stop-speech"))["event"] == "ack"
        said = await alice.request(
            "speech-transcript", {"transcript": "The dog is black.", "sourceLang": "en"}
        )
        assert said["event"] == "ack"
        heard = await bob.expect("translated-message", originalText="The dog is black.")
        assert "perro" in heard["data"]["translatedText"].lower()
        await alice.expect("recognized-speech", text="The dog is black.")
        assert alice.named("solo-translated") == []
        await alice.close()
        await bob.close()

        state = served.replay("r1", "--state-at", str(said["data"]["position"]))
        alice_line = next(line for line in state.splitlines() if "alice" in line)
        assert "group" in alice_line and "solo" not in alice_line, state

    run(scenario)


def test_a_typed_transcript_can_ask_for_solo_in_its_own_frame(served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "en")
        private = {"transcript": "The cat is small.", "sourceLang": "en"}
        ack = await alice.request(
            "speech-transcript", {**private, "soloMode": True, "soloTargetLang": "es"}
        )
        assert ack["event"] == "ack"
        solo = await alice.expect("solo-translated", originalText="The cat is small.")
        assert solo["data"]["targetLang"] == "es"
        assert "gato" in solo["data"]["translatedText"].lower()

        await alice.request("speech-transcript", {"transcript": "Hello.", "sourceLang": "en"})
        await bob.expect("translated-message", originalText="Hello.")
        assert [f["data"]["originalText"] for f in bob.named("translated-message")] == ["Hello."]
        assert alice.named("recognized-speech")[0]["data"]["text"] == "Hello."

        started = {"languageCode": "en", "soloMode": True, "soloTargetLang": "es"}
        assert (await alice.request("start-speech", started))["event"] == "ack"
        group = await alice.request(
            "speech-transcript", {"transcript": "For all.", "sourceLang": "en", "soloMode": False}
        )
        assert group["event"] == "ack"
        await bob.expect("translated-message", originalText="For all.")

        refused = await alice.request(
            "speech-transcript", {**private, "soloMode": True, "soloTargetLang": "xx"}
        )
        assert refused["data"]["code"] == "unknown_language"

    run(scenario)


def test_language_defaults_to_token_claim_and_can_change(served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        bob = await joined(served, "bob", "en")
        changed = await bob.request("set-language", {"language": "es"})
        assert changed["event"] == "ack"
        await alice.send(
            "speech-transcript", {"transcript": "The cat is small.", "sourceLang": "en"}
        )
        to_bob = await bob.expect("translated-message")
        assert to_bob["data"]["targetLang"] == "es"
        assert "gato" in to_bob["data"]["translatedText"].lower()

    run(scenario)


@pytest.mark.parametrize("language", ["ja"])
def test_unsupported_pair_still_delivers_the_original_marked(
    served: ServedInstance, language: str
) -> None:
    async def scenario() -> None:
        alice = await joined(served, "alice", "en")
        kenji = await joined(served, "kenji", language)
        await alice.send("speech-transcript", {"transcript": "Good morning.", "sourceLang": "en"})
        got = await kenji.expect("translated-message")
        assert got["data"]["translatedText"] == "Good morning."
        assert got["data"]["errorCode"] == "unsupported_language_pair"

    run(scenario)
