"""The agent channel over a real WebSocket: a remote agent worker and voicemode.

voicemode is a real in-process VoiceService (identity translation) whose
members join rooms as the WebSocket gateway would make them; the channel is
served by a real websockets server on loopback, and agents reach it through
:class:`NetworkControlPlane` or, to send what a well-behaved agent never
would, a raw websockets client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from actors.agent_messages import (
    ControlPlaneError,
    FinalTranscript,
    PartialTranscript,
    RoomMembers,
    SynthesisReport,
    TranslationToSpeak,
)
from actors.messages import Accepted, JoinRoom, Outcome, Reply, RoomCommand
from actors.service import ServiceSettings, VoiceService
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.shells.agent_channel import AgentChannel, AgentChannelSettings, AttachedAgents
from adapters.shells.auth import (
    WeakSecretError,
    check_agent_secret,
    issue_agent_token,
    issue_token,
    verify_agent_token,
)
from adapters.shells.livekit_agent.network import NetworkControlPlane, announce_ready
from adapters.shells.livekit_agent.wire import (
    Ack,
    Attach,
    Attached,
    ErrorReply,
    Framed,
    WorkerReady,
    decode_client,
    decode_server,
    encode_client,
    encode_server,
)
from adapters.shells.protocol import ProtocolError
from events.domain import TranslationProduced
from events.store import EventStore

AGENT_SECRET = "agent-secret-0123456789-abcdefghijklmnop"
USER_SECRET = "user-secret-0123456789-ABCDEFGHIJKLMNOPQ"
UTTERANCE = UUID("12345678-1234-5678-1234-567812345678")


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


@pytest.fixture
def service(tmp_path: Path) -> Iterator[VoiceService]:
    voice = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([IdentityTranslator()]),
        ServiceSettings(),
    )
    yield voice
    voice.close()


async def ask(service: VoiceService, code: str, make: Callable[[Reply], RoomCommand]) -> Outcome:
    """Send a command to a room off the loop and await its outcome."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def reply(outcome: Outcome) -> None:
        loop.call_soon_threadsafe(answer.set_result, outcome)

    await loop.run_in_executor(None, service.tell_room, code, make(reply))
    return await answer


async def join(service: VoiceService, code: str, user: str, language: str) -> None:
    outcome = await ask(service, code, lambda reply: JoinRoom(user, user.title(), language, reply))
    assert isinstance(outcome, Accepted)


@dataclass
class Served:
    """The channel on loopback, and what its subscribers were told."""

    server: Server
    agents: AttachedAgents
    port: int
    reasons: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agent"

    def plane(self, worker: str = "worker-1") -> NetworkControlPlane:
        return NetworkControlPlane(
            self.url, AGENT_SECRET, worker, connect_timeout_s=5, command_timeout_s=5
        )

    async def raw(self, token: str | None = None) -> ClientConnection:
        token = token or issue_agent_token(AGENT_SECRET, "raw-worker", 60)
        return await connect(self.url, additional_headers={"Authorization": f"Bearer {token}"})


@contextlib.asynccontextmanager
async def channel(
    service: VoiceService,
    settings: AgentChannelSettings | None = None,
    send_buffer: int | None = None,
) -> AsyncIterator[Served]:
    """Serve the channel on loopback; ``send_buffer`` caps each connection's kernel buffer."""
    agents = AttachedAgents()
    agent_channel = AgentChannel(service, AGENT_SECRET, agents, settings)
    listener = socket.create_server(("127.0.0.1", 0))
    if send_buffer is not None:  # accepted sockets inherit it, and it stops autotuning
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    async with serve(
        agent_channel.handle, sock=listener, process_request=agent_channel.check_request
    ) as server:
        served = Served(server, agents, listener.getsockname()[1])
        agents.subscribe(served.reasons.append)
        yield served


async def eventually(check: Callable[[], Any], timeout_s: float = 5) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.02)
    return result


