"""The LiveKit HTTP API against a real LiveKit server (v1.13.5) and real clients.

The HTTP app is served in this process on the port the LiveKit server sends
its webhooks to; the voicemode side is a real VoiceService with its WebSocket
gateway (tests/support/inprocess.py), so room membership is real too. LiveKit
clients are livekit.rtc rooms (LiveKit's Rust SDK): a token "works" only if
the server lets that client in.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from livekit import api, rtc

from actors.media import LiveKitWebhook
from adapters.errors import HTTP_ERRORS
from adapters.shells.auth import issue_token
from adapters.shells.http_api import build_http_app
from adapters.shells.http_openapi import (
    MANAGED_ROOM_PATH,
    MANAGED_ROOMS_PATH,
    PARTICIPANT_MUTE_PATH,
    PARTICIPANT_PATH,
    ROOM_RECORDING_AUDIO_PATH,
    ROOM_RECORDING_PATH,
)
from adapters.shells.livekit_api import LiveKitSettings
from tests.support.inprocess import InProcessService
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.service import Client

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

pytestmark = pytest.mark.slow

ROOMS = "/api/voice/livekit/rooms"
TOKEN = "/api/voice/livekit/token"
WEBHOOK = "/api/voice/livekit/webhook"


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


@pytest.fixture(scope="module")
def voicemode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessService]:
    instance = InProcessService(db=str(tmp_path_factory.mktemp("voicemode") / "voicemode.db"))
    yield instance
    instance.stop()


@dataclass
class Api:
    """A client of the HTTP API, and the webhooks the app recorded."""

    http: aiohttp.ClientSession
    voicemode: InProcessService
    livekit: LiveKitServer
    webhooks: list[LiveKitWebhook]

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.voicemode.token(user)}"}

    async def post(
        self,
        path: str,
        body: Any,
        user: str | None = "alice",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        all_headers = {**(self.bearer(user) if user else {}), **(headers or {})}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(path, data=data, headers=all_headers) as answer:
            return answer.status, await answer.json()

    async def create_room(self, user: str = "alice", **config: Any) -> dict[str, Any]:
        status, body = await self.post(ROOMS, {"userId": user, "config": config}, user)
        assert status == 201, body
        return body

    async def token(
        self, room: str, user: str = "alice", **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        return await self.post(TOKEN, {"roomName": room, "participantId": user, **extra}, user)

    async def webhook_seen(self, event: str, room: str, timeout: float = 15) -> LiveKitWebhook:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hook in self.webhooks:
                if hook.event == event and hook.room_name == room:
                    return hook
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event} webhook for {room}; got {self.webhooks}")


@contextlib.asynccontextmanager
async def served_api(
    voicemode: InProcessService, livekit: LiveKitServer, configured: bool = True
) -> AsyncIterator[Api]:
    """The HTTP app on the LiveKit server's webhook port, recording into a list."""
    webhooks: list[LiveKitWebhook] = []

    async def record(hook: LiveKitWebhook) -> None:
        webhooks.append(hook)

    settings = LiveKitSettings(livekit.url, livekit.api_key, livekit.api_secret)
    app = build_http_app(
        voicemode.service, settings if configured else None, voicemode.secret, record
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", livekit.webhook_port).start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{livekit.webhook_port}") as http:
            yield Api(http, voicemode, livekit, webhooks)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def connected(url: str, token: str) -> AsyncIterator[rtc.Room]:
    """A LiveKit client in the room the token names (connect is never cancelled)."""
    room = rtc.Room()
    await room.connect(url, token)
    try:
        yield room
    finally:
        await room.disconnect()


async def refused_by_livekit(url: str, token: str) -> str:
    """Connect a LiveKit client that must be turned away; the reason it got."""
    room = rtc.Room()
    try:
        await room.connect(url, token)
    except rtc.ConnectError as error:
        return error.message
    await room.disconnect()
    raise AssertionError("the LiveKit server let the client in")


async def participants(livekit: LiveKitServer, room: str) -> set[str]:
    async with api.LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret) as server:
        answer = await server.room.list_participants(api.ListParticipantsRequest(room=room))
        return {participant.identity for participant in answer.participants}


def video_grants(token: str) -> dict[str, Any]:
    grants: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})["video"]
    return grants


def expires_in(body: dict[str, Any]) -> float:
    expires = datetime.datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert jwt.decode(body["token"], options={"verify_signature": False})["exp"] == int(
        expires.timestamp()
    )
    return expires.timestamp() - time.time()


