"""Voice over a real LiveKit server: mouth to ear, and how many rooms 2 cores keep in real time.

What runs where:

* One LiveKit server for the whole bench (``.tools/bin/livekit-server`` v1.13.5 with the
  project's ``livekit.yaml`` on free loopback ports, ``tests.support.livekit_server``), logging at
  ``warn`` and without webhooks (nobody receives them here). Its ``agents.target_load`` (see
  ``livekit.yaml``) lets the lone worker take every room on a busy machine.
* voicemode in a child process, a fresh one per run: a ``VoiceService`` on a new SQLite store
  with the embedded engines (faster-whisper tiny.en and espeak-ng from ``runtime.build_speech``,
  Apertium from ``adapters.engines.translation.engines.build``) and the LiveKit agent worker
  (``adapters.shells.livekit_agent.worker.build_agent_server``: thread executor,
  ``DirectControlPlane``, ``load_threshold=inf`` as the only worker). The rooms' members join
  the voicemode rooms there first, as the WebSocket gateway would make them, so the agent
  publishes one ``tts-<lang>`` track per language heard. The child warms its engines (one
  decode, one translation per language, one synthesis) and says it is ready once the worker
  registered. A process of its own, so its CPU (with its Apertium and espeak-ng children) is
  the agent's alone, and the agent never shares an event loop with the load generator.
* The people, in this process: livekit.rtc clients (LiveKit's Rust SDK). A speaker
  (``tests.support.rtc_people.Speaker``) publishes espeak-ng English on a 16 kHz microphone track,
  pushed in 20 ms frames in real time: each frame when its last sample is due, as a
  microphone delivers it. A listener subscribes to its language's ``tts-<lang>`` track only
  and notes when the audio it receives is loud (a 10 ms piece peaking above
  ``tests.support.rtc_people.LOUD``; it reads 50 ms frames, see :meth:`Ear._listen`).

Rooms open one after the other, as they would: the room's people connect, the room is
dispatched explicitly (``CreateAgentDispatchRequest``), and the next room opens once the
agent listens to its speaker and its listeners have their tracks (at most 20 s; a room the
agent did not take by then is reported, and no further room is opened). Before anyone speaks,
the CPU of the connected, silent rooms is measured for 2 s ("idle").

Mouth to ear: from the end of speech, the moment the frame holding the sentence's last
non-silent sample was pushed (espeak-ng's own silence is trimmed, so this is known from the
audio, as in bench/voice.py), to the first loud audio of the speech of that sentence's
translation at the listener. To tell which stretch of audio is which translation, the store is
read after the run: the speaker's ``TranscriptRecognized`` events are matched to the sentences
by order and words (``voice.attribute``; a sentence the VAD cut in two is timed by its last
part, as in bench/voice.py), each has a ``TranslationProduced`` per language, and
``SpeechSynthesized`` says it was spoken. The agent speaks a language's translations one after
the other in the order they were recorded, and the speech of one cannot start before it was
recorded; so each spoken translation gets the first burst of received audio that starts after
it was recorded and after the previous translation's burst. Bursts are loud stretches split by
more than 250 ms of quiet: espeak-ng ends every utterance with ~330 ms of silence and pauses at
most ~180 ms inside one (commas), so even translations played back to back stay apart. The
stored events' timestamps (wall clock, same machine) also give the steps: end of speech ->
final recorded -> translation recorded -> heard.

Sentences are 2 s apart (``--gap``), not less: the Spanish of a sentence lasts up to ~1.3x the
English, and with shorter gaps a translation would often have to wait for the previous one to
finish playing, which is counted ("waited for the previous translation") but is not the
pipeline's latency.

Runs, one after the other:

1. Baseline, LiveKit alone: one client publishes a 20 ms click every 0.5 s between silent
   frames, another receives it (``--clicks``); push -> first loud audio received is LiveKit's
   one-way audio transport. Mouth to ear crosses it twice (microphone -> agent, ``tts-es`` ->
   listener); the rest is voicemode: VAD wait, STT, translation, synthesis, the agent.
2. Mouth to ear: one room, a speaker (en) and a listener (es); ``--sentences`` sentences.
   Goal p50 <= 800 ms.
3. Concurrent rooms: for each count in ``--rooms``, that many rooms at once, each with a
   speaker (en) and two listeners (es and ca: direct Apertium pairs), speakers starting
   ``--stagger`` apart, each saying ``--room-sentences`` sentences. A run keeps up when the
   agent took every room, every sentence was heard by both listeners, p90 mouth to ear is
   below ``--keep-up-ms`` (2 s), the agent dropped no audio (it logs "queued too deep; audio
   dropped") and left no translation unspoken (it logs "not speaking one"). Once the agent
   could not take every room of a run, larger counts are skipped. Goal: >= 10 rooms.
   Baseline: the rooms the agent's CPU at the smallest count would allow if it scaled
   linearly and had every core to itself.

A run ends once nothing was heard for ``--quiet`` s (3 s) after the speakers stopped, or
``--drain`` s (20 s) after. The LiveKit server, the agent process and the rtc clients share
the machine's cores; each one's CPU is reported, and so is other processes' (the machine may
be shared): the clients are no light load generator, as every rtc client is a WebRTC peer that
encodes or decodes Opus.

    .venv/bin/python bench/livekit_rooms.py            # rooms 1,4,6,8,10,12 (~7 min)
    .venv/bin/python bench/livekit_rooms.py --quick    # rooms 1,4, fewer sentences (~1.5 min)

To look into a run: ``--keep`` keeps the stores and logs; ``VOICEMODE_BENCH_AGENT_LOG=INFO``
and ``VOICEMODE_BENCH_LIVEKIT_LOG=debug`` make the agent and the LiveKit server say more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import Row, heading, machine_note, num, percentile
from livekit import api, rtc  # the SDK, not this file: see bench/common.py
from voice import (
    SENTENCES,
    WARMUP_SENTENCE,
    Plan,
    attribute,
    fmt,
    make_plan,
    sentence_audio,
)
from voice import stats as ms_stats

from actors.messages import Accepted, Refused, StartVoiceSession
from actors.service import ServiceSettings, SpeechStack, VoiceService
from adapters.engines.translation import engines as translation_engines
from adapters.engines.translation.registry import TranslationRegistry
from adapters.engines.vad import SegmenterConfig
from adapters.settings import assistant_config
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent.speaking import track_name
from adapters.shells.livekit_agent.worker import build_agent_server
from events.domain import Room, SpeechSynthesized, TranslationProduced
from events.store import EventStore
from runtime import build_assistant, build_speech
from tests.support.livekit_server import LiveKitServer
from tests.support.rtc_people import FRAME_MS, LOUD, MIC_RATE, Speaker, token
from tests.support.speech import to_float, trimmed, word_error_rate
from tests.test_livekit_agent import join

SPEAKER_LANG = "en"
MOUTH_TO_EAR_LANGS = ("es",)
ROOM_LANGS = ("es", "ca")
AGENT_NAME = "voicemode-bench"
TRANSLATION_TIMEOUT_S = 3.0
"""As ``voicemode serve`` by default (``VOICEMODE_TRANSLATION_TIMEOUT_S``)."""
BURST_GAP_S = 0.25
"""Quiet that separates two utterances of synthesized speech (see the module docstring)."""
EAR_RATE = 48000
"""Listeners read their track at Opus's own rate: nothing is resampled on the way."""
EAR_FRAME_MS = 50
"""Frames a listener reads; each is looked at 10 ms at a time (see :meth:`Ear._listen`)."""
EAR_PIECE_MS = 10
CLICK_EVERY_S = 0.5
CLICK_LEAD_S = 1.0
"""Silence pushed before the first click, so the track is flowing when it is timed."""
ROOM_SETUP_TIMEOUT_S = 20.0
"""Dispatch -> the agent listens to the speaker and its tracks reached the listeners."""
STOP_TIMEOUT_S = 20.0
"""SIGTERM -> SIGKILL of the agent process (a job stuck connecting never ends by itself)."""
IDLE_S = 2.0
"""How long the CPU of connected, silent rooms is measured before anyone speaks."""
DROPPED_AUDIO = "audio dropped"
UNSPOKEN = "not speaking one"
QUICK = {"rooms": "1,4", "sentences": 4, "room_sentences": 2, "clicks": 10}
"""What ``--quick`` changes (of the flags left at their defaults)."""
SMOKE = {"rooms": "", "sentences": 2, "clicks": 5, "quiet": 2.0, "max_push_lag_ms": 100.0}
"""What ``--smoke`` sets: the transport baseline and mouth to ear with two sentences, no
concurrency runs (each needs its own agent process); a looser push-lag bound for busy CI."""
CLIENT_CPU_BOUND = 0.9
"""The rtc clients (this process) above this share of a core: the load generator is saturated."""


