"""The load generator of bench/livekit_rooms.py: people in voice rooms, in a process of its own.

Not a benchmark itself. ``bench/livekit_rooms.py`` starts several of these children
(``--generators``), each with its share of the rooms, so that the rtc clients never share
an event loop or a core's worth of Python with each other or with the bench, and so that
each one's CPU and push lag can be judged on its own.

Each person joins as a real user does: a WebSocket to ``voicemode serve`` with their own
token, ``join-room`` with their language, ``start-voice-session`` (which makes ``serve``
create the LiveKit room and dispatch an agent) and, with the LiveKit token that answers it,
a livekit.rtc client (LiveKit's Rust SDK). A speaker (``tests.support.rtc_people.Speaker``)
publishes its microphone; a listener (:class:`Ear`) subscribes to ``tts-<its language>``
only. A child opens its rooms one after the other: the next once the agent listens to the
speaker and the listeners have their tracks (at most :data:`ROOM_SETUP_TIMEOUT_S`; after a
room the agent did not take, the child opens no more).

The conversation with the bench, one JSON object a line:

* child -> bench ``{"ready": [RoomReport...]}`` once its rooms are open;
* bench -> child ``{"speak": START}``: START is a ``time.monotonic()`` value of the bench
  (CLOCK_MONOTONIC is one clock for every process of the machine), room ``k`` of the run
  starts ``k x stagger`` after it; each speaker pushes 20 ms frames in real time, each when
  its last sample is due;
* child -> bench ``{"done": [RoomReport...], "spoken": T, "ended": T}`` once nothing was
  heard for ``quiet`` s after its speakers stopped (or ``drain`` s after);
* bench -> child ``{"leave": true}`` (or end of input): everyone disconnects, the child exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import common  # noqa: F401 - puts the repository on sys.path (tests.support)
import numpy as np
from livekit import rtc  # the SDK, not this file: see bench/common.py
from voice import SENTENCES, Plan, make_plan, sentence_audio

from adapters.shells.livekit_agent.speaking import track_name
from adapters.shells.livekit_agent.streams import own_audio_stream
from tests.support.rtc_people import FRAME_MS, LOUD, MIC_RATE, Speaker, connect_choosing
from tests.support.service import Client

BURST_GAP_S = 0.25
"""Quiet that separates two utterances of synthesized speech (see bench/livekit_rooms.py)."""
EAR_RATE = 48000
"""Listeners read their track at Opus's own rate: nothing is resampled on the way."""
EAR_FRAME_MS = 50
"""Frames a listener reads; each is looked at 10 ms at a time (see :meth:`Ear._listen`)."""
EAR_PIECE_MS = 10
ROOM_SETUP_TIMEOUT_S = 20.0
"""Voice session started -> the agent listens to the speaker and the listeners have tracks."""
REQUEST_TIMEOUT_S = 30.0
"""``join-room`` / ``start-voice-session`` -> their answer (``serve`` creates the LiveKit room)."""


