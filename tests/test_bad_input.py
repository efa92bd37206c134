"""Bad input gets an error frame with a stable code; nothing accepted is lost."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.exceptions import InvalidStatus

from adapters.shells.auth import issue_token
from tests.support.service import Client, ServedInstance


async def member(served: ServedInstance, user: str = "alice", lang: str = "en") -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    assert (await client.request("join-room", {"roomCode": "r1"}))["event"] == "joined-room"
    return client


async def still_works(client: Client, listener: Client, text: str) -> None:
    """The connection and the room keep working after the bad frame."""
    ack = await client.request("speech-transcript", {"transcript": text, "sourceLang": "en"})
    assert ack["event"] == "ack", ack
    await listener.expect("translated-message", originalText=text)


CASES: list[tuple[str, Any, str]] = [
    ("malformed json", "{not json", "malformed_json"),
    ("not an object", "[1, 2]", "invalid_frame"),
    ("no event name", '{"data": {}}', "invalid_frame"),
    ("unknown event", '{"event": "dance", "ref": 7}', "unknown_event"),
    (
        "missing field",
        '{"event": "speech-transcript", "data": {"sourceLang": "en"}}',
        "missing_field",
    ),
    (
        "mistyped field",
        '{"event": "speech-transcript", "data": {"transcript": 5, "sourceLang": "en"}}',
        "invalid_field",
    ),
    (
        "empty transcript",
        '{"event": "speech-transcript", "data": {"transcript": "  ", "sourceLang": "en"}}',
        "empty_transcript",
    ),
    (
        "long transcript",
        orjson.dumps(
            {
                "event": "speech-transcript",
                "data": {"transcript": "word " * 2000, "sourceLang": "en"},
            }
        ).decode(),
        "transcript_too_long",
    ),
    (
        "100 kB transcript",
        orjson.dumps(
            {
                "event": "speech-transcript",
                "data": {"transcript": "x" * 100_000, "sourceLang": "en"},
            }
        ).decode(),
        "frame_too_large",
    ),
    (
        "unknown language",
        '{"event": "speech-transcript", "data": {"transcript": "hi", "sourceLang": "xx"}}',
        "unknown_language",
    ),
    ("speech-data on a text-only server", b"\x00\x01\x02", "speech_unavailable"),
    (
        "second authenticate",
        '{"event": "authenticate", "data": {"token": "t"}}',
        "already_authenticated",
    ),
    (
        "bad room code",
        '{"event": "join-room", "data": {"roomCode": "no spaces!"}}',
        "invalid_room_code",
    ),
    ("resume without since", '{"event": "resume", "data": {}}', "missing_field"),
    (
        "room code with a trailing newline",
        '{"event": "join-room", "data": {"roomCode": "abc\\n"}, "ref": 7}',
        "invalid_room_code",
    ),
    (
        "since past 64 bits",
        '{"event": "resume", "data": {"since": 9223372036854775808}, "ref": 7}',
        "invalid_field",
    ),
    (
        "sample rate 0",
        '{"event": "start-speech", "data": {"languageCode": "en", "sampleRateHertz": 0}}',
        "invalid_sample_rate",
    ),
    ("stop without start", '{"event": "stop-speech"}', "not_speaking"),
]


@pytest.mark.parametrize(
    ("payload", "code"), [(p, c) for _, p, c in CASES], ids=[name for name, _, _ in CASES]
)
def test_bad_frame_gets_a_stable_error_and_the_room_keeps_working(
    served: ServedInstance, payload: Any, code: str
) -> None:
    async def scenario() -> None:
        alice = await member(served)
        bob = await member(served, "bob", "en")
        await still_works(alice, bob, "before")
        await alice.send_raw(payload)
        error = await alice.expect("error")
        assert error["data"]["code"] == code, error
        assert error["data"]["message"]
        if '"ref": 7' in str(payload):
            assert error["ref"] == 7
        await still_works(alice, bob, "after")
        assert [f["data"]["originalText"] for f in bob.named("translated-message")] == [
            "before",
            "after",
        ]

    asyncio.run(scenario())


def test_commands_before_joining_are_refused(served: ServedInstance) -> None:
    async def scenario() -> None:
        client = await Client.connect(served.url, served.token("alice"))
        reply = await client.request("speech-transcript", {"transcript": "hi", "sourceLang": "en"})
        assert reply["data"]["code"] == "not_in_room"
        reply = await client.request("resume", {"since": 0})
        assert reply["data"]["code"] == "not_in_room"
        assert (await client.request("join-room", {"roomCode": "r1"}))["event"] == "joined-room"

    asyncio.run(scenario())


def test_first_frame_authentication(served: ServedInstance) -> None:
    async def scenario() -> None:
        client = await Client.connect(served.url)
        ok = await client.request("authenticate", {"token": served.token("alice")})
        assert ok["event"] == "authenticated"
        assert ok["data"]["userId"] == "alice"
        assert (await client.request("join-room", {"roomCode": "r1"}))["event"] == "joined-room"

        early = await Client.connect(served.url)
        refused = await early.request("join-room", {"roomCode": "r1"})
        assert refused["data"]["code"] == "not_authenticated"
        await early.wait_closed()
        assert early.ws.close_code == 4401

        forged = await Client.connect(served.url)
        reply = await forged.request(
            "authenticate", {"token": issue_token("f" * 64, "mallory", "M", "en", 60)}
        )
        assert reply["data"]["code"] == "invalid_token"

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda s: issue_token(s.secret, "alice", "A", "en", 1), "token_expired"),
        (lambda s: issue_token("x" * 64, "alice", "A", "en", 3600), "invalid_token"),
        (lambda s: "not.a.token", "invalid_token"),
        (lambda s: s.token("alice")[:-4] + "AAAA", "invalid_token"),
    ],
    ids=["expired", "forged", "garbage", "tampered"],
)
def test_bad_query_tokens_are_refused_with_a_reason(
    served: ServedInstance, make_token: Any, code: str
) -> None:
    token = make_token(served)
    if code == "token_expired":
        time.sleep(2.1)

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await Client.connect(served.url, token)
        assert refused.value.response.status_code == 401
        assert code in refused.value.response.body.decode()

    asyncio.run(scenario())


def test_flooding_client_is_rate_limited_and_loses_nothing_accepted(
    served: ServedInstance,
) -> None:
    async def scenario() -> None:
        flooder = await member(served)
        listener = await member(served, "bob", "en")
        for n in range(400):
            await flooder.send(
                "speech-transcript", {"transcript": f"flood {n}", "sourceLang": "en"}, ref=n
            )
        await flooder.wait_for(
            lambda f: (
                f.get("ref") == 399
                or (f["event"] == "error" and f["data"]["code"] == "rate_limited")
            )
        )
        await asyncio.sleep(2.0)
        acked = {f["ref"] for f in flooder.named("ack")}
        assert 0 < len(acked) < 400
        assert any(f["data"]["code"] == "rate_limited" for f in flooder.named("error"))
        await listener.wait_for(
            lambda f: len(listener.named("translated-message")) >= len(acked), timeout=20
        )
        heard = {f["data"]["originalText"] for f in listener.named("translated-message")}
        assert heard == {f"flood {n}" for n in acked}
        await asyncio.sleep(1.2)
        await still_works(flooder, listener, "after the flood")

    asyncio.run(scenario())


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[ServedInstance]:
    """A served instance with small outboxes and no translation engine cost."""
    instance = ServedInstance(
        db=str(tmp_path / "tight.db"),
        env={
            "VOICEMODE_OUTBOX_FRAMES": "64",
            "VOICEMODE_RATE_FRAMES_PER_S": "2000",
            "VOICEMODE_RATE_BURST": "2000",
            "VOICEMODE_TRANSLATION_ENGINES": "identity",
        },
    )
    instance.start()
    yield instance
    instance.stop()


def raw_member(served: ServedInstance, user: str) -> socket.socket:
    """A client that joins and then never reads a byte."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", served.port))
    request = (
        f"GET /ws?token={served.token(user)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    payload = orjson.dumps({"event": "join-room", "data": {"roomCode": "r1"}})
    mask = b"\x00\x00\x00\x00"
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + payload)
    return sock