# ================================================================ the agent (child process)


@dataclass(frozen=True)
class AgentConfig:
    """What the agent process is told on its command line."""

    url: str
    api_key: str
    api_secret: str
    db: str
    members: list[tuple[str, str, str]]  # (room code, user, language)
    assistant: dict[str, str] | None = None
    """The assistant's ``VOICEMODE_*`` settings (its language model); with them, every member
    talks to the assistant in a voice session (``assistant: true``). None: no assistant."""

    @property
    def languages(self) -> list[str]:
        """The languages the members hear other than the speakers' (those get translations)."""
        return sorted({language for *_, language in self.members} - {SPEAKER_LANG})


def agent_main(raw: str) -> int:
    """The child: voicemode and its agent worker until SIGTERM."""
    values = json.loads(raw)
    config = AgentConfig(**{**values, "members": [tuple(m) for m in values["members"]]})
    logging.basicConfig(
        level=os.environ.get("VOICEMODE_BENCH_AGENT_LOG", "WARNING"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve_agent(config))
    return 0


async def serve_agent(config: AgentConfig) -> None:
    """Open voicemode, warm its engines, seat the members, then serve agent jobs."""
    began = time.monotonic()
    loop = asyncio.get_running_loop()
    speech = build_speech(["faster-whisper"], ["espeak-ng"])
    registry = translation_engines.build(["apertium"], TRANSLATION_TIMEOUT_S)
    assistant = None
    if config.assistant is not None:
        os.environ.update(config.assistant)
        settings = assistant_config()
        assert settings is not None
        assistant = build_assistant(settings)
    service = VoiceService(
        EventStore.open(config.db), registry, ServiceSettings(), speech, assistant
    )
    try:
        loaded = time.monotonic()
        await loop.run_in_executor(None, warm_up, speech, registry, config.languages)
        warmed = time.monotonic()
        for code, user, language in config.members:
            await join(service, code, user, language)
            if assistant is not None:
                await talk_to_assistant(service, code, user, language)
        server = build_agent_server(
            config.url,
            config.api_key,
            config.api_secret,
            lambda: DirectControlPlane(service),
            speech=speech,
            agent_name=AGENT_NAME,
            load_threshold=math.inf,  # the only worker: it must take every room
        )
        registered = asyncio.Event()
        server.on("worker_registered", lambda *_: registered.set())
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        running = asyncio.create_task(server.run())
        stopping = asyncio.create_task(stop.wait())
        ready = asyncio.create_task(registered.wait())
        await asyncio.wait({running, ready}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            times = {"load_s": loaded - began, "warm_s": warmed - loaded}
            print("READY " + json.dumps(times), flush=True)
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopping, ready):
            task.cancel()
        if not running.done():
            await server.aclose()
        await running
    finally:
        service.close()


async def talk_to_assistant(service: VoiceService, code: str, user: str, language: str) -> None:
    """Start ``user``'s voice session in assistant mode, as ``start-voice-session`` does."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Accepted | Refused] = loop.create_future()

    def reply(outcome: Accepted | Refused) -> None:
        loop.call_soon_threadsafe(answer.set_result, outcome)

    service.tell_room(code, StartVoiceSession(user, language, None, code, reply, assistant=True))
    outcome = await answer
    if not isinstance(outcome, Accepted):
        raise RuntimeError(f"{user}'s voice session with the assistant was refused: {outcome}")


def warm_up(speech: SpeechStack, registry: TranslationRegistry, languages: Sequence[str]) -> None:
    """One decode, one translation per language and one synthesis, before anything is timed."""
    audio = to_float(trimmed(WARMUP_SENTENCE, MIC_RATE))
    heard = speech.engines.recognizers.transcribe(audio, SPEAKER_LANG).text or WARMUP_SENTENCE
    for language in languages:
        translated = registry.translate(heard, SPEAKER_LANG, language).text
        for _ in speech.synthesizers.synthesize(translated, language).chunks:
            pass


@dataclass
class AgentProcess:
    """The running child, seen from the bench."""

    process: asyncio.subprocess.Process
    log_path: Path
    ready: dict[str, float]
    started_s: float

    @classmethod
    async def start(cls, config: AgentConfig, log_path: Path) -> AgentProcess:
        """Start the child and wait until its worker registered with LiveKit."""
        began = time.monotonic()
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--agent-child",
                json.dumps(asdict(config)),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=common.ROOT,
            )
        assert process.stdout is not None
        line = b""
        with contextlib.suppress(TimeoutError):
            line = await asyncio.wait_for(process.stdout.readline(), 180)
        agent = cls(process, log_path, {}, time.monotonic() - began)
        if not line.startswith(b"READY "):
            await agent.stop()
            raise RuntimeError(f"the agent process did not start:\n{agent.log()[-3000:]}")
        agent.ready = json.loads(line[len(b"READY ") :])
        return agent

    async def stop(self) -> None:
        """SIGTERM (the worker closes its jobs), then SIGKILL if that takes too long."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def cpu_s(self) -> float:
        """CPU seconds of the agent process and its children (Apertium, espeak-ng) so far."""
        return common.tree_cpu_seconds(self.process.pid)

    def log(self) -> str:
        """What the child logged: warnings and errors (``VOICEMODE_BENCH_AGENT_LOG``: more)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# ================================================================ the people (rtc clients)


class BenchLiveKitServer(LiveKitServer):
    """The tests' LiveKit server, logging at ``warn`` and posting no webhooks.

    Like ``livekit.yaml``, it never refuses the lone worker a job however
    busy the machine is (``agents.target_load``).
    """

    def config(self) -> dict[str, Any]:
        """``livekit.yaml`` as the tests run it, minus debug logs and webhooks."""
        config = super().config()
        config.pop("webhook", None)
        config["logging"] = {
            "level": os.environ.get("VOICEMODE_BENCH_LIVEKIT_LOG", "warn"),
            "pion_level": "error",
        }
        return config


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
    async def join(cls, server: LiveKitServer, room: str, identity: str, track: str) -> Ear:
        """Join ``room`` without auto-subscribe and subscribe to ``track`` once it is there."""
        ear = cls(rtc.Room(), track)
        ear.room.on("track_published", ear._on_published)
        ear.room.on("track_subscribed", ear._on_track)
        await ear.room.connect(
            server.url, token(server, identity, room), rtc.RoomOptions(auto_subscribe=False)
        )
        for participant in ear.room.remote_participants.values():
            for publication in participant.track_publications.values():
                ear._on_published(publication, participant)
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

        The SDK hands every audio frame event of the process to every AudioStream's
        queue (each drops the others'), a cost that grows with the square of the
        streams; 50 ms frames make five times fewer events than the default 10 ms.
        A piece ``k`` pieces before a frame's end came in ``k`` x 10 ms before the
        frame did.
        """
        stream = rtc.AudioStream.from_track(
            track=track, sample_rate=EAR_RATE, frame_size_ms=EAR_FRAME_MS
        )
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


# ================================================================ baseline: LiveKit alone


async def transport_baseline(server: LiveKitServer, clicks: int) -> list[float]:
    """One-way LiveKit audio latency (ms): a click pushed -> first loud frame received."""
    mouth = await Speaker.join(server, "transport", "click-mouth")
    ear: Ear | None = None
    try:
        ear = await Ear.join(server, "transport", "click-ear", "microphone")
        await asyncio.wait_for(ear.subscribed.wait(), 30)
        samples = MIC_RATE * FRAME_MS // 1000
        tone = 12000 * np.sin(2 * np.pi * 1000 * np.arange(samples) / MIC_RATE)
        click = tone.astype("<i2").tobytes()
        quiet = bytes(samples * 2)
        every = round(CLICK_EVERY_S * 1000 / FRAME_MS)
        lead = round(CLICK_LEAD_S * 1000 / FRAME_MS)
        pushed: list[float] = []
        start = time.monotonic()
        for index in range(lead + clicks * every):
            due = start + (index + 1) * FRAME_MS / 1000
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            loud = index >= lead and (index - lead) % every == 0
            if loud:
                pushed.append(time.monotonic())
            await mouth.source.capture_frame(frame(click if loud else quiet))
        await asyncio.sleep(1.0)
        onsets = [first for first, _ in ear.bursts()]
        latencies = []
        for moment in pushed:
            heard = [onset for onset in onsets if moment <= onset < moment + CLICK_EVERY_S]
            if heard:
                latencies.append((heard[0] - moment) * 1000)
        return latencies
    finally:
        await mouth.room.disconnect()
        if ear is not None:
            await ear.leave()


# ================================================================ one run: rooms at once


@dataclass
class RoomPeople:
    """One room's speaker, listeners and what the speaker said when."""

    code: str
    speaker: Speaker
    ears: dict[str, Ear]
    plan: Plan
    pushed_at: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)


