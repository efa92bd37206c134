"""The agent worker: LiveKit dispatches one job per room, each job runs a VoiceAgent.

The worker registers with the LiveKit server under an agent name, so it is
dispatched explicitly (voicemode asks for an agent in a room through the
agent dispatch API) rather than to every room. Jobs run on threads of this
process (``JobExecutorType.THREAD``), not in child processes: every job then
shares the speech engines loaded once here (the Whisper model, the VAD), and
the job's entry point, a closure over them, is never pickled.

The worker's health port also answers ``GET /metrics`` with the worker's
Prometheus metrics (:mod:`~adapters.shells.livekit_agent.metrics`), and each
job measures its room's media every few seconds
(:mod:`~adapters.shells.livekit_agent.media_watch`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from livekit.agents import AgentServer, AutoSubscribe, JobContext, JobExecutorType
from livekit.agents.utils.http_server import HttpServer
from livekit.protocol.agent import Job

from actors.agent_messages import DEFAULT_AGENT_NAME, ControlPlane, ControlPlaneError
from actors.service import SpeechStack
from adapters.shells.exposition import METRICS_PATH, exposition_handler
from adapters.shells.livekit_agent.agent import AgentSettings, VoiceAgent
from adapters.shells.livekit_agent.load import ProcessLoad
from adapters.shells.livekit_agent.media_watch import DEFAULT_INTERVAL_S, MediaWatch
from adapters.shells.livekit_agent.metrics import AgentMetrics
from adapters.shells.livekit_agent.room_cpu import CpuLedger
from adapters.shells.livekit_agent.streams import hear_own_room_only

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 60
LOOP_MONITOR_SETTING = "LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS"
"""livekit-agents watches each job's event loop for blocking calls with a heartbeat
every 20 ms and a watchdog thread per job: two wake-ups per tick in every room,
about 3 % of a core per idle room here. voicemode runs no blocking work on a
job's loop, so the monitor is off ("0") unless the operator sets this."""
DEFAULT_LOAD_THRESHOLD = 0.7
"""LiveKit's own production default."""
ControlPlaneFactory = Callable[[], ControlPlane]
"""Makes the control plane of one job (each job runs on its own event loop)."""
OnRegistered = Callable[[], Awaitable[None]]
"""Called each time the worker (re)registers with LiveKit and can take rooms."""


@dataclass(frozen=True)
class MediaReporting:
    """What each job's media measurements go to, shared by the worker's jobs."""

    metrics: AgentMetrics
    ledger: CpuLedger
    interval_s: float = DEFAULT_INTERVAL_S


class MeteredAgentServer(AgentServer):
    """An AgentServer whose health port also serves ``GET /metrics``.

    livekit-agents makes its health server inside ``run()`` and starts it a
    few lines later, with no hook in between (its own ``prometheus_port``
    opens a second port, serving only the process-global registry). The
    server is assigned to ``_http_server``; this property adds the route on
    assignment, before the app is frozen. ``tests/test_metrics_agent.py``
    scrapes it, so a livekit-agents upgrade that renames the attribute fails
    there rather than silently serving no metrics.
    """

    def __init__(self, metrics: AgentMetrics, **options: Any) -> None:
        self.metrics = metrics
        super().__init__(**options)

    @property
    def _http_server(self) -> HttpServer | None:
        return self.__dict__.get("_metered_http_server")

    @_http_server.setter
    def _http_server(self, server: HttpServer | None) -> None:
        if server is not None:
            server.app.add_routes(
                [web.get(METRICS_PATH, exposition_handler(self.metrics.registry))]
            )
        self.__dict__["_metered_http_server"] = server


def room_code_of(job: Job) -> str:
    """The voicemode room a job serves.

    The dispatch's metadata may name it (``{"roomCode": "..."}``) when the
    LiveKit room has a name of its own; otherwise the LiveKit room's name is
    the room code.
    """
    try:
        metadata = json.loads(job.metadata) if job.metadata else {}
    except ValueError:
        metadata = {}
    code = metadata.get("roomCode") if isinstance(metadata, dict) else None
    return code if isinstance(code, str) and code else job.room.name


