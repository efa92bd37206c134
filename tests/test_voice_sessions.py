"""Voice sessions: ``start-voice-session`` over the WebSocket, LiveKit carrying the audio.

Everything is real: ``voicemode serve`` as a process, LiveKit's own server
(v1.13.5), ``voicemode agent`` as a separate process reaching ``serve`` over
the agent channel, and people as livekit.rtc clients (LiveKit's Rust SDK).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from livekit import api, rtc

from adapters.shells.auth import issue_token
from adapters.shells.protocol import COMMAND_EVENTS
from tests.support.agent_worker import AgentWorker
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import Listener, Speaker, eventually
from tests.support.service import ROOT, Client, ServedInstance, free_port, livekit_token
from tests.support.speech import word_error_rate

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

FIRST = "The weather today is sunny with a light breeze from the west."
SECOND = "Please send me the report before the meeting on Friday."
WER_LIMIT = 0.4


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


def livekit_env(server: LiveKitServer, url: str | None = None) -> dict[str, str]:
    return {
        "LIVEKIT_URL": url or server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": server.api_secret,
    }


def serve_with_livekit(
    tmp_path: Path, server: LiveKitServer, env: dict[str, str] | None = None
) -> Iterator[ServedInstance]:
    instance = ServedInstance(
        db=str(tmp_path / "voice-sessions.db"),
        http_port=server.webhook_port,
        env={**livekit_env(server), **(env or {})},
        args=("--record", "--record-dir", str(tmp_path / "recordings")),
    )
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def served_with_livekit(tmp_path: Path, livekit_server: LiveKitServer) -> Iterator[ServedInstance]:
    yield from serve_with_livekit(tmp_path, livekit_server)


@pytest.fixture
def served_with_livekit_and_speech(
    tmp_path: Path, livekit_server: LiveKitServer
) -> Iterator[ServedInstance]:
    """``serve`` speaking translations over the WebSocket too, as in production."""
    yield from serve_with_livekit(tmp_path, livekit_server, {"VOICEMODE_SPEECH": "on"})


@asynccontextmanager
async def member(
    served: ServedInstance, user: str, room: str, language: str
) -> AsyncIterator[Client]:
    client = await Client.connect(served.url, served.token(user, lang=language))
    joined = await client.request("join-room", {"roomCode": room, "language": language})
    assert joined["event"] == "joined-room", joined
    try:
        yield client
    finally:
        await client.close()


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def events_named(served: ServedInstance, room: str, name: str) -> list[dict[str, Any]]:
    lines = served.replay(room, "--json").splitlines()
    return [entry for entry in map(json.loads, lines) if entry["event"] == name]


async def livekit_participants(server: LiveKitServer, room: str) -> list[Any]:
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        answer = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        return list(answer.participants)


async def agents_in(server: LiveKitServer, room: str) -> set[str]:
    """The identities of the agents in a LiveKit room."""
    participants = await livekit_participants(server, room)
    return {
        p.identity for p in participants if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    }


def test_voice_session_frames_are_checked_and_refused_without_livekit(
    served: ServedInstance,
) -> None:
    async def scenario() -> None:
        async with member(served, "alice", "plain", "en") as alice:
            for data, code in (
                ({"roomId": "no spaces allowed"}, "invalid_room_code"),
                ({"roomId": 42}, "invalid_field"),
                ({"languageCode": "klingon"}, "unknown_language"),
                ({"soloMode": True}, "missing_field"),
                ({"soloMode": "yes", "soloTargetLang": "es"}, "invalid_field"),
                ({}, "livekit_not_configured"),
            ):
                answer = await alice.request("start-voice-session", data)
                assert answer["event"] == "error" and answer["data"]["code"] == code, (data, answer)
            answer = await alice.request("stop-voice-session")
            assert answer["data"]["code"] == "not_in_voice_session"
            still = await alice.request("set-language", {"language": "fr"})
            assert still["event"] == "ack"
        assert not events_named(served, "plain", "VoiceSessionStarted")

    run(scenario)


def test_the_agent_channel_takes_agents_only_and_users_take_no_agent_token(
    served: ServedInstance,
) -> None:
    async def refused(url: str, headers: dict[str, str]) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url, headers=headers) as _,
        ):
            raise AssertionError("the handshake was accepted")

    async def status_of(url: str, headers: dict[str, str]) -> tuple[int, str]:
        try:
            return await refused(url, headers)
        except aiohttp.WSServerHandshakeError as error:
            return error.status, error.message

    async def scenario() -> None:
        user_token = served.token("mallory")
        for headers in (
            {},
            {"Authorization": f"Bearer {user_token}"},
            {"Authorization": "Bearer not-a-token"},
        ):
            status, _ = await status_of(served.agent_url, headers)
            assert status == 401, headers
        agent_as_user = issue_token(served.secret, "agent-1", "Agent", "en", 600, kind="agent")
        client = await Client.connect(served.url)
        await client.send("authenticate", {"token": agent_as_user})
        refusal = await client.expect("error")
        assert refusal["data"]["code"] == "wrong_token_kind"
        await client.wait_closed()

    run(scenario)


EVERY_COMMAND: list[tuple[str, dict[str, Any], str]] = [
    ("authenticate", {}, "authenticated"),  # the token is added by the test
    ("join-room", {"roomCode": "answers"}, "joined-room"),
    ("set-language", {"language": "es"}, "ack"),
    ("set-preferences", {"speech": False}, "ack"),
    ("start-speech", {"languageCode": "en"}, "ack"),
    ("speech-transcript", {"transcript": "Hello.", "sourceLang": "en"}, "ack"),
    ("stop-speech", {}, "ack"),
    ("client-error", {"code": "mic_denied", "message": "no microphone"}, "ack"),
    ("resume", {"since": 0}, "ack"),
    ("start-voice-session", {"languageCode": "en"}, "voice-session-ready"),
    ("stop-voice-session", {}, "voice-session-ended"),
    ("set-assistant", {"enabled": True}, "ack"),
    ("set-recording", {"enabled": True}, "ack"),
    ("ask-assistant", {"text": "Assistant, are you there?"}, "ack"),
    ("assistant-command", {"text": "help"}, "ack"),
    # bob opened the room, so he owns it; he publishes no microphone on LiveKit
    ("mute-participant", {"userId": "bob", "muted": True}, "error"),
    ("remove-participant", {"userId": "bob", "barSeconds": 0}, "ack"),
    ("join-room", {"roomCode": "answers"}, "joined-room"),
    ("leave-room", {}, "left-room"),
    ("close-room", {"roomId": "answers"}, "ack"),
]


def echoing(ref: int) -> Callable[[dict[str, Any]], bool]:
    """Matches the frame that answers ``ref``."""
    return lambda frame: frame.get("ref") == ref


def test_every_accepted_command_with_a_ref_is_answered_once_with_it(
    served_with_livekit: ServedInstance,
) -> None:
    """The README's promise, command by command: a reply or an ``ack`` echoing the ``ref``."""
    served = served_with_livekit
    assert {name for name, _, _ in EVERY_COMMAND} == COMMAND_EVENTS

    async def scenario() -> None:
        client = await Client.connect(served.url)
        for number, (name, data, answer) in enumerate(EVERY_COMMAND):
            token = {"token": served.token("bob")} if name == "authenticate" else {}
            await client.send(name, {**data, **token}, ref=number)
            reply = await client.wait_for(echoing(number), timeout=20)
            assert reply["event"] == answer, (name, reply)
            if answer == "ack":
                assert reply["data"]["event"] == name
                assert isinstance(reply["data"]["position"], int)
        await asyncio.sleep(0.5)
        refs = [frame["ref"] for frame in client.frames if "ref" in frame]
        assert refs == list(range(len(EVERY_COMMAND))), "each answered once, in order"
        await client.close()

    run(scenario)


