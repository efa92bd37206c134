"""Managing rooms: listing, kicking, muting and closing, by owners and operators only.

Everything is real: ``voicemode serve`` as a process on its own SQLite store,
LiveKit's own server (v1.13.5), WebSocket clients, and people as livekit.rtc
clients, who really are disconnected when kicked and really hear a muted
track go silent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from livekit import rtc

from adapters.shells.auth import issue_token
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import Speaker, eventually
from tests.support.service import Client, ServedInstance, free_port
from tests.test_voice_sessions import events_named, livekit_env, serve_with_livekit

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

pytestmark = pytest.mark.slow


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


@pytest.fixture
def served(tmp_path: Path, livekit_server: LiveKitServer) -> Iterator[ServedInstance]:
    yield from serve_with_livekit(tmp_path, livekit_server)


class Http:
    """serve's HTTP API as each user (or the operator) calls it."""

    def __init__(self, served: ServedInstance, session: aiohttp.ClientSession) -> None:
        self.served = served
        self.session = session

    def bearer(self, user: str) -> dict[str, str]:
        if user == "ops":
            token = issue_token(self.served.secret, "ops", "Ops", "en", 3600, role="admin")
        else:
            token = self.served.token(user)
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, user: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.served.http_port}{path}"
        async with self.session.request(method, url, json=body, headers=self.bearer(user)) as got:
            answer: dict[str, Any] = await got.json()
            return got.status, answer

    async def refused(self, method: str, path: str, user: str, **body: Any) -> tuple[int, str]:
        status, answer = await self.call(method, path, user, body or None)
        return status, answer["error"]["code"]


async def joined(served: ServedInstance, user: str, room: str, lang: str = "en") -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    answer = await client.request("join-room", {"roomCode": room, "language": lang})
    assert answer["event"] == "joined-room", answer
    return client


async def talking(client: Client, language: str) -> Speaker:
    """Start a voice session and connect its LiveKit client, publishing a microphone."""
    ready = await client.request("start-voice-session", {"languageCode": language}, timeout=30)
    assert ready["event"] == "voice-session-ready", ready
    return await Speaker.connect(ready["data"]["liveKitUrl"], ready["data"]["liveKitToken"])


def watch(room: rtc.Room) -> tuple[asyncio.Event, list[tuple[str, bool]]]:
    """When the room disconnects, and the (identity, muted) changes it sees of remote tracks."""
    gone = asyncio.Event()
    mutes: list[tuple[str, bool]] = []
    room.on("disconnected", lambda *_: gone.set())
    room.on("track_muted", lambda p, _: mutes.append((p.identity, True)))
    room.on("track_unmuted", lambda p, _: mutes.append((p.identity, False)))
    return gone, mutes


async def kept_out(ready: dict[str, Any]) -> None:
    """Join LiveKit with a ``voice-session-ready``'s token, and be put out again within 15 s."""
    room = rtc.Room()
    gone = asyncio.Event()
    room.on("disconnected", lambda *_: gone.set())
    try:
        await asyncio.wait_for(room.connect(ready["liveKitUrl"], ready["liveKitToken"]), 15)
    except rtc.ConnectError:
        return  # cut off while joining
    await asyncio.wait_for(gone.wait(), 15)


