"""voicemode and its LiveKit agent in one child process, for bench/assistant_livekit.py.

The child runs a ``VoiceService`` on a new SQLite store with the embedded engines
(faster-whisper tiny.en and espeak-ng from ``runtime.build_speech``, Apertium from
``adapters.engines.translation.engines.build``) and the LiveKit agent worker
(``adapters.shells.livekit_agent.worker.build_agent_server``: thread executor,
``DirectControlPlane``, ``load_threshold=inf`` as the only worker). The members join the
voicemode rooms there first, as the WebSocket gateway would make them (with the assistant:
in a voice session with ``assistant: true``). The child warms its engines (one decode, one
translation per language, one synthesis) and says it is ready once the worker registered.
A process of its own, so its CPU (with its Apertium and espeak-ng children) is the agent's
alone. The bench dispatches the agent itself (``CreateAgentDispatchRequest`` to
:data:`AGENT_NAME`).

bench/livekit_rooms.py no longer uses it: it runs ``voicemode serve`` and ``voicemode agent``
as deployed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import common
from voice import WARMUP_SENTENCE

from actors.messages import Accepted, Refused, StartVoiceSession
from actors.service import ServiceSettings, SpeechStack, VoiceService
from adapters.engines.translation import engines as translation_engines
from adapters.engines.translation.registry import TranslationRegistry
from adapters.settings import assistant_config
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent.worker import build_agent_server
from events.store import EventStore
from runtime import build_assistant, build_speech
from tests.support.rtc_people import MIC_RATE
from tests.support.speech import to_float, trimmed
from tests.test_livekit_agent import join

SPEAKER_LANG = "en"
AGENT_NAME = "voicemode-bench"
TRANSLATION_TIMEOUT_S = 3.0
"""As ``voicemode serve`` by default (``VOICEMODE_TRANSLATION_TIMEOUT_S``)."""
STOP_TIMEOUT_S = 20.0
"""SIGTERM -> SIGKILL of the agent process (a job stuck connecting never ends by itself)."""


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


if __name__ == "__main__":
    raise SystemExit(agent_main(sys.argv[1]))