@dataclass
class Outcome:
    """What one run measured."""

    label: str
    rooms: int
    languages: tuple[str, ...]
    sentences: int
    opened: int = 0  # rooms people joined
    taken: int = 0  # rooms the agent joined (listening to the speaker, tracks subscribed)
    setup_problem: str | None = None
    skipped: str | None = None
    ear_ms: dict[str, list[float]] = field(default_factory=dict)  # per language
    final_ms: list[float] = field(default_factory=list)
    translation_ms: list[float] = field(default_factory=list)
    expected: int = 0
    no_agent: int = 0  # (sentence, listener) in rooms the agent did not take
    no_final: int = 0
    unspoken: int = 0  # a translation that was not spoken (or not made)
    unmatched_speech: int = 0  # spoken, but no burst of audio found for it
    queued: int = 0  # its speech waited for the previous translation to finish playing
    fully_heard: int = 0  # sentences heard by every listener of their room
    before_speech_end: int = 0  # step samples (store timestamps) before the end of speech
    edits: float = 0.0
    words: int = 0
    splits: int = 0
    unmatched_finals: list[str] = field(default_factory=list)
    examples: list[tuple[str, str]] = field(default_factory=list)
    idle_agent_cpu: float = math.nan  # cores, everyone connected and silent
    idle_client_cpu: float = math.nan
    window_s: float = math.nan
    agent_cpu_s: float = math.nan
    livekit_cpu_s: float = math.nan
    client_cpu_s: float = math.nan
    other_cpu_s: float = math.nan
    lag_ms: list[float] = field(default_factory=list)
    dropped_lines: int = 0
    unspoken_lines: int = 0
    log_problems: list[str] = field(default_factory=list)
    agent_start_s: float = math.nan
    agent_ready: dict[str, float] = field(default_factory=dict)
    setup_s: float = math.nan
    speaking_s: float = math.nan
    drain_s: float = math.nan

    @property
    def all_ms(self) -> list[float]:
        """Mouth to ear of every (sentence, listener) heard."""
        return [value for values in self.ear_ms.values() for value in values]

    @property
    def heard(self) -> int:
        return len(self.all_ms)

    def p(self, q: float) -> float:
        return percentile(sorted(self.all_ms), q)

    def generator_behind(self, max_lag_ms: float) -> str | None:
        """Why this run's load generator (the rtc clients) fell behind, if it did."""
        lag = ms_stats(self.lag_ms)["p90"]
        if self.lag_ms and not lag <= max_lag_ms:
            return f"speaker push lag p90 {lag:.0f} ms > {max_lag_ms:.0f} ms"
        if self.window_s > 0 and self.client_cpu_s / self.window_s > CLIENT_CPU_BOUND:
            return (
                f"rtc clients used {self.client_cpu_s / self.window_s:.0%} of a core "
                f"(> {CLIENT_CPU_BOUND:.0%})"
            )
        return None

    def kept_up(self, bound_ms: float) -> bool:
        """Every sentence heard in time by both listeners, no audio dropped, nothing unspoken."""
        return (
            self.skipped is None
            and self.taken == self.rooms
            and self.expected > 0
            and self.fully_heard == self.rooms * self.sentences
            and self.heard == self.expected
            and self.p(90) < bound_ms
            and self.dropped_lines == 0
            and self.unspoken_lines == 0
        )