async def next_frame(connection: ClientConnection) -> Framed[Any]:
    return decode_server(await asyncio.wait_for(connection.recv(), 5))


def said(speaker: str, room: str = "r", text: str = "hello") -> FinalTranscript:
    return FinalTranscript(room, speaker, uuid4(), text, "en", "whisper", 900, 80, ("vosk",))


# the wire ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        Attach("team-42"),
        PartialTranscript("r", "alice", UTTERANCE, "hel", "en"),
        FinalTranscript("r", "alice", UTTERANCE, "hello", "en", "whisper", 900, 80, ("a", "b")),
        SynthesisReport("r", UTTERANCE, "es", "es-f1", "espeak-ng", 24000, 1200, 90, (), None),
        SynthesisReport("r", UTTERANCE, "es", None, "espeak-ng", 0, 0, 0, ("x",), "tts_failed"),
        WorkerReady(),
    ],
)
def test_every_agent_message_survives_the_wire(message: Any) -> None:
    assert decode_client(encode_client(message, 7).decode()) == Framed(message, 7)
    assert decode_client(encode_client(message).decode()) == Framed(message, None)


@pytest.mark.parametrize(
    "message",
    [
        Attached("team-42"),
        RoomMembers("r", {"alice": "en", "bob": "es"}),
        RoomMembers("r", {}),
        TranslationToSpeak("r", UTTERANCE, "alice", "es", "hola", solo=True),
        Ack(),
        ErrorReply("not_in_room", "join first"),
    ],
)
def test_every_voicemode_message_survives_the_wire(message: Any) -> None:
    assert decode_server(encode_server(message, "a").decode()) == Framed(message, "a")


def test_the_wire_speaks_camel_case_with_uuids_as_strings_and_tuples_as_lists() -> None:
    frame = orjson.loads(encode_client(said("alice"), 3))
    assert frame["event"] == "transcript" and frame["ref"] == 3
    data = frame["data"]
    assert set(data) == {
        "roomCode",
        "speakerId",
        "utteranceId",
        "text",
        "language",
        "engine",
        "durationMs",
        "decodeMs",
        "fallbacks",
    }
    assert isinstance(data["utteranceId"], str) and data["fallbacks"] == ["vosk"]


def test_languages_are_normalized_on_the_way_in() -> None:
    raw = orjson.dumps(
        {"event": "members", "data": {"roomCode": "r", "languages": {"bob": "es-419"}}}
    ).decode()
    assert decode_server(raw).message == RoomMembers("r", {"bob": "es"})


def partial_frame(**changes: Any) -> str:
    data = {
        "roomCode": "r",
        "speakerId": "alice",
        "utteranceId": str(UTTERANCE),
        "text": "hel",
        "language": "en",
        **changes,
    }
    return orjson.dumps({"event": "partial", "data": data, "ref": 9}).decode()