def test_a_created_room_comes_with_a_token_livekit_accepts(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            created = await client.create_room(maxParticipants=5, emptyTimeout=60, metadata="hi")
            name = created["roomName"]
            assert created["wsUrl"] == livekit_server.url
            assert 3590 < expires_in(created) <= 3600
            assert video_grants(created["token"]) == {
                "roomJoin": True,
                "room": name,
                "canPublish": True,
                "canSubscribe": True,
                "canPublishData": True,
            }
            async with api.LiveKitAPI(
                livekit_server.url, livekit_server.api_key, livekit_server.api_secret
            ) as server:
                rooms = await server.room.list_rooms(api.ListRoomsRequest(names=[name]))
            (room,) = rooms.rooms
            assert (room.max_participants, room.empty_timeout, room.metadata) == (5, 60, "hi")

            async with connected(created["wsUrl"], created["token"]) as lk_room:
                assert lk_room.isconnected()
                assert lk_room.name == name
                assert lk_room.local_participant.identity == "alice"
                assert await participants(livekit_server, name) == {"alice"}

    run(scenario)


def test_real_webhooks_from_the_livekit_server_are_recorded(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            created = await client.create_room()
            name = created["roomName"]
            async with connected(livekit_server.url, created["token"]):
                joined = await client.webhook_seen("participant_joined", name)
            started = await client.webhook_seen("room_started", name)
            left = await client.webhook_seen("participant_left", name)
        assert joined.participant_identity == "alice"
        assert left.participant_identity == "alice"
        assert joined.room_sid == started.room_sid != ""
        assert joined.webhook_id and joined.webhook_id != started.webhook_id
        assert abs(joined.created_at - time.time()) < 60

    run(scenario)


def test_tokens_carry_exactly_the_grants_asked_for_and_a_bounded_lifetime(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            name = (await client.create_room())["roomName"]

            status, listen = await client.token(name, permissions={"canSubscribe": True})
            assert status == 200, listen
            assert video_grants(listen["token"]) == {
                "roomJoin": True,
                "room": name,
                "canPublish": False,
                "canSubscribe": True,
                "canPublishData": False,
            }
            assert 3590 < expires_in(listen) <= 3600

            status, everything = await client.token(name)
            assert status == 200
            assert video_grants(everything["token"]) == video_grants(
                (await client.create_room())["token"]
            ) | {"room": name}

            status, short = await client.token(name, ttlSeconds=120)
            assert status == 200 and 110 < expires_in(short) <= 120

            for ttl in (7 * 3600, 10, "1h"):
                status, body = await client.token(name, ttlSeconds=ttl)
                assert (status, body["error"]["code"]) == (400, "invalid_field"), ttl

            for excess in ({"roomAdmin": True}, {"canPublish": True, "roomCreate": True}):
                status, body = await client.token(name, permissions=excess)
                assert (status, body["error"]["code"]) == (403, "grant_not_allowed")
            status, body = await client.token(name, permissions={"canPublish": "yes"})
            assert (status, body["error"]["code"]) == (400, "invalid_field")

    run(scenario)


async def members_of(voicemode: InProcessService, room: str, *users: str) -> list[Client]:
    """Users who joined the voicemode room ``room`` over the WebSocket."""
    clients = []
    for user in users:
        client = await Client.connect(voicemode.url, voicemode.token(user))
        joined = await client.request("join-room", {"roomCode": room})
        assert joined["event"] == "joined-room", joined
        clients.append(client)
    return clients


def test_livekit_enforces_the_grants_of_the_token(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            members = await members_of(voicemode, "grants", "alice", "bob")
            _, listen = await client.token("grants", "alice", permissions={"canSubscribe": True})
            _, talk = await client.token("grants", "bob")
            heard: dict[str, list[bytes]] = {"alice": [], "bob": []}
            async with (
                connected(livekit_server.url, listen["token"]) as listener,
                connected(livekit_server.url, talk["token"]) as talker,
            ):
                listener.on("data_received", lambda packet: heard["alice"].append(packet.data))
                talker.on("data_received", lambda packet: heard["bob"].append(packet.data))
                assert not listener.local_participant.permissions.can_publish
                # The server answers NOT_ALLOWED at once, but the Rust SDK only
                # gives up when its 10 s publication timeout expires.
                track = rtc.LocalAudioTrack.create_audio_track("mic", rtc.AudioSource(48000, 1))
                refused = asyncio.create_task(listener.local_participant.publish_track(track))
                await listener.local_participant.publish_data(b"from the listener")
                await talker.local_participant.publish_data(b"from the talker")
                with pytest.raises(rtc.participant.PublishTrackError):
                    await refused
                assert heard == {"alice": [b"from the talker"], "bob": []}
                async with api.LiveKitAPI(
                    livekit_server.url, livekit_server.api_key, livekit_server.api_secret
                ) as server:
                    answer = await server.room.list_participants(
                        api.ListParticipantsRequest(room="grants")
                    )
                seen = {participant.identity: participant for participant in answer.participants}
                assert not seen["alice"].permission.can_publish
                assert not seen["alice"].permission.can_publish_data
                assert list(seen["alice"].tracks) == []
                assert seen["bob"].permission.can_publish
        for member in members:
            await member.close()

    run(scenario)


def test_tokens_only_for_rooms_the_user_belongs_to(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            alices = (await client.create_room("alice"))["roomName"]
            for room, user in ((alices, "bob"), ("nowhere", "alice")):
                status, body = await client.token(room, user)
                assert (status, body["error"]["code"]) == (403, "not_a_member"), (room, user)

            (bob,) = await members_of(voicemode, "studio-7", "bob")
            status, body = await client.token("studio-7", "bob")
            assert status == 200, body
            assert video_grants(body["token"])["room"] == "studio-7"
            status, body = await client.token("studio-7", "carol")
            assert (status, body["error"]["code"]) == (403, "not_a_member")
            await bob.close()

            status, body = await client.post(
                TOKEN, {"roomName": alices, "participantId": "bob"}, "alice"
            )
            assert (status, body["error"]["code"]) == (403, "user_mismatch")
            status, body = await client.post(ROOMS, {"userId": "bob"}, "alice")
            assert (status, body["error"]["code"]) == (403, "user_mismatch")

    run(scenario)


def test_bearer_tokens_expired_forged_or_missing_are_refused(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "alice", "iat": now - 7200, "exp": now - 3600}, voicemode.secret, "HS256"
    )
    forged = issue_token("x" * 8 + voicemode.secret[8:], "alice", "Alice", "en", 3600)
    cases = {
        f"Bearer {expired}": "token_expired",
        f"Bearer {forged}": "invalid_token",
        "Bearer not-a-jwt": "invalid_token",
        f"Basic {voicemode.token('alice')}": "invalid_token",
    }

    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            name = (await client.create_room())["roomName"]
            for path, body in ((ROOMS, {"userId": "alice"}), (TOKEN, {"roomName": name})):
                status, answer = await client.post(path, body, user=None)
                assert (status, answer["error"]["code"]) == (401, "missing_token")
                for header, code in cases.items():
                    status, answer = await client.post(
                        path, body, user=None, headers={"Authorization": header}
                    )
                    assert (status, answer["error"]["code"]) == (401, code), header

    run(scenario)


def test_livekit_refuses_forged_expired_and_retargeted_tokens(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            room_a = (await client.create_room())["roomName"]
            room_b = (await client.create_room())["roomName"]
            _, token_a = await client.token(room_a)
            grants = api.VideoGrants(room_join=True, room=room_a)

            forged = (
                api.AccessToken(livekit_server.api_key, "f" * 64)
                .with_identity("alice")
                .with_grants(grants)
                .to_jwt()
            )
            expired = (
                api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
                .with_identity("alice")
                .with_grants(grants)
                .with_ttl(datetime.timedelta(minutes=-10))
                .to_jwt()
            )
            # Room A's real token with its payload rewritten to name room B.
            header, payload, signature = token_a["token"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["video"]["room"] = room_b
            swapped = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            retargeted = f"{header}.{swapped}.{signature}"

            for token, why in (
                (forged, "signature is invalid"),
                (expired, "token is expired"),
                (retargeted, "signature is invalid"),
            ):
                reason = await refused_by_livekit(livekit_server.url, token)
                assert "401 Unauthorized" in reason and why in reason, reason
            assert await participants(livekit_server, room_b) == set()

            async with connected(livekit_server.url, token_a["token"]) as lk_room:
                assert lk_room.name == room_a
                assert await participants(livekit_server, room_a) == {"alice"}
                assert await participants(livekit_server, room_b) == set()

    run(scenario)


def test_forged_webhooks_are_refused_and_not_recorded(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    body = json.dumps(
        {
            "event": "participant_joined",
            "room": {"name": "forged-room", "sid": "RM_forged"},
            "participant": {"identity": "mallory", "sid": "PA_forged"},
            "id": "EV_forged",
            "createdAt": str(int(time.time())),
        }
    )

    def signed(secret: str, content: str, key: str | None = None) -> str:
        digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        return (
            api.AccessToken(key or livekit_server.api_key, secret)
            .with_sha256(digest)
            .with_ttl(datetime.timedelta(minutes=5))
            .to_jwt()
        )

    secret = livekit_server.api_secret
    refusals = [
        ({}, "missing_signature"),
        ({"Authorization": signed("f" * 64, body)}, "invalid_signature"),
        ({"Authorization": signed(secret, body, key="otherkey")}, "invalid_signature"),
        ({"Authorization": signed(secret, body.replace("mallory", "alice"))}, "invalid_signature"),
        ({"Authorization": "garbage"}, "invalid_signature"),
    ]

    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            for headers, code in refusals:
                status, answer = await client.post(WEBHOOK, body.encode(), None, headers)
                assert (status, answer["error"]["code"]) == (401, code), headers
            assert [hook for hook in client.webhooks if hook.room_name == "forged-room"] == []

            # The same body, signed with the real secret, is accepted: the
            # refusals above were about the signature and nothing else.
            headers = {"Authorization": signed(secret, body)}
            status, answer = await client.post(WEBHOOK, body.encode(), None, headers)
            assert (status, answer) == (200, {"status": "recorded"})
            hook = await client.webhook_seen("participant_joined", "forged-room")
            assert (hook.participant_identity, hook.webhook_id) == ("mallory", "EV_forged")

    run(scenario)


def test_bad_requests_get_stable_codes(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    cases: list[tuple[str, Any, int, str]] = [
        (ROOMS, b"{not json", 400, "malformed_json"),
        (ROOMS, [1, 2], 400, "invalid_body"),
        (ROOMS, {}, 400, "missing_field"),
        (ROOMS, {"userId": 7}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "config": []}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "config": {"maxParticipants": "5"}}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "config": {"maxParticipants": True}}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "config": {"emptyTimeout": -1}}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "config": {"metadata": "x" * 20000}}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "config": {"roomAdmin": True}}, 400, "invalid_field"),
        (ROOMS, {"userId": "alice", "pad": "x" * 70000}, 400, "body_too_large"),
        (TOKEN, {"participantId": "alice"}, 400, "missing_field"),
        (TOKEN, {"roomName": "a b", "participantId": "alice"}, 400, "invalid_room_name"),
        (
            TOKEN,
            {"roomName": "r", "participantId": "alice", "permissions": 1},
            400,
            "invalid_field",
        ),
        (WEBHOOK, b"x" * (1024 * 1024 + 1), 400, "body_too_large"),
        ("/api/voice/livekit/nothing", {}, 404, "not_found"),
    ]

    async def scenario() -> None:
        async with served_api(voicemode, livekit_server) as client:
            for path, body, status, code in cases:
                got_status, answer = await client.post(path, body)
                assert (got_status, answer["error"]["code"]) == (status, code), (path, body)
                assert answer["error"]["message"]
                assert code in HTTP_ERRORS

            async def chunks(count: int) -> AsyncIterator[bytes]:
                yield b'{"userId": "alice", "pad": "'
                for _ in range(count):
                    yield b"x" * 1024
                yield b'"}'

            # Chunked, so without a Content-Length to refuse it by.
            for count, expected in ((70, 400), (1, 201)):
                async with client.http.post(
                    ROOMS, data=chunks(count), headers=client.bearer("alice")
                ) as response:
                    assert "Content-Length" not in response.request_info.headers
                    assert response.status == expected, await response.text()
            async with client.http.get(ROOMS) as response:
                assert response.status == 405
                assert response.headers["Allow"] == "POST"
                assert (await response.json())["error"]["code"] == "method_not_allowed"

    run(scenario)


def test_without_livekit_its_routes_say_so_and_health_still_answers(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> None:
        async with served_api(voicemode, livekit_server, configured=False) as client:
            status, body = await client.post(ROOMS, {"userId": "alice"})
            assert (status, body["error"]["code"]) == (503, "livekit_not_configured")
            async with client.http.get("/healthz") as answer:
                health = await answer.json()
            assert answer.status == 200 and health["status"] == "ok"
            assert isinstance(health["position"], int)

    run(scenario)


MANAGED_ROOM_PATHS = (
    MANAGED_ROOMS_PATH,
    MANAGED_ROOM_PATH,
    PARTICIPANT_PATH,
    PARTICIPANT_MUTE_PATH,
)


def test_the_openapi_document_describes_every_route(
    voicemode: InProcessService, livekit_server: LiveKitServer
) -> None:
    async def scenario() -> dict[str, Any]:
        async with (
            served_api(voicemode, livekit_server) as client,
            client.http.get("/openapi.json") as answer,
        ):
            assert answer.status == 200
            document: dict[str, Any] = json.loads(await answer.text())
            return document

    document = run(scenario)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/healthz",
        "/openapi.json",
        ROOMS,
        TOKEN,
        WEBHOOK,
        *MANAGED_ROOM_PATHS,
        ROOM_RECORDING_PATH,
        ROOM_RECORDING_AUDIO_PATH,
    }
    assert document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
        "enum"
    ] == list(HTTP_ERRORS)

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for path in (ROOMS, TOKEN):
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"bearer": []}]
        assert {"400", "401", "403"} <= set(operation["responses"])


def test_the_fixture_fails_clearly_without_the_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.support.livekit_server as module  # noqa: PLC0415

    monkeypatch.setattr(module, "BINARY", tmp_path / "missing" / "livekit-server")
    with pytest.raises(pytest.fail.Exception, match=r"install-livekit\.sh"):
        LiveKitServer(tmp_path).start()