async def run_rooms(
    server: LiveKitServer,
    label: str,
    plans: list[Plan],
    languages: tuple[str, ...],
    args: argparse.Namespace,
    workdir: Path,
) -> Outcome:
    """Run ``len(plans)`` rooms at once with a fresh agent process; read its store afterwards."""
    rooms = len(plans)
    outcome = Outcome(label, rooms, languages, len(plans[0].sentences))
    codes = [f"{label}-{k}" for k in range(rooms)]
    members = [
        (code, user, language)
        for k, code in enumerate(codes)
        for user, language in [(f"s{k}", SPEAKER_LANG), *((f"{g}{k}", g) for g in languages)]
    ]
    db = workdir / f"{label}.db"
    config = AgentConfig(server.url, server.api_key, server.api_secret, str(db), members)
    agent = await AgentProcess.start(config, workdir / f"{label}-agent.log")
    outcome.agent_start_s, outcome.agent_ready = agent.started_s, agent.ready
    people: list[RoomPeople] = []
    rtc_rooms: list[rtc.Room] = []
    try:
        began = time.monotonic()
        await open_rooms(outcome, server, codes, plans, people, rtc_rooms)
        outcome.opened = len(people)
        outcome.setup_s = time.monotonic() - began
        await idle(outcome, agent)
        await measure(outcome, people, agent, server, args)
    finally:
        # Never cancelled: cancelling LiveKit's native calls in flight makes it panic.
        await asyncio.gather(*(room.disconnect() for room in rtc_rooms), return_exceptions=True)
        for room in people:
            for ear in room.ears.values():
                await ear.leave()
        await agent.stop()
        log = agent.log()
        outcome.dropped_lines = log.count(DROPPED_AUDIO)
        outcome.unspoken_lines = log.count(UNSPOKEN)
        outcome.log_problems = [
            line for line in log.splitlines() if " WARNING " in line or " ERROR " in line
        ]
    analyse(outcome, db, people)
    return outcome


async def open_rooms(
    outcome: Outcome,
    server: LiveKitServer,
    codes: Sequence[str],
    plans: Sequence[Plan],
    people: list[RoomPeople],
    rtc_rooms: list[rtc.Room],
) -> None:
    """Open the rooms one after the other, as rooms open: people join, then the agent.

    Stops at the first room the agent does not take in time; that room's people
    stay (they speak and hear nothing), later rooms are not opened.
    """
    async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
        for k, code in enumerate(codes):
            room = await connect_room(server, code, k, plans[k], outcome.languages, rtc_rooms)
            people.append(room)
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=AGENT_NAME, room=code)
            )
            waits = [room.speaker.subscribed, *(e.subscribed for e in room.ears.values())]
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(w.wait() for w in waits)), ROOM_SETUP_TIMEOUT_S
                )
            except TimeoutError:
                outcome.setup_problem = (
                    f"the agent took {k} of {len(codes)} rooms: room {k + 1} not listened to "
                    f"and its tracks not subscribed within {ROOM_SETUP_TIMEOUT_S:g} s"
                )
                return
            outcome.taken += 1


async def idle(outcome: Outcome, agent: AgentProcess) -> None:
    """The agent's and the clients' CPU while everyone is connected and silent."""
    marks = (agent.cpu_s(), common.own_cpu_seconds())
    await asyncio.sleep(IDLE_S)
    outcome.idle_agent_cpu = (agent.cpu_s() - marks[0]) / IDLE_S
    outcome.idle_client_cpu = (common.own_cpu_seconds() - marks[1]) / IDLE_S


async def connect_room(
    server: LiveKitServer,
    code: str,
    k: int,
    plan: Plan,
    languages: Sequence[str],
    rtc_rooms: list[rtc.Room],
) -> RoomPeople:
    """The speaker and the listeners of one room, connected (noted in ``rtc_rooms`` at once)."""
    speaker = await Speaker.join(server, code, f"s{k}")
    rtc_rooms.append(speaker.room)
    ears: dict[str, Ear] = {}
    for language in languages:
        ears[language] = await Ear.join(server, code, f"{language}{k}", track_name(language))
        rtc_rooms.append(ears[language].room)
    return RoomPeople(code, speaker, ears, plan)