@pytest.mark.slow
def test_a_voice_session_is_announced_tokened_recorded_and_ended(
    served_with_livekit: ServedInstance, livekit_server: LiveKitServer
) -> None:
    served = served_with_livekit
    room = "voice-announce"

    async def scenario() -> None:
        async with member(served, "alice", room, "en") as alice:
            bob = await Client.connect(served.url, served.token("bob", lang="es"))
            ready = await bob.request(
                "start-voice-session", {"roomId": room, "languageCode": "es"}, timeout=20
            )
            assert ready["event"] == "voice-session-ready", ready
            assert bob.named("joined-room"), "start-voice-session joins the room it names"
            data = ready["data"]
            assert data["roomId"] == room and data["liveKitUrl"] == livekit_server.url
            grants = claims(data["liveKitToken"])
            assert grants["sub"] == "bob" and grants["video"]["room"] == room
            assert grants["attributes"] == {"language": "es"}
            assert "roomAdmin" not in grants["video"] and "agent" not in grants["video"]
            await alice.expect("user-started-voice", userId="bob", language="es")

            again = await bob.request("start-voice-session", {"languageCode": "es"})
            assert again["event"] == "voice-session-ready" and again["data"]["roomId"] == room
            assert len(events_named(served, room, "VoiceSessionStarted")) == 1

            lk_room = rtc.Room()
            await lk_room.connect(data["liveKitUrl"], data["liveKitToken"])
            disconnected = asyncio.Event()
            lk_room.on("disconnected", lambda *_: disconnected.set())
            assert "bob" in {p.identity for p in await livekit_participants(livekit_server, room)}

            ended = await bob.request("stop-voice-session")
            assert ended["event"] == "voice-session-ended" and ended["data"]["roomId"] == room
            await alice.expect("user-stopped-voice", userId="bob", reason="stopped")
            await asyncio.wait_for(disconnected.wait(), 15)
            again = await bob.request("stop-voice-session")
            assert again["data"]["code"] == "not_in_voice_session"

            solo = await bob.request(
                "start-voice-session",
                {"languageCode": "es", "soloMode": True, "soloTargetLang": "en"},
            )
            assert solo["event"] == "voice-session-ready"
            await bob.request("leave-room")
            await alice.wait_for(
                lambda f: (
                    f.get("event") == "user-stopped-voice"
                    and f["data"] == {"userId": "bob", "reason": "left"}
                )
            )
            await alice.expect("user-left", userId="bob")
            await bob.close()
            await lk_room.disconnect()

        started = events_named(served, room, "VoiceSessionStarted")
        assert [(e["language"], e["solo_target"]) for e in started] == [
            ("es", None),
            ("es", "en"),
        ]
        ended_reasons = [e["reason"] for e in events_named(served, room, "VoiceSessionEnded")]
        assert ended_reasons == ["stopped", "left"]

    run(scenario)


