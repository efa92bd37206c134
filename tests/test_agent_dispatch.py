"""Agent dispatch under load: a dispatch no worker takes is sent again at once, not after 20 s.

LiveKit's own server (v1.13.5) and real livekit-agents workers in this
process, whose jobs only attach their room (what a VoiceAgent does first):
the refusal happens in LiveKit, which offers no job to a full worker.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from livekit.agents import AgentServer, JobContext, JobExecutorType

from actors.projections.voice_rooms import ActiveVoiceRooms
from adapters.shells.agent_channel import AttachedAgents
from adapters.shells.livekit_agent.load import ProcessLoad, capped_load
from adapters.shells.livekit_agent.worker import room_code_of
from adapters.shells.livekit_api import LiveKitSettings
from adapters.shells.media_plane import LiveKitMediaPlane
from tests.support.livekit_server import LiveKitServer, livekit_server

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest


class VoiceRooms:
    """The rooms with an active voice session, as the test says (instead of the log)."""

    def __init__(self, rooms: set[str]) -> None:
        self.active = rooms

    def start(self) -> None:
        """Nothing to read."""

    def stop(self) -> None:
        """Nothing to stop."""

    def rooms(self) -> frozenset[str]:
        return frozenset(self.active)


def media_plane(
    livekit: LiveKitServer, agents: AttachedAgents, rooms: str | VoiceRooms, **options: Any
) -> LiveKitMediaPlane:
    """The media plane of ``serve``, with ``rooms`` (or this one room) in a voice session."""
    settings = LiveKitSettings(livekit.url, livekit.api_key, livekit.api_secret)
    voice = cast(ActiveVoiceRooms, VoiceRooms({rooms}) if isinstance(rooms, str) else rooms)
    return LiveKitMediaPlane(settings, lambda _changed: voice, agents, **options)


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


@asynccontextmanager
async def worker(
    livekit: LiveKitServer,
    agent_name: str,
    agents: AttachedAgents,
    load_threshold: float,
    load: Callable[[], float] | None = None,
) -> AsyncIterator[AgentServer]:
    """A registered worker whose jobs attach their room to ``agents``, as one connection each."""
    loop = asyncio.get_running_loop()
    connections = iter(range(secrets.randbelow(1000) * 1000, 10**9))

    async def entrypoint(ctx: JobContext) -> None:
        loop.call_soon_threadsafe(agents.claim, room_code_of(ctx.job), next(connections))

    server = AgentServer(
        job_executor_type=JobExecutorType.THREAD,
        ws_url=livekit.url,
        api_key=livekit.api_key,
        api_secret=livekit.api_secret,
        port=0,
        load_threshold=load_threshold,
        load_fnc=load,
        num_idle_processes=0,
    )
    server.rtc_session(entrypoint, agent_name=agent_name)
    registered = asyncio.Event()
    server.on("worker_registered", lambda *_: registered.set())
    running = asyncio.create_task(server.run())
    try:
        await asyncio.wait_for(registered.wait(), 30)
        yield server
    finally:
        await server.aclose()
        await running


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Wait for ``condition``; how long it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.slow
def test_a_refused_dispatch_is_sent_again_at_once_and_the_room_is_told(
    livekit_server: LiveKitServer,
) -> None:
    """The only worker is full, so LiveKit drops the job; a second worker gets the room in ~1 s."""
    agent_name = f"dispatch-{secrets.token_hex(4)}"
    room = "refused"

    async def scenario() -> None:
        agents = AttachedAgents()
        told: list[tuple[str, bool]] = []
        media = media_plane(
            livekit_server,
            agents,
            room,
            agent_name=agent_name,
            announce=lambda code, listening: told.append((code, listening)),
        )
        dispatched: list[float] = []
        dispatch = media.dispatch

        async def counted(code: str) -> None:
            dispatched.append(time.monotonic())
            await dispatch(code)

        media.dispatch = counted  # type: ignore[method-assign,assignment]
        await media.start()
        try:
            async with worker(livekit_server, agent_name, agents, load_threshold=0):
                media.voice_started(room)
                assert told == [(room, False)], "a session in a room without an agent hears so"
                # Refused (the worker is full), noticed within LiveKit's 3 s, sent again.
                await until(lambda: len(dispatched) >= 2, media.refusal_s + 2, "a second dispatch")
                assert dispatched[1] - dispatched[0] < media.refusal_s + 1.5
                await asyncio.sleep(6)
                assert agents.rooms() == frozenset(), "a full worker takes no room"
                assert len(dispatched) <= 5, f"a refusal loop backs off: {len(dispatched)} in 9 s"
                async with worker(livekit_server, agent_name, agents, load_threshold=math.inf):
                    agents.worker_ready()  # what `voicemode agent` says once registered
                    took = await until(lambda: room in agents.rooms(), 10, "the second worker")
                    assert took < 2.5, f"the room waited {took:.1f} s for an available worker"
                    assert told[-1] == (room, True)
        finally:
            await media.aclose()

    run(scenario)


@pytest.mark.slow
def test_a_worker_that_frees_up_gets_the_refused_room_without_the_grace(
    livekit_server: LiveKitServer,
) -> None:
    """No new worker: the full one drops below its threshold and the retries find it."""
    agent_name = f"dispatch-{secrets.token_hex(4)}"
    room = "freed"

    async def scenario() -> None:
        agents = AttachedAgents()
        media = media_plane(livekit_server, agents, room, agent_name=agent_name)
        await media.start()
        try:
            load = 1.0
            async with worker(livekit_server, agent_name, agents, 0.5, lambda: load):
                media.voice_started(room)
                await asyncio.sleep(media.refusal_s + 1)
                assert agents.rooms() == frozenset()
                load = 0.0
                # LiveKit hears of it at the worker's next status update (every 2.5 s).
                took = await until(lambda: room in agents.rooms(), 15, "the freed worker")
                assert took < 2.5 + media.refusal_s + media.backoff_max_s, took
        finally:
            await media.aclose()

    run(scenario)


@pytest.mark.slow
def test_a_lone_worker_on_a_saturated_machine_is_still_offered_rooms(
    livekit_server: LiveKitServer,
) -> None:
    """LiveKit offers nothing to a worker at load 1, whatever its threshold: workers report less."""
    agent_name = f"dispatch-{secrets.token_hex(4)}"
    room = "saturated"

    async def scenario() -> None:
        agents = AttachedAgents()
        voice = VoiceRooms(set())
        media = media_plane(livekit_server, agents, voice, agent_name=agent_name)
        await media.start()
        try:
            async with worker(livekit_server, agent_name, agents, math.inf, lambda: 1.0):
                await asyncio.sleep(3.5)  # LiveKit hears the load at the first status update
                voice.active.add(room)
                media.voice_started(room)
                await asyncio.sleep(media.refusal_s + 1)
                assert agents.rooms() == frozenset(), "LiveKit gave a worker at load 1 a room"
                voice.active.clear()
            capped = lambda: capped_load(1.0)  # noqa: E731
            async with worker(livekit_server, agent_name, agents, math.inf, capped):
                await asyncio.sleep(3.5)
                voice.active.add(room)
                agents.worker_ready()
                await until(lambda: room in agents.rooms(), 5, "the worker reporting 0.99")
        finally:
            await media.aclose()

    run(scenario)


def test_a_worker_reports_its_own_cpu_not_its_machines() -> None:
    """Two workers on one machine must not look alike to LiveKit: each tells its own load."""
    load = ProcessLoad()
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.5)
        while_another_process_burns = load()
    finally:
        burner.kill()
        burner.wait()
    load = ProcessLoad()  # measured from here: the reaped burner counts as our child
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        pass
    while_this_process_burns = load()
    assert while_another_process_burns < 0.15
    assert while_this_process_burns > 0.3
    assert capped_load(1.7) == 0.99