async def measure(
    outcome: Outcome,
    people: list[RoomPeople],
    agent: AgentProcess,
    server: LiveKitServer,
    args: argparse.Namespace,
) -> None:
    """Speak every room's plan at once (staggered), wait for the last speech, note the CPU."""
    assert server.process is not None
    start = time.monotonic() + 0.5
    marks = (
        agent.cpu_s(),
        common.tree_cpu_seconds(server.process.pid),
        common.own_cpu_seconds(),  # no child exits in the window: this process alone
        common.system_busy_seconds(),
    )
    await asyncio.gather(
        *(
            speak(
                room.speaker.source, room.plan, start + k * args.stagger, room.pushed_at, room.lag
            )
            for k, room in enumerate(people)
        )
    )
    spoken = time.monotonic()
    ears = [ear for room in people for ear in room.ears.values()]
    while True:  # until nothing was heard for --quiet s (or --drain s in all)
        now = time.monotonic()
        last = max([spoken, *(ear.loud_at[-1] for ear in ears if ear.loud_at)])
        if now - last >= args.quiet or now - spoken >= args.drain:
            break
        await asyncio.sleep(0.1)
    ended = time.monotonic()
    agent_cpu = agent.cpu_s() - marks[0]
    livekit_cpu = common.tree_cpu_seconds(server.process.pid) - marks[1]
    client_cpu = common.own_cpu_seconds() - marks[2]
    busy = common.system_busy_seconds() - marks[3]
    outcome.window_s = ended - start
    outcome.speaking_s = spoken - start
    outcome.drain_s = ended - spoken
    outcome.agent_cpu_s = agent_cpu
    outcome.livekit_cpu_s = livekit_cpu
    outcome.client_cpu_s = client_cpu
    outcome.other_cpu_s = max(0.0, busy - agent_cpu - livekit_cpu - client_cpu)
    outcome.lag_ms = [lag * 1000 for room in people for lag in room.lag]


Final = tuple[float, str, str]
"""A final transcript: when it was recorded (monotonic), its id and its text."""


@dataclass
class RoomLog:
    """What the store holds about one room, times on this process's monotonic clock."""

    finals: list[Final] = field(default_factory=list)
    translations: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    spoken: set[tuple[str, str]] = field(default_factory=set)  # (transcript id, language)


def read_rooms(db: Path, codes: Sequence[str]) -> dict[str, RoomLog]:
    """The transcripts, translations and syntheses of each room, from the run's store."""
    offset = time.time() - time.monotonic()

    def monotonic(moment: datetime) -> float:
        return moment.timestamp() - offset

    store = EventStore.open(str(db))
    try:
        rooms: dict[str, RoomLog] = {}
        for code in codes:
            found = rooms[code] = RoomLog()
            for recorded in store.read_room(code):
                event = recorded.event
                if isinstance(event, Room.TranscriptRecognized):
                    found.finals.append(
                        (monotonic(event.timestamp), str(event.transcript_id), event.text)
                    )
                elif isinstance(event, TranslationProduced):
                    key = (str(event.transcript_id), event.target_language)
                    found.translations[key] = (recorded.position, monotonic(event.timestamp))
                elif isinstance(event, SpeechSynthesized) and event.audio_ms > 0:
                    found.spoken.add((str(event.transcript_id), event.language))
        return rooms
    finally:
        store.close()


def analyse(outcome: Outcome, db: Path, people: list[RoomPeople]) -> None:
    """Tie each sentence to its final, its translations and the bursts they were heard as."""
    logs = read_rooms(db, [room.code for room in people])
    unopened = outcome.rooms - len(people)
    outcome.no_agent += unopened * outcome.sentences * len(outcome.languages)
    outcome.expected += unopened * outcome.sentences * len(outcome.languages)
    for position, room in enumerate(people):
        if position >= outcome.taken:  # opened, but the agent did not take it in time
            outcome.no_agent += outcome.sentences * len(room.ears)
            outcome.expected += outcome.sentences * len(room.ears)
            continue
        log = logs[room.code]
        matched, unmatched = match_finals(log.finals, room.plan, room.pushed_at)
        outcome.unmatched_finals += unmatched
        heard_as: dict[str, dict[str, tuple[float, bool]]] = {
            language: speech_onsets(log, language, ear.bursts())
            for language, ear in room.ears.items()
        }
        for index, sentence in enumerate(room.plan.sentences):
            outcome.words += len(sentence.words)
            outcome.expected += len(room.ears)
            finals = matched.get(index, [])
            if not finals:
                outcome.no_final += len(room.ears)
                outcome.edits += len(sentence.words)
                continue
            outcome.splits += len(finals) - 1
            hypothesis = " ".join(text for *_, text in finals)
            error = word_error_rate(sentence.text, hypothesis)
            outcome.edits += error * len(sentence.words)
            if error > 0 and len(outcome.examples) < 3:
                outcome.examples.append((sentence.text, hypothesis))
            end_of_speech = room.pushed_at[sentence.last_chunk]
            final_at, final_id, _ = finals[-1]
            note_step(outcome, outcome.final_ms, final_at - end_of_speech)
            heard_by = 0
            for language in room.ears:
                translation = log.translations.get((final_id, language))
                if translation is not None and language == next(iter(room.ears)):
                    note_step(outcome, outcome.translation_ms, translation[1] - end_of_speech)
                onset = heard_as[language].get(final_id)
                if translation is None or (final_id, language) not in log.spoken:
                    outcome.unspoken += 1
                elif onset is None:
                    outcome.unmatched_speech += 1
                elif onset[0] < end_of_speech:  # not this sentence's speech: misattributed
                    outcome.before_speech_end += 1
                    outcome.unmatched_speech += 1
                else:
                    heard_at, waited = onset
                    outcome.ear_ms.setdefault(language, []).append(
                        (heard_at - end_of_speech) * 1000
                    )
                    outcome.queued += waited
                    heard_by += 1
            outcome.fully_heard += heard_by == len(room.ears)


def note_step(outcome: Outcome, steps: list[float], seconds: float) -> None:
    """Keep a step time read from store timestamps; one before the end of speech is set aside.

    Store timestamps are wall-clock and the end of speech is on this process's
    monotonic clock; a step that would be negative is not a latency (a final made
    before the sentence ended, or clocks apart), so it is counted, not averaged in.
    """
    if seconds < 0:
        outcome.before_speech_end += 1
    else:
        steps.append(seconds * 1000)


def match_finals(
    finals: list[Final], plan: Plan, pushed_at: list[float]
) -> tuple[dict[int, list[Final]], list[str]]:
    """Each final's sentence, by order and words (``voice.attribute``), then by order alone.

    A garbled final (tiny.en once heard "The Hoover J") matches no sentence by its
    words; it still is the transcript of the one sentence its neighbours leave
    without a final, and its translation is what the listeners hear for that sentence.
    """
    matched, _ = attribute(finals, plan, pushed_at)
    sentence_of = {final[1]: index for index, group in matched.items() for final in group}
    unmatched: list[str] = []
    for position, final in enumerate(finals):
        if final[1] in sentence_of:
            continue
        before = max(
            (sentence_of[f[1]] for f in finals[:position] if f[1] in sentence_of), default=-1
        )
        after = min(
            (sentence_of[f[1]] for f in finals[position + 1 :] if f[1] in sentence_of),
            default=len(plan.sentences),
        )
        gap = before + 1  # the only sentence between the neighbours', if they leave one
        fits = after - before == 2 and not matched.get(gap)
        if fits and pushed_at[plan.sentences[gap].first_chunk] <= final[0]:
            matched[gap] = [final]
            sentence_of[final[1]] = gap
        else:
            unmatched.append(final[2])
    return matched, unmatched