@pytest.mark.slow
def test_an_unreachable_livekit_refuses_the_session_and_records_nothing(
    tmp_path: Path, livekit_server: LiveKitServer
) -> None:
    served = ServedInstance(
        db=str(tmp_path / "no-livekit.db"),
        env=livekit_env(livekit_server, url=f"ws://127.0.0.1:{free_port()}"),
    )
    served.start()

    async def scenario() -> None:
        async with member(served, "alice", "down", "en") as alice:
            answer = await alice.request("start-voice-session", {}, timeout=30)
            assert answer["data"]["code"] == "livekit_unavailable", answer
            assert (await alice.request("set-language", {"language": "es"}))["event"] == "ack"

    try:
        run(scenario)
        assert not events_named(served, "down", "VoiceSessionStarted")
    finally:
        served.stop()


@pytest.mark.slow
def test_speech_over_livekit_is_translated_spoken_and_survives_a_worker_restart(
    served_with_livekit_and_speech: ServedInstance, livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    """Bob listens on LiveKit, Carol and Dave on the WebSocket: each hears every translation once.

    Catalan is heard on the WebSocket only, so the agent never speaks it.
    """
    served = served_with_livekit_and_speech
    room = "voice-e2e"
    worker = AgentWorker(served, livekit_server, tmp_path / "agent.log")
    worker.start()

    async def scenario() -> None:
        async with (
            member(served, "alice", room, "en"),
            member(served, "bob", room, "es") as bob_ws,
            member(served, "carol", room, "es") as carol_ws,
            member(served, "dave", room, "ca") as dave_ws,
        ):
            ready = await bob_ws.request("start-voice-session", {"languageCode": "es"}, timeout=20)
            assert ready["event"] == "voice-session-ready", ready
            first_agent = await eventually(
                lambda: agents_in(livekit_server, room), 60, "the agent to be dispatched"
            )
            bob = await Listener.connect(ready["data"]["liveKitUrl"], ready["data"]["liveKitToken"])
            alice_token = await livekit_token(served, room, "alice")
            alice = await Speaker.connect(livekit_server.url, alice_token)
            try:
                await asyncio.wait_for(alice.subscribed.wait(), 30)
                await eventually(lambda: bob.subscribed_at, 30, "bob to get tts-es")
                start = asyncio.get_running_loop().time()
                await alice.say(FIRST)
                translated = await bob_ws.expect("translated-message", timeout=60)
                assert translated["data"]["targetLang"] == "es"
                assert word_error_rate(FIRST, translated["data"]["originalText"]) <= WER_LIMIT
                await eventually(lambda: bob.heard_since(start), 30, "bob to hear Spanish")
                await eventually(
                    lambda: spoken_over(served, room, "livekit"),
                    30,
                    "the agent to report what it said",
                )
                first_id = translated["data"]["id"]
                for websocket_only, language in ((carol_ws, "es"), (dave_ws, "ca")):
                    await websocket_only.expect(
                        "synthesized-speech-end", timeout=60, id=first_id, language=language
                    )

                worker.kill()
                await eventually(
                    lambda: _without(first_agent, agents_in(livekit_server, room)),
                    60,
                    "the dead agent to go",
                )
                worker.start()
                await eventually(
                    lambda: _without(first_agent, agents_in(livekit_server, room), want_new=True),
                    60,
                    "a fresh agent to be dispatched",
                )
                await eventually(
                    lambda: bob.subscriptions_after_asking_again() > 1, 30, "tts-es again"
                )
                after = asyncio.get_running_loop().time()
                await alice.say(SECOND)
                second = await bob_ws.wait_for(
                    lambda f: (
                        f.get("event") == "translated-message"
                        and word_error_rate(SECOND, f["data"]["originalText"]) <= WER_LIMIT
                    ),
                    timeout=60,
                )
                await eventually(lambda: bob.heard_since(after), 30, "bob to hear it again")
                await eventually(
                    lambda: len(spoken_over(served, room, "livekit")) == 2,
                    30,
                    "the fresh agent to report what it said",
                )
                for websocket_only, language in ((carol_ws, "es"), (dave_ws, "ca")):
                    await websocket_only.expect(
                        "synthesized-speech-end",
                        timeout=60,
                        id=second["data"]["id"],
                        language=language,
                    )
                assert not bob_ws.named("synthesized-speech"), "bob hears Spanish on tts-es only"
                assert len(bob_ws.named("translated-message")) == 2, "but reads it on the WebSocket"
            finally:
                await alice.room.disconnect()
                await bob.leave()

        transcripts = events_named(served, room, "TranscriptRecognized")
        assert [t["engine"] for t in transcripts] == ["faster-whisper"] * 2
        assert all(t["speaker_id"] == "alice" for t in transcripts)
        spoken = events_named(served, room, "SpeechSynthesized")
        delivered = sorted((s["transcript_id"], s["language"], s["channel"]) for s in spoken)
        assert delivered == sorted(
            (t["transcript_id"], language, channel)
            for t in transcripts
            for language, channel in (("es", "livekit"), ("es", "websocket"), ("ca", "websocket"))
        ), "each channel speaks each translation once; nobody hears Catalan on LiveKit"
        assert all(s["audio_ms"] > 1000 for s in spoken)
        assert "spoke es over livekit" in served.replay(room)
        assert "append refused" not in served.output()
        ended = events_named(served, room, "VoiceSessionEnded")
        assert [(e["user_id"], e["reason"]) for e in ended] == [("bob", "disconnected")]

    try:
        run(scenario)
    finally:
        worker.stop()


def spoken_over(served: ServedInstance, room: str, channel: str) -> list[dict[str, Any]]:
    """The room's SpeechSynthesized events of one channel (``livekit`` or ``websocket``)."""
    return [s for s in events_named(served, room, "SpeechSynthesized") if s["channel"] == channel]


async def _without(
    old: set[str], pending: Coroutine[Any, Any, set[str]], want_new: bool = False
) -> bool:
    agents = await pending
    return bool(agents - old) if want_new else not (agents & old)


def test_agents_and_livekit_need_their_secrets_and_say_so(tmp_path: Path) -> None:
    """``voicemode agent`` and a LiveKit-enabled ``serve`` refuse to start half configured."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "VOICEMODE_"))}
    livekit = {
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": secrets.token_hex(32),
    }
    user_secret = secrets.token_hex(32)
    cases = [
        (["agent"], {}, "set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET"),
        (["agent"], livekit, "VOICEMODE_AGENT_SECRET is not set"),
        (
            ["serve", "--db", str(tmp_path / "x.db")],
            {**livekit, "VOICEMODE_SECRET": user_secret},
            "VOICEMODE_AGENT_SECRET is not set",
        ),
        (
            ["serve", "--db", str(tmp_path / "y.db")],
            {**livekit, "VOICEMODE_SECRET": user_secret, "VOICEMODE_AGENT_SECRET": user_secret},
            "VOICEMODE_AGENT_SECRET must differ from VOICEMODE_SECRET",
        ),
    ]
    for args, env, message in cases:
        result = subprocess.run(
            [sys.executable, str(ROOT / "runtime.py"), *args],
            check=False,
            capture_output=True,
            env={**base, **env},
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode != 0, args
        assert message in result.stderr.decode(), (args, result.stderr.decode())


@pytest.mark.slow
def test_agents_leave_when_serve_dies_and_come_back_when_it_restarts(
    served_with_livekit: ServedInstance, livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    """A deaf agent does not hold the room; the restarted serve reads who still talks."""
    served = served_with_livekit
    room = "voice-serve-restart"
    worker = AgentWorker(served, livekit_server, tmp_path / "agent.log")
    worker.start()

    async def scenario() -> None:
        bob_ws = await Client.connect(served.url, served.token("bob", lang="es"))
        ready = await bob_ws.request(
            "start-voice-session", {"roomId": room, "languageCode": "es"}, timeout=20
        )
        bob = await Listener.connect(ready["data"]["liveKitUrl"], ready["data"]["liveKitToken"])
        try:
            first = await eventually(
                lambda: agents_in(livekit_server, room), 60, "the agent to be dispatched"
            )
            served.kill()
            await eventually(
                lambda: _without(first, agents_in(livekit_server, room)),
                60,
                "the agent to leave with serve",
            )
            served.start()
            await eventually(
                lambda: _without(first, agents_in(livekit_server, room), want_new=True),
                60,
                "an agent to come back for bob, still connected to LiveKit",
            )
        finally:
            await bob.leave()
            await bob_ws.close()

    try:
        run(scenario)
    finally:
        worker.stop()