def build_agent_server(
    livekit_url: str,
    api_key: str,
    api_secret: str,
    control_plane_factory: ControlPlaneFactory,
    *,
    speech: SpeechStack,
    agent_name: str = DEFAULT_AGENT_NAME,
    settings: AgentSettings | None = None,
    http_port: int = 0,
    load_threshold: float = DEFAULT_LOAD_THRESHOLD,
    metrics: AgentMetrics | None = None,
    media_interval_s: float = DEFAULT_INTERVAL_S,
) -> MeteredAgentServer:
    """A LiveKit agent server whose jobs run VoiceAgents; ``run()`` it to serve.

    Args:
        livekit_url: the LiveKit server (``ws://`` or ``wss://``).
        api_key: the API key the worker registers with.
        api_secret: its secret.
        control_plane_factory: the channel to voicemode, one per job.
        speech: the engines every job shares.
        agent_name: the name voicemode dispatches the agent by.
        settings: the agents' tunables.
        http_port: the worker's health-check port (0: any free port).
        load_threshold: the worker's own CPU use (0-1 of its cores, see
            :mod:`~adapters.shells.livekit_agent.load`) above which the worker
            takes no new rooms, leaving them to other workers; ``math.inf``
            for a lone worker, which must take every room.
        metrics: the worker's metrics (None: its own), served on ``http_port``.
        media_interval_s: how often each job measures its room's media.
    """
    os.environ.setdefault(LOOP_MONITOR_SETTING, "0")
    media = MediaReporting(metrics or AgentMetrics(), CpuLedger(), media_interval_s)
    server = MeteredAgentServer(
        media.metrics,
        job_executor_type=JobExecutorType.THREAD,
        ws_url=livekit_url,
        api_key=api_key,
        api_secret=api_secret,
        port=http_port,
        load_threshold=load_threshold,
        load_fnc=ProcessLoad(),
        num_idle_processes=1,
    )

    async def entrypoint(ctx: JobContext) -> None:
        await run_job(ctx, control_plane_factory(), speech, settings, media)

    server.rtc_session(entrypoint, agent_name=agent_name)
    return server


async def run_job(
    ctx: JobContext,
    control: ControlPlane,
    speech: SpeechStack,
    settings: AgentSettings | None = None,
    media: MediaReporting | None = None,
) -> None:
    """Join the job's room and serve it until the job shuts down.

    The connection is shielded: cancelling Room.connect() while it is in
    flight makes LiveKit's native layer panic and takes the whole worker
    down, so a job cancelled then lets the connection finish instead. Once
    connected, the room's loop stops being woken by other rooms' events
    (:mod:`~adapters.shells.livekit_agent.streams`). The job ends when the
    channel to voicemode is lost for good. With ``media``, the room's media
    is measured and reported while the job runs.
    """
    connecting = asyncio.ensure_future(ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE))
    await asyncio.shield(connecting)
    hear_own_room_only(ctx.room)
    agent = VoiceAgent(ctx.room, room_code_of(ctx.job), control, speech, settings)
    ctx.add_shutdown_callback(agent.aclose)
    try:
        await agent.start()
    except ControlPlaneError as error:
        log.error("voicemode refused the agent for %s: %s", agent.room_code, error)
        ctx.shutdown(reason=error.code)
        return
    watching = asyncio.create_task(_leave_when_lost(ctx, control, agent.room_code))
    if media is not None:
        watch = MediaWatch(
            ctx.room, agent.room_code, control, media.metrics, media.ledger, media.interval_s
        )
        watch.start()
        ctx.add_shutdown_callback(watch.aclose)

    async def stop_watching() -> None:
        watching.cancel()

    ctx.add_shutdown_callback(stop_watching)


async def _leave_when_lost(ctx: JobContext, control: ControlPlane, room_code: str) -> None:
    """A deaf agent must not hold the room: leave, so voicemode dispatches a fresh one."""
    reason = await control.wait_lost()
    log.error("%s: lost the channel to voicemode (%s); leaving the room", room_code, reason)
    ctx.shutdown(reason="control_plane_lost")


def run_worker(
    livekit_url: str,
    api_key: str,
    api_secret: str,
    control_plane_factory: ControlPlaneFactory,
    *,
    speech: SpeechStack,
    agent_name: str = DEFAULT_AGENT_NAME,
    settings: AgentSettings | None = None,
    http_port: int = 0,
    load_threshold: float = DEFAULT_LOAD_THRESHOLD,
    on_registered: OnRegistered | None = None,
    metrics: AgentMetrics | None = None,
) -> None:
    """Serve agent jobs until SIGINT or SIGTERM, then let running jobs finish.

    Blocking; the body of a ``voicemode agent`` command. ``on_registered``
    runs each time the worker registers with LiveKit (also after it lost
    LiveKit and came back).
    """
    server = build_agent_server(
        livekit_url,
        api_key,
        api_secret,
        control_plane_factory,
        speech=speech,
        agent_name=agent_name,
        settings=settings,
        http_port=http_port,
        load_threshold=load_threshold,
        metrics=metrics,
    )
    asyncio.run(_serve_until_signalled(server, on_registered))


async def _serve_until_signalled(server: AgentServer, on_registered: OnRegistered | None) -> None:
    loop = asyncio.get_running_loop()
    announcing: set[asyncio.Task[None]] = set()

    def registered(*_: object) -> None:
        if on_registered is not None:
            task = asyncio.ensure_future(on_registered())
            announcing.add(task)
            task.add_done_callback(_announced)
            task.add_done_callback(announcing.discard)

    server.on("worker_registered", registered)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(server.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not running.done():
        try:
            await server.drain(timeout=DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("agent jobs still running after %d s; stopping them", DRAIN_TIMEOUT_S)
        await server.aclose()
    await running


def _announced(task: asyncio.Task[None]) -> None:
    """An announcement that fails is logged; voicemode retries dispatches on its own anyway."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("could not tell voicemode this worker is ready: %s", error)