def test_owner_kicks_and_mutes_strangers_cannot_and_an_operator_sees_every_room(
    served: ServedInstance,
) -> None:
    room = "studio"

    async def scenario() -> None:
        alice = await joined(served, "alice", room)
        bob = await joined(served, "bob", room, "es")
        carol = await joined(served, "carol", room)
        bob_mic = await talking(bob, "es")
        carol_mic = await talking(carol, "en")
        bob_gone, _ = watch(bob_mic.room)
        _, carol_hears = watch(carol_mic.room)
        await eventually(
            lambda: "bob" in {p.identity for p in carol_mic.room.remote_participants.values()},
            what="carol sees bob in LiveKit",
        )
        async with aiohttp.ClientSession() as session:
            http = Http(served, session)
            status, mine = await http.call("GET", "/api/rooms", "alice")
            assert status == 200, mine
            (listed,) = mine["rooms"]
            assert (listed["code"], listed["owner"], listed["agentAttached"]) == (
                room,
                "alice",
                False,
            )
            people = {p["userId"]: p for p in listed["participants"]}
            assert set(people) == {"alice", "bob", "carol"}
            assert people["bob"]["voiceSession"] == {
                "language": "es",
                "soloTarget": None,
                "livekitRoom": room,
            }
            assert (people["alice"]["mode"], people["alice"]["away"]) == ("group", False)
            assert (await http.call("GET", "/api/rooms", "mallory"))[1] == {"rooms": []}
            assert [
                r["code"] for r in (await http.call("GET", "/api/rooms", "ops"))[1]["rooms"]
            ] == [room]
            assert await http.refused("GET", f"/api/rooms/{room}", "mallory") == (
                403,
                "not_a_member",
            )
            assert await http.refused("GET", "/api/rooms/nowhere", "alice") == (404, "unknown_room")

            kick_bob = f"/api/rooms/{room}/participants/bob"
            assert await http.refused("DELETE", kick_bob, "mallory") == (403, "not_room_owner")
            assert await http.refused("DELETE", kick_bob, "carol") == (403, "not_room_owner")
            refused = await bob.request("mute-participant", {"userId": "carol", "muted": True})
            assert refused["data"]["code"] == "not_room_owner", refused
            status, muted = await http.call("POST", f"{kick_bob}/mute", "alice", {"muted": True})
            assert status == 200 and muted["muted"] and muted["trackSids"], muted
            await eventually(lambda: ("bob", True) in carol_hears, what="carol hears bob muted")
            await alice.expect("track-muted", userId="bob", muted=True, by="alice")
            status, unmuted = await http.call("POST", f"{kick_bob}/mute", "ops", {"muted": False})
            assert status == 200, unmuted
            await eventually(lambda: ("bob", False) in carol_hears, what="carol hears bob back")
            nobody_mic = f"/api/rooms/{room}/participants/alice/mute"
            assert await http.refused("POST", nobody_mic, "alice", muted=True) == (
                404,
                "track_not_found",
            )

            kicked = await alice.request("remove-participant", {"userId": "bob", "barSeconds": 60})
            assert kicked["event"] == "ack", kicked
            await asyncio.wait_for(bob_gone.wait(), 15)
            removed = await bob.expect("removed", roomId=room, by="alice")
            assert removed["data"]["until"]
            await carol.expect("user-left", userId="bob", reason="removed")
            out = await bob.request("speech-transcript", {"transcript": "hi", "sourceLang": "es"})
            assert out["data"]["code"] == "not_in_room", "the kicked client left the room"
            again = await bob.request("join-room", {"roomCode": room})
            assert again["data"]["code"] == "removed_from_room", again
            token = await http.refused(
                "POST",
                "/api/voice/livekit/token",
                "bob",
                roomName=room,
                participantId="bob",
            )
            assert token == (403, "not_a_member")
            assert await http.refused("DELETE", kick_bob, "alice") == (404, "unknown_participant")

            # The voice token bob got before still opens LiveKit: serve undoes the join.
            await kept_out(bob.named("voice-session-ready")[-1]["data"])
        for client in (alice, bob, carol):
            await client.close()
        await carol_mic.room.disconnect()

        lines = served.replay(room)
        assert "removed from the room by alice, may not rejoin before" in lines
        assert "muted by alice" in lines and "unmuted by ops" in lines
        assert [e["reason"] for e in events_named(served, room, "VoiceSessionEnded")][:1] == [
            "removed"
        ]

    run(scenario)