@pytest.mark.slow
def test_slow_client_is_dropped_and_others_are_unaffected(tight: ServedInstance) -> None:
    async def scenario() -> None:
        speaker = await member(tight)
        listener = await member(tight, "bob", "en")
        slow = raw_member(tight, "sloth")
        await speaker.expect("user-joined", userId="sloth")
        text = "a fairly long sentence " * 150
        sent = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await say_quietly(speaker, f"{sent} {text}")
            sent += 1
            if any(f["data"].get("userId") == "sloth" for f in speaker.named("user-left")):
                break
        left = await speaker.expect("user-left", userId="sloth")
        assert left["data"]["reason"] == "slow_consumer"
        await listener.wait_for(
            lambda f: len(listener.named("translated-message")) == sent, timeout=20
        )
        slow.close()

    asyncio.run(scenario())


async def say_quietly(client: Client, text: str) -> None:
    ack = await client.request("speech-transcript", {"transcript": text[:4900], "sourceLang": "en"})
    assert ack["event"] == "ack"


def test_text_frame_that_is_not_utf8_closes_with_1007(served: ServedInstance) -> None:
    """RFC 6455 requires closing on invalid UTF-8; the README's close table says so."""

    async def scenario() -> None:
        alice = await member(served)
        await alice.ws.send(b'{"event": "leave-room", "data": {}} \xff\xfe', text=True)
        await alice.wait_closed()
        assert alice.ws.close_code == 1007
        bob = await member(served, "bob")
        assert (await bob.request("leave-room"))["event"] == "left-room"

    asyncio.run(scenario())


def test_oversized_query_token_is_refused_with_414(served: ServedInstance) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await Client.connect(served.url, "a" * 9000)
        assert refused.value.response.status_code == 414

    asyncio.run(scenario())


def test_unauthenticated_connection_is_closed_after_10_s(served: ServedInstance) -> None:
    async def scenario() -> None:
        started = time.monotonic()
        silent = await Client.connect(served.url)
        error = await silent.wait_for(lambda f: f["event"] == "error", timeout=15)
        assert error["data"]["code"] == "auth_timeout"
        await silent.wait_closed()
        assert silent.ws.close_code == 4401
        assert 9.5 <= time.monotonic() - started <= 13

    asyncio.run(scenario())