BAD_FRAMES: list[tuple[str | bytes, str]] = [
    ("{not json", "malformed_json"),
    ("[1, 2]", "invalid_frame"),
    ('{"data": {}}', "invalid_frame"),
    ('{"event": "attach", "data": []}', "invalid_frame"),
    ('{"event": "attach", "data": {}, "ref": true}', "invalid_field"),
    ('{"event": "join-room", "data": {"roomCode": "r"}}', "unknown_event"),
    ('{"event": "attach", "data": {}}', "missing_field"),
    ('{"event": "attach", "data": {"roomCode": 42}}', "invalid_field"),
    ('{"event": "attach", "data": {"roomCode": "no spaces"}}', "invalid_room_code"),
    (partial_frame(utteranceId="not-a-uuid"), "invalid_field"),
    (partial_frame(language="xx"), "unknown_language"),
    (partial_frame(speakerId="no spaces"), "invalid_field"),
    (partial_frame(text="x" * 5001), "transcript_too_long"),
    (b"\x00\x01", "binary_not_expected"),
    ("x" * (64 * 1024 + 1), "frame_too_large"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_FRAMES)
def test_the_codec_refuses_bad_frames_with_a_stable_code(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode_client(raw)
    assert refused.value.code == code


def test_a_blank_transcript_or_a_negative_duration_is_refused() -> None:
    blank = orjson.loads(encode_client(said("alice", text="   ")))
    with pytest.raises(ProtocolError, match="empty") as refused:
        decode_client(orjson.dumps(blank).decode())
    assert refused.value.code == "empty_transcript" and refused.value.ref is None
    negative = orjson.loads(encode_client(said("alice"), "t1"))
    negative["data"]["durationMs"] = -1
    with pytest.raises(ProtocolError) as refused:
        decode_client(orjson.dumps(negative).decode())
    assert refused.value.code == "invalid_field" and refused.value.ref == "t1"


# agent credentials ---------------------------------------------------------------


def test_agent_tokens_name_the_worker_and_only_verify_as_agents() -> None:
    identity = verify_agent_token(AGENT_SECRET, issue_agent_token(AGENT_SECRET, "w-1", 60))
    assert (identity.user_id, identity.kind) == ("w-1", "agent")
    with pytest.raises(ValueError, match="worker id"):
        issue_agent_token(AGENT_SECRET, "no spaces", 60)
    with pytest.raises(WeakSecretError, match="VOICEMODE_AGENT_SECRET must differ"):
        check_agent_secret(USER_SECRET, USER_SECRET)
    with pytest.raises(WeakSecretError, match="VOICEMODE_AGENT_SECRET is not set"):
        check_agent_secret(None, USER_SECRET)
    assert check_agent_secret(AGENT_SECRET, USER_SECRET) == AGENT_SECRET


# the channel -------------------------------------------------------------------


def test_members_then_translations_arrive_over_the_network_in_order(
    service: VoiceService,
) -> None:
    async def scenario() -> None:
        await join(service, "r", "alice", "en")
        async with channel(service) as served:
            plane = served.plane()
            await plane.attach("r")
            assert served.agents.rooms() == {"r"}
            updates = plane.updates("r")
            assert await anext(updates) == RoomMembers("r", {"alice": "en"})
            await join(service, "r", "bob", "es")
            assert await anext(updates) == RoomMembers("r", {"alice": "en", "bob": "es"})
            await plane.partial(PartialTranscript("r", "alice", UTTERANCE, "hel", "en"))
            transcript = said("alice")
            await plane.transcript(transcript)
            translation = await asyncio.wait_for(anext(updates), 5)
            assert translation == TranslationToSpeak(
                "r", transcript.utterance_id, "alice", "es", "hello"
            )
            loop = asyncio.get_running_loop()
            recorded = await loop.run_in_executor(None, lambda: list(service.store.read_room("r")))
            produced = [e.event for e in recorded if isinstance(e.event, TranslationProduced)]
            assert [(p.transcript_id, p.target_language) for p in produced] == [
                (transcript.utterance_id, "es")
            ]
            with pytest.raises(ControlPlaneError) as refused:
                await plane.transcript(said("mallory"))
            assert refused.value.code == "not_in_room"
            await plane.close()
            assert [update async for update in updates] == []
            await eventually(lambda: served.reasons == ["released"])
            assert served.agents.rooms() == frozenset()

    run(scenario)


def test_one_agent_per_room_until_it_goes_away(service: VoiceService) -> None:
    async def scenario() -> None:
        async with channel(service) as served:
            first, second = served.plane("worker-1"), served.plane("worker-2")
            await first.attach("r")
            await first.attach("s")
            with pytest.raises(ControlPlaneError) as refused:
                await second.attach("r")
            assert refused.value.code == "agent_already_attached"
            with pytest.raises(ControlPlaneError) as unattached:
                second.updates("r")
            assert unattached.value.code == "not_attached"
            assert served.agents.rooms() == {"r", "s"} and served.reasons == []
            await first.close()
            await eventually(lambda: served.reasons == ["released", "released"])
            await second.attach("r")
            assert await anext(second.updates("r")) == RoomMembers("r", {})
            assert served.agents.rooms() == {"r"}
            await second.close()

    run(scenario)


def test_a_worker_ready_announcement_reaches_subscribers(service: VoiceService) -> None:
    async def scenario() -> None:
        async with channel(service) as served:
            await announce_ready(served.url, AGENT_SECRET, "worker-1")
            await eventually(lambda: served.reasons == ["worker-ready"])

    run(scenario)


@pytest.mark.parametrize(
    ("mint", "code"),
    [
        (lambda: None, "missing_token"),
        (lambda: issue_agent_token("forged-" + AGENT_SECRET, "w", 60), "invalid_token"),
        (lambda: issue_agent_token(AGENT_SECRET, "w", -5), "token_expired"),
        (lambda: issue_token(USER_SECRET, "alice", "Alice", "en", 60), "invalid_token"),
        (lambda: issue_token(AGENT_SECRET, "alice", "Alice", "en", 60), "wrong_token_kind"),
    ],
    ids=["missing", "forged", "expired", "user-token", "user-kind-signed-as-agent"],
)
def test_only_agent_tokens_open_the_channel(
    service: VoiceService, mint: Callable[[], str | None], code: str
) -> None:
    # Minted when the test runs: a token minted at collection expires while other tests run.
    token = mint()

    async def scenario() -> None:
        async with channel(service) as served:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            with pytest.raises(InvalidStatus) as refused:
                await connect(served.url, additional_headers=headers)
            assert refused.value.response.status_code == 401
            assert refused.value.response.body.decode().startswith(f"{code}: ")
            assert served.agents.rooms() == frozenset()

    run(scenario)


def test_a_refused_handshake_surfaces_as_channel_unavailable(service: VoiceService) -> None:
    async def scenario() -> None:
        async with channel(service) as served:
            plane = NetworkControlPlane(served.url, "wrong-" + AGENT_SECRET, "w")
            with pytest.raises(ControlPlaneError) as refused:
                await plane.attach("r")
            assert refused.value.code == "channel_unavailable"
            assert "HTTP 401 invalid_token" in refused.value.message
            elsewhere = NetworkControlPlane(served.url.replace("/agent", "/ws"), AGENT_SECRET, "w")
            with pytest.raises(ControlPlaneError, match="HTTP 404"):
                await elsewhere.attach("r")
        with pytest.raises(ControlPlaneError) as gone:
            await announce_ready(served.url, AGENT_SECRET, "w")
        assert gone.value.code == "channel_unavailable"

    run(scenario)


def test_bad_frames_get_an_error_and_the_connection_keeps_serving(
    service: VoiceService,
) -> None:
    async def scenario() -> None:
        async with channel(service) as served:
            connection = await served.raw()
            for raw, code in BAD_FRAMES:
                await connection.send(raw)
                answer = await next_frame(connection)
                assert answer.message.code == code, raw
            await connection.send(encode_client(said("alice"), "t").decode())
            refused = await next_frame(connection)
            assert (refused.message.code, refused.ref) == ("not_attached", "t")
            await connection.send(encode_client(Attach("r"), 1).decode())
            assert await next_frame(connection) == Framed(Attached("r"), 1)
            assert (await next_frame(connection)).message == RoomMembers("r", {})
            await connection.close()

    run(scenario)


def test_a_flood_is_rate_limited_and_other_agents_are_still_served(
    service: VoiceService,
) -> None:
    async def scenario() -> None:
        await join(service, "calm", "carol", "en")
        async with channel(service) as served:
            calm = served.plane("calm-worker")
            await calm.attach("calm")
            flood = await served.raw()
            await flood.send(encode_client(Attach("r"), 1).decode())
            assert (await next_frame(flood)).message == Attached("r")
            caption = encode_client(PartialTranscript("r", "alice", UTTERANCE, "hel", "en"))

            async def flooding() -> None:
                for _ in range(1000):
                    await flood.send(caption.decode())

            await asyncio.gather(flooding(), calm.transcript(said("carol", room="calm")))
            await asyncio.sleep(0.5)  # the bucket refills: the next frame is served
            await flood.send(encode_client(Attach("r"), 2).decode())
            received = []
            while (frame := await next_frame(flood)).ref != 2:
                received.append(frame.message)
            assert received[0] == RoomMembers("r", {})
            assert received[1:] == [ErrorReply("rate_limited", received[1].message)]
            await calm.close()
            await flood.close()

    run(scenario)


async def pester(connection: ClientConnection) -> None:
    """Send bad frames in small batches, each answered with an error frame."""
    with contextlib.suppress(ConnectionClosed):
        for _ in range(50):
            for _ in range(50):
                await connection.send("{not json")
            await asyncio.sleep(0.005)  # the channel's writer keeps up with each batch


@pytest.mark.parametrize("reads", [True, False], ids=["reading", "deaf"])
def test_an_agent_that_does_not_read_is_dropped(service: VoiceService, reads: bool) -> None:
    settings = AgentChannelSettings(
        frames_per_s=1e6, frame_burst=1_000_000, outbox_frames=64, close_timeout_s=5
    )

    async def scenario() -> None:
        async with channel(service, settings, send_buffer=4096) as served:
            sock = socket.socket()  # a small receive window, so the server's writes back up
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", served.port))
            token = issue_agent_token(AGENT_SECRET, "worker", 60)
            agent = await connect(
                served.url,
                sock=sock,
                additional_headers={"Authorization": f"Bearer {token}"},
                max_queue=1,
                compression=None,  # the same error frame over and over compresses to nothing
            )
            errors = 0

            async def read_all() -> None:
                nonlocal errors
                async for _ in agent:
                    errors += 1

            reading = asyncio.create_task(read_all()) if reads else None
            await pester(agent)
            if reading is not None:
                await eventually(lambda: errors == 50 * 50)
                await agent.close()
                await reading
                assert agent.close_code == 1000
            else:
                with pytest.raises(ConnectionClosed):
                    while True:
                        await asyncio.wait_for(agent.recv(), 5)
                assert agent.close_code == 1008
                assert (agent.close_reason or "").startswith("slow_consumer: ")

    run(scenario)


def test_wait_lost_returns_when_voicemode_goes_away(service: VoiceService) -> None:
    async def scenario() -> None:
        async with channel(service) as served:
            plane = served.plane()
            await plane.attach("r")
            updates = plane.updates("r")
            assert await anext(updates) == RoomMembers("r", {})
            lost = asyncio.create_task(plane.wait_lost())
            await asyncio.sleep(0.05)
            assert not lost.done()
            served.server.close()
            reason = await asyncio.wait_for(lost, 5)
            assert "1001" in reason
            assert [update async for update in updates] == []
            with pytest.raises(ControlPlaneError) as refused:
                await plane.transcript(said("alice"))
            assert refused.value.code == "channel_lost"
            with pytest.raises(ControlPlaneError, match="channel_lost"):
                await plane.attach("other")
            await plane.close()

    run(scenario)


def test_wait_lost_never_returns_after_close(service: VoiceService) -> None:
    async def scenario() -> None:
        async with channel(service) as served:
            plane = served.plane()
            await plane.attach("r")
            lost = asyncio.create_task(plane.wait_lost())
            await plane.close()
            await asyncio.sleep(0.1)
            assert not lost.done()
            lost.cancel()
            with pytest.raises(ControlPlaneError) as closed:
                await plane.attach("r")
            assert closed.value.code == "channel_closed"

    run(scenario)