def test_closing_a_room_disconnects_everyone_ends_voice_and_refuses_later_joins(
    served: ServedInstance,
) -> None:
    room = "closing"

    async def scenario() -> None:
        alice = await joined(served, "alice", room)
        bob = await joined(served, "bob", room, "es")
        bob_mic = await talking(bob, "es")
        bob_gone, _ = watch(bob_mic.room)
        async with aiohttp.ClientSession() as session:
            http = Http(served, session)
            assert await http.refused("DELETE", f"/api/rooms/{room}", "bob") == (
                403,
                "not_room_owner",
            )
            status, closed = await http.call("DELETE", f"/api/rooms/{room}", "ops")
            assert (status, closed["closedBy"]) == (200, "ops"), closed
            for client in (alice, bob):
                await client.expect("room-closed", roomId=room, by="ops")
            await asyncio.wait_for(bob_gone.wait(), 15)
            out = await alice.request("set-language", {"language": "fr"})
            assert out["data"]["code"] == "not_in_room", "the closed room's clients are out"
            carol = await Client.connect(served.url, served.token("carol"))
            refused = await carol.request("join-room", {"roomCode": room})
            assert refused["data"]["code"] == "room_closed", refused
            assert (await http.call("GET", "/api/rooms", "ops"))[1] == {"rooms": []}
            status, seen = await http.call("GET", f"/api/rooms/{room}", "alice")
            assert (status, seen["closedBy"], seen["participants"]) == (200, "ops", [])
            assert await http.refused("DELETE", f"/api/rooms/{room}", "alice") == (
                409,
                "room_closed",
            )
            await carol.close()
            # bob's voice token outlives the room; LiveKit would re-create it: serve closes it.
            await kept_out(bob.named("voice-session-ready")[-1]["data"])
        for client in (alice, bob):
            await client.close()

        assert [e["reason"] for e in events_named(served, room, "VoiceSessionEnded")] == [
            "room_closed"
        ]
        assert [e["by"] for e in events_named(served, room, "RoomClosed")] == ["ops"]

    run(scenario)


def test_a_room_created_over_http_is_owned_by_its_creator_across_a_restart(
    served: ServedInstance,
) -> None:
    async def scenario() -> str:
        async with aiohttp.ClientSession() as session:
            http = Http(served, session)
            status, created = await http.call(
                "POST", "/api/voice/livekit/rooms", "alice", {"userId": "alice"}
            )
            assert status == 201, created
            return str(created["roomName"])

    room = run(scenario)
    served.stop()
    served.start()

    async def after_restart() -> None:
        async with aiohttp.ClientSession() as session:
            http = Http(served, session)
            status, token = await http.call(
                "POST",
                "/api/voice/livekit/token",
                "alice",
                {"roomName": room, "participantId": "alice"},
            )
            assert status == 200, token
            status, seen = await http.call("GET", f"/api/rooms/{room}", "alice")
            assert (status, seen["owner"]) == (200, "alice"), seen
            assert await http.refused("DELETE", f"/api/rooms/{room}", "bob") == (
                403,
                "not_room_owner",
            )
            status, _ = await http.call("DELETE", f"/api/rooms/{room}", "alice")
            assert status == 200

    run(after_restart)


def test_an_unreachable_livekit_refuses_every_action_and_records_nothing(
    tmp_path: Path, livekit_server: LiveKitServer
) -> None:
    served = ServedInstance(
        db=str(tmp_path / "down.db"),
        env=livekit_env(livekit_server, url=f"ws://127.0.0.1:{free_port()}"),
    )
    served.start()
    room = "down"

    async def scenario() -> None:
        alice = await joined(served, "alice", room)
        bob = await joined(served, "bob", room)
        async with aiohttp.ClientSession() as session:
            http = Http(served, session)
            kick = f"/api/rooms/{room}/participants/bob"
            for method, path, body in (
                ("DELETE", f"/api/rooms/{room}", {}),
                ("DELETE", kick, {}),
                ("POST", f"{kick}/mute", {"muted": True}),
            ):
                assert await http.refused(method, path, "alice", **body) == (
                    502,
                    "livekit_unavailable",
                ), path
        refused = await alice.request("close-room", {})
        assert refused["data"]["code"] == "livekit_unavailable", refused
        assert (await bob.request("set-language", {"language": "es"}))["event"] == "ack"
        for client in (alice, bob):
            await client.close()

    try:
        run(scenario)
        for name in ("RoomClosed", "ParticipantRemoved", "TrackMuteChanged"):
            assert not events_named(served, room, name), name
    finally:
        served.stop()