def speech_onsets(
    log: RoomLog, language: str, heard: list[tuple[float, float]]
) -> dict[str, tuple[float, bool]]:
    """For each spoken translation into ``language``: when its speech began to be heard.

    Translations are taken in the order recorded (the order the agent speaks them);
    each gets the first burst starting after it was recorded and after the previous
    one's. The flag says its speech waited for the previous burst to finish playing.
    """
    spoken = sorted(
        (position, recorded, transcript)
        for (transcript, target), (position, recorded) in log.translations.items()
        if target == language and (transcript, language) in log.spoken
    )
    onsets: dict[str, tuple[float, bool]] = {}
    index = 0
    for _, recorded, transcript in spoken:
        while index < len(heard) and heard[index][0] <= recorded:
            index += 1
        if index == len(heard):
            break
        waited = index > 0 and heard[index - 1][1] > recorded
        onsets[transcript] = (heard[index][0], waited)
        index += 1
    return onsets


# ================================================================ reports


def report_run(outcome: Outcome, args: argparse.Namespace) -> None:
    """Print one run's figures."""
    if outcome.skipped is not None:
        print(f"  skipped: {outcome.skipped}")
        return
    ready = outcome.agent_ready
    print(
        f"  agent process ready in {outcome.agent_start_s:.1f} s (engines loaded "
        f"{ready.get('load_s', math.nan):.1f} s, warmed {ready.get('warm_s', math.nan):.1f} s); "
        f"{outcome.opened} room(s) opened one after the other (people join, the agent is "
        f"dispatched, listens and publishes) in {outcome.setup_s:.1f} s"
    )
    if outcome.setup_problem is not None:
        print(f"  WARNING: {outcome.setup_problem}")
    print(
        f"  idle (everyone connected, nobody speaking, {IDLE_S:g} s): agent process "
        f"{outcome.idle_agent_cpu:.0%} of a core "
        f"({outcome.idle_agent_cpu / max(1, outcome.taken):.0%} per room), rtc clients "
        f"{outcome.idle_client_cpu:.0%}"
    )
    print(
        f"  {outcome.opened} speaker(s) x {outcome.sentences} sentences over "
        f"{outcome.speaking_s:.0f} s (starts {args.stagger:g} s apart), then "
        f"{outcome.drain_s:.1f} s until {args.quiet:g} s without speech"
    )
    print("  end of speech -> first loud frame of its translation's speech:")
    for language, values in outcome.ear_ms.items():
        print(f"    {language} listener(s)  {fmt(values)}")
    if len(outcome.ear_ms) > 1:
        print(f"    all           {fmt(outcome.all_ms)}")
    print(
        f"    steps (store timestamps): end of speech -> final recorded {fmt(outcome.final_ms)};"
        f" -> {outcome.languages[0]} translation recorded {fmt(outcome.translation_ms)}"
    )
    not_heard = outcome.expected - outcome.heard
    print(
        f"  heard {outcome.heard}/{outcome.expected} (sentence, listener)"
        + (
            f"; not heard: {not_heard} (room without agent {outcome.no_agent}, no final "
            f"{outcome.no_final}, translation not made or not spoken {outcome.unspoken}, "
            f"spoken but no audio found {outcome.unmatched_speech})"
            if not_heard
            else ""
        )
        + f"; {outcome.queued} waited for the previous translation to finish playing"
    )
    print(
        f"  word error rate {outcome.edits / max(1, outcome.words):.1%} over {outcome.words} "
        f"words (finals read from the store); cut in two by the VAD {outcome.splits}; "
        f"finals matching no sentence {len(outcome.unmatched_finals)}"
        + (f" {outcome.unmatched_finals[:2]}" if outcome.unmatched_finals else "")
    )
    for reference, hypothesis in outcome.examples[:2]:
        print(f"    e.g. {reference!r} -> {hypothesis!r}")
    window = outcome.window_s
    print(
        f"  CPU over {window:.0f} s ({os.cpu_count()} cores): agent process (+children) "
        f"{outcome.agent_cpu_s:.1f} core-s ({outcome.agent_cpu_s / window:.0%} of a core, "
        f"{outcome.agent_cpu_s / window / max(1, outcome.taken):.0%} per room), livekit-server "
        f"{outcome.livekit_cpu_s / window:.0%}, rtc clients (this process) "
        f"{outcome.client_cpu_s / window:.0%}, other processes {outcome.other_cpu_s / window:.0%}"
        + ("; WARNING: machine busy with other work" if outcome.other_cpu_s / window > 0.1 else "")
    )
    lag = ms_stats(outcome.lag_ms)
    print(
        f"  speaker push lag p50 {num(lag['p50'], '.1f')} ms, p90 {num(lag['p90'], '.1f')} ms, "
        f"max {num(lag['max'], '.1f')} ms"
    )
    if outcome.before_speech_end:
        print(
            f"  set aside: {outcome.before_speech_end} step time(s) before the end of speech "
            f"(a final or sound attributed to the wrong sentence, or clocks apart)"
        )
    print(
        f"  agent log: {outcome.dropped_lines} 'audio dropped', {outcome.unspoken_lines} "
        f"'not speaking one'; {len(outcome.log_problems)} warning/error line(s)"
        + (f", first: {outcome.log_problems[0][:220]}" if outcome.log_problems else "")
    )
    behind = outcome.generator_behind(args.max_push_lag_ms)
    if behind is not None:
        print(
            f"  => REFUSED with {outcome.rooms} room(s): generator fell behind — not a system "
            f"figure ({behind})",
            flush=True,
        )
        return
    verdict = "KEPT UP" if outcome.kept_up(args.keep_up_ms) else "DID NOT KEEP UP"
    print(
        f"  => {verdict} with {outcome.rooms} room(s) (p90 {num(outcome.p(90))} ms vs "
        f"{args.keep_up_ms:.0f} ms; sentences heard by every listener {outcome.fully_heard}/"
        f"{outcome.rooms * outcome.sentences}, (sentence, listener) {outcome.heard}/"
        f"{outcome.expected}; rooms taken by the agent {outcome.taken}/{outcome.rooms}; "
        f"dropped-audio lines {outcome.dropped_lines})",
        flush=True,
    )