@dataclass
class Ear:
    """A listener: subscribes to one track by name, as a client picking its language does.

    ``loud_at`` holds the arrival time of every loud 10 ms piece of audio received on it.
    """

    room: rtc.Room
    track: str
    loud_at: list[float] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def on_room(cls, room: rtc.Room, track: str) -> Ear:
        """Listen to ``track`` in a room someone joined already, with auto-subscribe."""
        ear = cls(room, track)
        room.on("track_subscribed", ear._on_track)
        return ear

    @classmethod
    async def connect(cls, url: str, access_token: str, track: str) -> Ear:
        """Join with ``access_token`` without auto-subscribe; subscribe to ``track`` once there."""
        ear = cls(rtc.Room(), track)
        ear.room.on("track_subscribed", ear._on_track)
        await connect_choosing(ear.room, url, access_token, ear._on_published)
        return ear

    def bursts(self) -> list[tuple[float, float]]:
        """The loud stretches heard so far: (first, last loud frame)."""
        return bursts(self.loud_at)

    def _on_published(
        self, publication: rtc.RemoteTrackPublication, _: rtc.RemoteParticipant
    ) -> None:
        if publication.name == self.track:
            publication.set_subscribed(True)

    def _on_track(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, _: rtc.RemoteParticipant
    ) -> None:
        if publication.name == self.track:
            self.subscribed.set()
            task = asyncio.create_task(self._listen(track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _listen(self, track: rtc.Track) -> None:
        """Note the loud 10 ms pieces of what arrives, when a 10 ms reader would have had them.

        The stream is woken by its own frames only, as the agent's are
        (:func:`~adapters.shells.livekit_agent.streams.own_audio_stream`: the SDK
        would hand it every audio frame of the process); 50 ms frames make five
        times fewer events than the default 10 ms. A piece ``k`` pieces before a
        frame's end came in ``k`` x 10 ms before the frame did.
        """
        stream = own_audio_stream(track, EAR_RATE, EAR_FRAME_MS)
        piece = EAR_RATE * EAR_PIECE_MS // 1000
        try:
            async for event in stream:
                arrived = time.monotonic()
                samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.int32)
                peaks = np.abs(samples[: samples.size - samples.size % piece]).reshape(-1, piece)
                pieces = len(peaks)
                for index in np.flatnonzero(peaks.max(axis=1, initial=0) > LOUD):
                    self.loud_at.append(arrived - (pieces - 1 - index) * EAR_PIECE_MS / 1000)
        finally:
            await stream.aclose()

    async def leave(self) -> None:
        """Disconnect (unless already gone) and stop listening."""
        if self.room.isconnected():
            await self.room.disconnect()
        for task in list(self._tasks):
            task.cancel()


def bursts(loud_at: Sequence[float], gap_s: float = BURST_GAP_S) -> list[tuple[float, float]]:
    """Group loud frame times into stretches separated by more than ``gap_s`` of quiet."""
    found: list[tuple[float, float]] = []
    for moment in loud_at:
        if found and moment - found[-1][1] <= gap_s:
            found[-1] = (found[-1][0], moment)
        else:
            found.append((moment, moment))
    return found


def frame(pcm: bytes) -> rtc.AudioFrame:
    """One 20 ms microphone frame (a short last chunk is padded with silence)."""
    samples = MIC_RATE * FRAME_MS // 1000
    return rtc.AudioFrame(pcm + bytes(samples * 2 - len(pcm)), MIC_RATE, 1, samples)


async def speak(
    source: rtc.AudioSource, plan: Plan, start: float, pushed_at: list[float], lag: list[float]
) -> None:
    """Push the plan's 20 ms frames in real time, each when its last sample is due."""
    for chunk, due_s in zip(plan.chunks, plan.due_s, strict=True):
        due = start + due_s
        if (delay := due - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        now = time.monotonic()
        pushed_at.append(now)
        lag.append(now - due)
        await source.capture_frame(frame(chunk))


def plans_for(rooms: int, count: int, gap_s: float) -> list[Plan]:
    """Each room's speaker says ``count`` sentences, each room starting at another one.

    The same in the bench and in every generator (espeak-ng and the plan's chunking are
    deterministic), so only room numbers cross the pipe, not audio.
    """
    audio = sentence_audio(list(SENTENCES))
    return [
        make_plan(
            [SENTENCES[(k + i) % len(SENTENCES)] for i in range(count)],
            audio,
            gap_s,
            (FRAME_MS, FRAME_MS),
            k,
        )
        for k in range(rooms)
    ]


# ================================================================ what crosses the pipe


@dataclass(frozen=True)
class RoomSpec:
    """One room a generator runs: its number in the run, its code and its people's tokens."""

    index: int
    code: str
    speaker: str  # the speaker's voicemode token
    listeners: dict[str, str]  # language -> the listener's voicemode token


@dataclass(frozen=True)
class GeneratorConfig:
    """What a generator child is told (JSON on its command line)."""

    serve_url: str
    rooms: list[RoomSpec]
    total_rooms: int
    sentences: int
    gap_s: float
    stagger_s: float
    quiet_s: float
    drain_s: float

    @classmethod
    def decode(cls, raw: str) -> GeneratorConfig:
        """The config from its JSON."""
        values = json.loads(raw)
        rooms = [RoomSpec(**room) for room in values.pop("rooms")]
        return cls(rooms=rooms, **values)


@dataclass
class RoomReport:
    """What a generator saw of one room (times on the shared monotonic clock)."""

    index: int
    code: str
    opened: bool = False  # its people started their voice sessions and connected to LiveKit
    taken: bool = False  # the agent listened to the speaker and every listener had its track
    problem: str | None = None
    pushed_at: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    loud_at: dict[str, list[float]] = field(default_factory=dict)  # per listener language


def decode_reports(values: list[dict[str, Any]]) -> list[RoomReport]:
    """Room reports from their JSON."""
    return [RoomReport(**value) for value in values]


# ================================================================ the child


@dataclass
class RoomPeople:
    """One room's people as this generator runs them."""

    spec: RoomSpec
    report: RoomReport
    clients: list[Client] = field(default_factory=list)
    speaker: Speaker | None = None
    ears: dict[str, Ear] = field(default_factory=dict)


async def voice_session(
    serve_url: str, token: str, code: str, language: str
) -> tuple[Client, dict[str, Any]]:
    """A user's WebSocket in ``code`` with a voice session; ``voice-session-ready``'s data."""
    client = await Client.connect(serve_url, token)
    joined = await client.request(
        "join-room", {"roomCode": code, "language": language}, timeout=REQUEST_TIMEOUT_S
    )
    if joined.get("event") != "joined-room":
        await client.close()
        raise RuntimeError(f"join-room {code} refused: {joined}")
    ready = await client.request(
        "start-voice-session", {"languageCode": language}, timeout=REQUEST_TIMEOUT_S
    )
    if ready.get("event") != "voice-session-ready":
        await client.close()
        raise RuntimeError(f"start-voice-session in {code} refused: {ready}")
    return client, ready["data"]


async def open_room(config: GeneratorConfig, people: RoomPeople) -> None:
    """The room's people join as users do; wait until the agent took the room."""
    spec, report = people.spec, people.report
    client, ready = await voice_session(config.serve_url, spec.speaker, spec.code, "en")
    people.clients.append(client)
    people.speaker = await Speaker.connect(ready["liveKitUrl"], ready["liveKitToken"])
    for language, token in spec.listeners.items():
        client, ready = await voice_session(config.serve_url, token, spec.code, language)
        people.clients.append(client)
        people.ears[language] = await Ear.connect(
            ready["liveKitUrl"], ready["liveKitToken"], track_name(language)
        )
    report.opened = True
    waits = [people.speaker.subscribed, *(ear.subscribed for ear in people.ears.values())]
    try:
        await asyncio.wait_for(asyncio.gather(*(w.wait() for w in waits)), ROOM_SETUP_TIMEOUT_S)
    except TimeoutError:
        report.problem = (
            f"room {spec.code} not listened to and its tracks not subscribed within "
            f"{ROOM_SETUP_TIMEOUT_S:g} s of its voice sessions"
        )
        return
    report.taken = True


async def speak_and_listen(
    config: GeneratorConfig, rooms: list[RoomPeople], start: float
) -> tuple[float, float]:
    """Every opened room speaks its plan from ``start``; wait for the last speech heard."""
    plans = plans_for(config.total_rooms, config.sentences, config.gap_s)
    talking = [room for room in rooms if room.speaker is not None]
    await asyncio.gather(
        *(
            speak(
                room.speaker.source,
                plans[room.spec.index],
                start + room.spec.index * config.stagger_s,
                room.report.pushed_at,
                room.report.lag,
            )
            for room in talking
            if room.speaker is not None
        )
    )
    spoken = time.monotonic()
    ears = [ear for room in rooms for ear in room.ears.values()]
    while True:  # until nothing was heard for quiet s (or drain s in all)
        now = time.monotonic()
        last = max([spoken, *(ear.loud_at[-1] for ear in ears if ear.loud_at)])
        if now - last >= config.quiet_s or now - spoken >= config.drain_s:
            break
        await asyncio.sleep(0.1)
    return spoken, time.monotonic()


async def read_command() -> dict[str, Any]:
    """The bench's next line (end of input: leave)."""
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return json.loads(line) if line.strip() else {"leave": True}


def say(message: dict[str, Any]) -> None:
    """One line to the bench."""
    print(json.dumps(message), flush=True)


async def generate(config: GeneratorConfig) -> None:
    """Open the rooms, wait for the word, speak, report, wait to leave."""
    rooms = [RoomPeople(spec, RoomReport(spec.index, spec.code)) for spec in config.rooms]
    try:
        for room in rooms:
            try:
                await open_room(config, room)
            except (RuntimeError, TimeoutError, OSError) as error:
                room.report.problem = f"room {room.spec.code} not opened: {error}"
            if not room.report.taken:
                break
        say({"ready": [asdict(room.report) for room in rooms]})
        command = await read_command()
        if "speak" in command:
            spoken, ended = await speak_and_listen(config, rooms, float(command["speak"]))
            for room in rooms:
                room.report.loud_at = {lang: ear.loud_at for lang, ear in room.ears.items()}
            say({"done": [asdict(room.report) for room in rooms], "spoken": spoken, "ended": ended})
            await read_command()
    finally:
        # Never cancelled: cancelling LiveKit's native calls in flight makes it panic.
        for room in rooms:
            if room.speaker is not None and room.speaker.room.isconnected():
                await room.speaker.room.disconnect()
            for ear in room.ears.values():
                await ear.leave()
            for client in room.clients:
                await client.close()


def main() -> int:
    """The child: its config is the first argument."""
    asyncio.run(generate(GeneratorConfig.decode(sys.argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
