"""Two agent workers under one agent name, as on two machines: LiveKit shares the rooms out.

Everything is real: ``voicemode serve``, LiveKit's own server (v1.13.5),
two ``voicemode agent`` processes pinned to different cores (``taskset``)
reaching ``serve`` over the agent channel, and people as livekit.rtc
clients. One worker is SIGKILLed: each of its rooms gets an agent from the
other, and what is said there afterwards is transcribed and translated.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.agent_worker import AgentWorker
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import Listener, Speaker, eventually
from tests.support.service import Client, ServedInstance, livekit_token
from tests.support.speech import word_error_rate
from tests.test_voice_sessions import WER_LIMIT, events_named, member, serve_with_livekit

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

SAID_AFTER_THE_MOVE = "Please send me the report before the meeting on Friday."
FIRST_ROOMS = 3
MOST_ROOMS = 8
"""LiveKit picks between equally loaded workers at random: rooms are opened until both have one
(all eight on one worker: 1 run in 128)."""
MOVED_WITHIN_S = 10.0
ATTACHED = re.compile(r"agent worker (\S+) attached to (\S+)")


@pytest.fixture
def served(tmp_path: Path, livekit_server: LiveKitServer) -> Iterator[ServedInstance]:
    """``serve`` with LiveKit, logging (at INFO) which worker's agent attached to which room."""
    yield from serve_with_livekit(tmp_path, livekit_server, {"VOICEMODE_LOG_LEVEL": "INFO"})


@dataclass
class VoiceRoom:
    """A room where Bob is in a voice session (so it needs an agent) and Alice can speak."""

    code: str
    alice: Client
    bob: Client
    bob_lk: Listener


def serving(served: ServedInstance) -> dict[str, str]:
    """Room code to the worker whose agent attached to it last, from serve's log."""
    return {room: worker for worker, room in ATTACHED.findall(served.output())}


def all_served(served: ServedInstance, codes: set[str]) -> Callable[[], bool]:
    """Whether an agent attached to each of the rooms."""
    return lambda: codes <= serving(served).keys()


def listening(client: Client) -> list[bool]:
    """What the client was told of the room's agent, in order (``agent-listening``)."""
    return [frame["data"]["listening"] for frame in client.named("agent-listening")]


def told_of_the_move(client: Client) -> Callable[[], bool]:
    """Whether the client was last told that the agent went, then that one came."""
    return lambda: listening(client)[-2:] == [False, True]


@asynccontextmanager
async def voice_room(served: ServedInstance, code: str) -> AsyncIterator[VoiceRoom]:
    async with (
        member(served, "alice", code, "en") as alice,
        member(served, "bob", code, "es") as bob,
    ):
        ready = await bob.request("start-voice-session", {"languageCode": "es"}, timeout=20)
        assert ready["event"] == "voice-session-ready", ready
        listener = await Listener.connect(
            ready["data"]["liveKitUrl"], ready["data"]["liveKitToken"]
        )
        try:
            yield VoiceRoom(code, alice, bob, listener)
        finally:
            await listener.leave()


async def say_and_translate(served: ServedInstance, livekit_url: str, room: VoiceRoom) -> None:
    """Alice says a sentence in the room; Bob reads its Spanish translation (a stored event)."""
    alice = await Speaker.connect(livekit_url, await livekit_token(served, room.code, "alice"))
    try:
        await asyncio.wait_for(alice.subscribed.wait(), 30)
        await alice.say(SAID_AFTER_THE_MOVE)
        await room.bob.wait_for(
            lambda f: (
                f.get("event") == "translated-message"
                and word_error_rate(SAID_AFTER_THE_MOVE, f["data"]["originalText"]) <= WER_LIMIT
            ),
            timeout=60,
        )
    finally:
        await alice.room.disconnect()


@pytest.mark.slow
def test_two_workers_share_the_rooms_and_one_takes_over_when_the_other_dies(
    served: ServedInstance, livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    cores = sorted(os.sched_getaffinity(0))
    workers = [
        AgentWorker(
            served, livekit_server, tmp_path / f"agent-{n}.log", cpus=str(cores[n % len(cores)])
        )
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    ids = [worker.worker_id for worker in workers]

    async def scenario() -> None:
        async with AsyncExitStack() as rooms_open:
            rooms: list[VoiceRoom] = []
            while len(rooms) < MOST_ROOMS:
                rooms.append(
                    await rooms_open.enter_async_context(voice_room(served, f"two-{len(rooms)}"))
                )
                if len(rooms) < FIRST_ROOMS:
                    continue
                codes = {room.code for room in rooms}
                await eventually(all_served(served, codes), 60, "every room to get an agent")
                if {serving(served)[code] for code in codes} == set(ids):
                    break
            placed = serving(served)
            assert {placed[room.code] for room in rooms} == set(ids), (
                f"LiveKit gave every one of {len(rooms)} rooms to one worker: {placed}"
            )

            dead, survivor = ids
            moving = [room for room in rooms if placed[room.code] == dead]
            workers[0].kill()
            killed_at = time.monotonic()
            await eventually(
                lambda: all(serving(served)[room.code] == survivor for room in moving),
                MOVED_WITHIN_S,
                f"the rooms of the killed worker to move to {survivor}",
            )
            moved_in = time.monotonic() - killed_at
            print(f"\n{len(moving)} room(s) moved to the surviving worker in {moved_in:.1f} s")
            assert {serving(served)[room.code] for room in rooms} == {survivor}
            for room in moving:
                await eventually(
                    told_of_the_move(room.bob), 5, f"{room.code} to hear its agent go and come"
                )
                assert listening(room.bob)[0] is False, "no agent listened when the session began"
            url = livekit_server.url
            await asyncio.gather(*(say_and_translate(served, url, room) for room in moving))

        for room in moving:
            transcripts = events_named(served, room.code, "TranscriptRecognized")
            assert [(t["speaker_id"], t["engine"]) for t in transcripts] == [
                ("alice", "faster-whisper")
            ], transcripts
        assert "append refused" not in served.output()

    try:
        asyncio.run(scenario())
    finally:
        for worker in workers:
            worker.stop()