def rooms_table(outcomes: list[Outcome], args: argparse.Namespace) -> str:
    """The concurrency runs side by side (CPU in cores: 100% is one core)."""
    lines = [
        "rooms | agent took | p50 ms | p90 ms | max ms | heard/expected | agent CPU idle | "
        "agent CPU | livekit CPU | clients CPU | other CPU | push lag p90 | dropped | keeps up"
    ]
    for o in outcomes:
        if o.skipped is not None:
            lines.append(f"{o.rooms:5d} | skipped: {o.skipped}")
            continue
        behind = o.generator_behind(args.max_push_lag_ms)
        if behind is not None:
            lines.append(f"{o.rooms:5d} | generator fell behind — not a system figure ({behind})")
            continue
        w = o.window_s
        lines.append(
            f"{o.rooms:5d} | {o.taken:>10d} | {o.p(50):6.0f} | {o.p(90):6.0f} | {o.p(100):6.0f}"
            f" | {o.heard:>6d}/{o.expected:<7d} | {o.idle_agent_cpu:14.0%} | "
            f"{o.agent_cpu_s / w:9.0%} | {o.livekit_cpu_s / w:11.0%} | "
            f"{o.client_cpu_s / w:11.0%} | {o.other_cpu_s / w:9.0%} | "
            f"{ms_stats(o.lag_ms)['p90']:9.0f} ms | {o.dropped_lines:7d} | "
            f"{'yes' if o.kept_up(args.keep_up_ms) else 'NO'}"
        )
    return "\n".join(lines)


def summary_rows(
    transport_ms: list[float], mouth: Outcome, outcomes: list[Outcome], args: argparse.Namespace
) -> list[Row]:
    """The headline figures, each with its same-run baseline, for run_all.py."""
    transport = percentile(sorted(transport_ms), 50)
    rows = [
        Row(
            "livekit",
            "mouth to ear over LiveKit p50 (1 room, en speaker -> es listener)",
            "<= 800 ms",
            f"{num(mouth.p(50))} ms (p90 {num(mouth.p(90))}, max {num(mouth.p(100))}, heard "
            f"{mouth.heard}/{mouth.expected})",
            f"LiveKit one-way audio {num(transport)} ms p50 (n={len(transport_ms)}); mouth to "
            f"ear crosses it twice: {num(2 * transport)} ms of it is LiveKit",
        ),
        Row(
            "livekit",
            "mouth to ear steps p50: end of speech -> final recorded / translation recorded",
            "-",
            f"{num(percentile(sorted(mouth.final_ms), 50))} ms / "
            f"{num(percentile(sorted(mouth.translation_ms), 50))} ms (store timestamps)",
            "-",
        ),
        Row(
            "livekit",
            "word error rate of the agent's finals (faster-whisper tiny.en)",
            "-",
            f"{mouth.edits / max(1, mouth.words):.1%} of {mouth.words} words",
            "-",
        ),
    ]
    ran = [
        o
        for o in outcomes
        if o.skipped is None and o.generator_behind(args.max_push_lag_ms) is None
    ]
    refused = [
        o.rooms
        for o in outcomes
        if o.skipped is None and o.generator_behind(args.max_push_lag_ms) is not None
    ]
    for rooms in refused:
        rows.append(
            Row(
                "livekit",
                f"{rooms} room(s)",
                "-",
                "generator fell behind — not a system figure",
                "-",
            )
        )
    if not ran:
        return rows
    kept = [o.rooms for o in ran if o.kept_up(args.keep_up_ms)]
    failed = [o.rooms for o in ran if not o.kept_up(args.keep_up_ms)]
    one = min(ran, key=lambda o: o.rooms)
    per_room = one.agent_cpu_s / one.window_s / max(1, one.taken)
    cores = os.cpu_count() or 1
    rows.append(
        Row(
            "livekit",
            f"concurrent rooms (en speaker, es + ca listeners) kept in real time on "
            f"{cores} cores (tried {', '.join(str(o.rooms) for o in outcomes)})",
            ">= 10",
            (f"{max(kept)} kept up" if kept else "none kept up")
            + (f"; not {', '.join(map(str, failed))}" if failed else "")
            + (f"; {', '.join(map(str, refused))} refused" if refused else "")
            + f" (every room taken, every sentence heard by both listeners, p90 < "
            f"{args.keep_up_ms:.0f} ms, no dropped audio)",
            f"~{cores / per_room:.0f} by the agent's CPU at {one.rooms} room(s) "
            f"({per_room:.0%} of a core per room, {one.idle_agent_cpu / max(1, one.taken):.0%} "
            f"idle) if it scaled linearly and had every core to itself",
        )
    )
    for o in ran:
        rows.append(
            Row(
                "livekit",
                f"{o.rooms} room(s): mouth to ear p50 / p90; heard",
                f"p90 < {args.keep_up_ms:.0f} ms",
                f"{o.p(50):.0f} / {o.p(90):.0f} ms; {o.heard}/{o.expected}; "
                + ("kept up" if o.kept_up(args.keep_up_ms) else "DID NOT keep up")
                + (f" ({o.setup_problem})" if o.setup_problem else ""),
                f"agent {o.agent_cpu_s / o.window_s:.2f} cores (idle {o.idle_agent_cpu:.2f}), "
                f"livekit-server {o.livekit_cpu_s / o.window_s:.2f}, "
                f"clients {o.client_cpu_s / o.window_s:.2f}",
            )
        )
    return rows


# ================================================================ main


def plans_for(rooms: int, count: int, gap_s: float, audio: dict[str, bytes]) -> list[Plan]:
    """Each room's speaker says ``count`` sentences, each room starting at another one."""
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


async def bench(
    args: argparse.Namespace, counts: list[int], workdir: Path, verdicts: common.Verdicts
) -> list[Row]:
    """Every run against one LiveKit server."""
    audio = sentence_audio(list(SENTENCES))
    server = BenchLiveKitServer(workdir)
    server.start()
    try:
        heading("baseline: LiveKit alone, one-way audio (click pushed -> first loud frame)", "-")
        transport = await transport_baseline(server, args.clicks)
        print(
            f"  {fmt(transport)}; {len(transport)}/{args.clicks} clicks heard "
            f"(20 ms at 16 kHz, one every {CLICK_EVERY_S:g} s between silent frames)",
            flush=True,
        )

        heading(f"mouth to ear: 1 room, {SPEAKER_LANG} speaker -> es listener", "-")
        mouth = await run_rooms(
            server,
            "mouth",
            plans_for(1, args.sentences, args.gap, audio),
            MOUTH_TO_EAR_LANGS,
            args,
            workdir,
        )
        report_run(mouth, args)
        two_hops = 2 * percentile(sorted(transport), 50)
        if mouth.heard and two_hops < mouth.p(50):
            vad_wait = SegmenterConfig().min_silence_ms
            print(
                f"  of the p50 {mouth.p(50):.0f} ms, LiveKit's two hops take ~{two_hops:.0f} ms "
                f"(2 x the baseline p50); voicemode (VAD wait, STT, translation, synthesis, "
                f"agent) the other ~{mouth.p(50) - two_hops:.0f} ms, of which the VAD waits "
                f"for silence (min_silence_ms setting {vad_wait} ms; bench/voice.py measures "
                f"the wait itself) before it closes an utterance"
            )

        outcomes: list[Outcome] = []
        for rooms in counts:
            heading(
                f"{rooms} room(s) at once, each: a speaker ({SPEAKER_LANG}) and listeners in "
                f"{' and '.join(ROOM_LANGS)}",
                "-",
            )
            short = next((o for o in outcomes if o.taken < o.rooms), None)
            if short is not None:
                outcome = Outcome(f"rooms{rooms}", rooms, ROOM_LANGS, args.room_sentences)
                outcome.skipped = f"the agent could not take {short.rooms} rooms"
            else:
                outcome = await run_rooms(
                    server,
                    f"rooms{rooms}",
                    plans_for(rooms, args.room_sentences, args.gap, audio),
                    ROOM_LANGS,
                    args,
                    workdir,
                )
            report_run(outcome, args)
            outcomes.append(outcome)
        if outcomes:
            heading("concurrent rooms", "-")
            print(rooms_table(outcomes, args))
            kept = [
                o.rooms
                for o in outcomes
                if o.kept_up(args.keep_up_ms) and o.generator_behind(args.max_push_lag_ms) is None
            ]
            print(
                f"largest number of rooms that kept up: {max(kept) if kept else 'none'} "
                f"(goal >= 10)"
            )
        judge(transport, mouth, outcomes, args, verdicts)
        return summary_rows(transport, mouth, outcomes, args)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run the bench, print the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", default="1,4,6,8,10,12", help="room counts, one run each")
    parser.add_argument("--sentences", type=int, default=8, help="mouth to ear: sentences (1-10)")
    parser.add_argument(
        "--room-sentences", type=int, default=4, help="concurrent rooms: sentences per speaker"
    )
    parser.add_argument("--gap", type=float, default=2.0, help="silence after each sentence (s)")
    parser.add_argument("--stagger", type=float, default=0.4, help="start offset between rooms")
    parser.add_argument(
        "--keep-up-ms", type=float, default=2000.0, help="p90 mouth to ear bound of keeping up"
    )
    parser.add_argument("--clicks", type=int, default=20, help="baseline: clicks timed")
    parser.add_argument(
        "--quiet", type=float, default=3.0, help="a run ends after this long without speech (s)"
    )
    parser.add_argument(
        "--drain", type=float, default=20.0, help="... or this long after the speakers stopped"
    )
    parser.add_argument(
        "--max-push-lag-ms",
        type=float,
        default=20.0,
        help="a run whose speakers pushed their frames later than this (p90) is refused: the "
        "generator fell behind, so its figures are not the system's",
    )
    parser.add_argument("--quick", action="store_true", help="rooms 1,4 and fewer sentences")
    common.add_smoke_flag(parser, "baseline and mouth to ear, 2 sentences")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (stores, logs)")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--agent-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.agent_child is not None:
        return agent_main(args.agent_child)
    if args.quick:
        for name, value in QUICK.items():
            if parser.get_default(name) == getattr(args, name):
                setattr(args, name, value)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    counts = sorted({int(n) for n in str(args.rooms).split(",") if n.strip()})
    if counts and min(counts) < 1:
        parser.error("--rooms needs positive counts")
    for name in ("sentences", "room_sentences"):
        if not 1 <= getattr(args, name) <= len(SENTENCES):
            parser.error(f"--{name.replace('_', '-')} must be 1-{len(SENTENCES)}")

    began = time.monotonic()
    heading(
        "bench/livekit_rooms.py: voice over a real LiveKit server, in real time"
        + " (smoke)" * args.smoke
    )
    verdicts = common.Verdicts("livekit")
    print(machine_note("the LiveKit server, the agent process and the rtc clients share them"))
    load = common.OtherLoad()
    workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-livekit-"))
    print(f"Work dir (stores, agent and LiveKit logs): {workdir}", flush=True)
    try:
        rows = asyncio.run(bench(args, counts, workdir, verdicts))
    finally:
        if args.keep:
            print(f"Kept the work dir: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    heading("Summary", "-")
    print(common.markdown_table(rows))
    machine_load = load.report()
    print(machine_load)
    print(f"Total run time {time.monotonic() - began:.0f} s.")
    common.write_results(
        args.results,
        rows,
        {"machine_load": machine_load, "failures": verdicts.failures, "goals": verdicts.goals},
    )
    return verdicts.finish()


def judge(
    transport: list[float],
    mouth: Outcome,
    outcomes: list[Outcome],
    args: argparse.Namespace,
    verdicts: common.Verdicts,
) -> None:
    """Fail what was not measured (the headline runs); print the goal verdicts."""
    verdicts.finite("LiveKit one-way audio p50 (baseline)", percentile(sorted(transport), 50))
    behind = mouth.generator_behind(args.max_push_lag_ms)
    if behind is not None:
        verdicts.fail(f"mouth to ear: generator fell behind ({behind}): not a system figure")
    elif verdicts.finite("mouth to ear p50", mouth.p(50)):
        if mouth.heard < mouth.expected:
            verdicts.fail(f"mouth to ear: heard {mouth.heard} of {mouth.expected} sentences")
        verdicts.goal(
            "mouth to ear over LiveKit p50",
            mouth.p(50) <= 800,
            f"{mouth.p(50):.0f} ms (goal <= 800 ms)",
        )
    if outcomes:
        kept = [
            o.rooms
            for o in outcomes
            if o.kept_up(args.keep_up_ms) and o.generator_behind(args.max_push_lag_ms) is None
        ]
        verdicts.goal(
            "concurrent rooms kept in real time",
            max(kept, default=0) >= 10,
            f"{max(kept, default=0)} (goal >= 10)",
        )


if __name__ == "__main__":
    raise SystemExit(main())
