"""Composition root and command line of voicemode.

``voicemode serve`` wires the event store, the actor system, the translation
engines and the WebSocket gateway; ``voicemode agent`` runs a LiveKit agent
worker that reaches ``serve`` over the agent channel; ``voicemode token``
signs a user token; ``voicemode replay`` explains a room's history from the
event log. What ``serve`` and ``agent`` read from flags and the environment
is read and checked in :mod:`adapters.settings`; each engine kind builds its
registry from names (``adapters.engines.<kind>.engines.build``).

The serving stack (actors, gateway, engines, aiohttp) is imported by the
functions that serve, not at module level: ``replay`` and ``token`` then start
in a tenth of the time, which matters for a replay of a million events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from actors.telemetry import NO_TELEMETRY, Telemetry
from adapters.engines.cores import usable_cores
from adapters.languages import UnknownLanguageError
from adapters.settings import DevSecrets, ServeSettings, serve_settings, worker_settings
from adapters.shells.auth import (
    AGENT_SECRET,
    ROLES,
    USER_ROLE,
    WeakSecretError,
    check_secret,
    issue_token,
    parse_ttl,
)
from adapters.startup import (
    EXIT_CONFIG,
    StartupError,
    check_ports,
    check_recordings,
    claim_store,
    port_error,
    store_error,
)
from events.parallel_replay import render
from events.store import EventStore
from events.timeline import (
    EVENT_TYPES,
    Timeline,
    TimelineFilter,
    UnknownEventTypeError,
    event_types,
    render_entry,
)

if TYPE_CHECKING:
    from aiohttp import web

    from actors.media import LiveKitWebhook
    from actors.recording import RecordingSettings
    from actors.service import AssistantStack, SpeechStack, VoiceService
    from actors.usecases import VoiceCore
    from adapters.settings import AssistantConfig, RecordConfig
    from adapters.shells.serve_metrics import ServeMetrics

log = logging.getLogger("voicemode")

DEFAULT_DB = "./voicemode.db"


def build_speech(
    stt_names: Sequence[str], tts_names: Sequence[str], telemetry: Telemetry = NO_TELEMETRY
) -> SpeechStack:
    """Create the speech engines named, in order of preference, and the shared VAD.

    ``telemetry`` is told how long each utterance waited for a recognition thread.

    Raises:
        StartupError: an engine or the detector cannot start; those already
            made are closed again.

    """
    from actors.pipeline import RecognitionPool, SpeechEngines  # noqa: PLC0415
    from actors.service import SpeechStack  # noqa: PLC0415
    from adapters.engines.stt import engines as stt  # noqa: PLC0415
    from adapters.engines.tts import engines as tts  # noqa: PLC0415
    from adapters.engines.vad import engines as vad  # noqa: PLC0415

    with contextlib.ExitStack() as on_failure:
        recognizers = stt.build(stt_names)
        on_failure.callback(recognizers.close)
        synthesizers = tts.build(tts_names)
        on_failure.callback(synthesizers.close)
        detector = vad.build()
        on_failure.pop_all()
    pool = RecognitionPool(usable_cores())
    return SpeechStack(
        SpeechEngines(detector, recognizers, pool, telemetry=telemetry), synthesizers
    )


def build_service(
    settings: ServeSettings, store: EventStore, telemetry: Telemetry = NO_TELEMETRY
) -> VoiceService:
    """Load the engines and start the actor system on a store; it reports to ``telemetry``."""
    from actors.service import ServiceSettings, VoiceService  # noqa: PLC0415
    from adapters.engines.translation import engines as translation  # noqa: PLC0415

    with contextlib.ExitStack() as on_failure:
        registry = translation.build(settings.translation_engines, settings.translation_timeout_s)
        on_failure.callback(registry.close)
        speech = (
            build_speech(settings.stt_engines, settings.tts_engines, telemetry)
            if settings.speech
            else None
        )
        assistant = build_assistant(settings.assistant) if settings.assistant else None
        on_failure.pop_all()
    return VoiceService(
        store,
        registry,
        ServiceSettings(away_grace=settings.away_grace),
        speech,
        assistant,
        telemetry,
        build_recording(settings.record) if settings.record is not None else None,
    )


def build_recording(config: RecordConfig) -> RecordingSettings:
    """Recording into a local directory (``--record-dir``), with its retention."""
    from actors.recording import RecordingSettings  # noqa: PLC0415
    from adapters.blobs.local import LocalDirectoryBlobStore  # noqa: PLC0415

    return RecordingSettings(LocalDirectoryBlobStore(config.directory), config.retention)


def build_assistant(config: AssistantConfig) -> AssistantStack:
    """Load the assistant's language models, in order of preference.

    Raises:
        StartupError: an engine cannot start (a missing key, no weights).
    """
    from actors.service import AssistantStack  # noqa: PLC0415
    from adapters.engines.llm import engines as llm  # noqa: PLC0415

    return AssistantStack(llm.build(config.llm_engines, config.llm_timeout_s), config.settings)


def shown_db(db: str) -> str:
    """The store's name as printed: a PostgreSQL URL without its password."""
    return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", db)


def open_store(db: str) -> EventStore:
    """Open the store and prove it takes writes, or raise a one-line StartupError.

    A corrupt or read-only file, a directory, an unreachable or read-only
    PostgreSQL server are found here rather than by the first client.
    """
    try:
        store = EventStore.open(db)
    except ValueError as error:  # a malformed postgresql:// URL
        raise StartupError(str(error), "Fix --db (VOICEMODE_DB).", EXIT_CONFIG) from error
    except Exception as error:
        log.debug("cannot open the event store", exc_info=True)
        raise store_error(shown_db(db), error) from error
    try:
        store.check_writable()
    except Exception as error:
        log.debug("the event store refused a write", exc_info=True)
        store.close()
        raise store_error(shown_db(db), error) from error
    return store


async def serve(
    settings: ServeSettings, store: EventStore, announce: Callable[[], None] = lambda: None
) -> None:
    """Run the service until SIGINT or SIGTERM.

    Whatever was started is stopped again if a later step fails (a port
    taken since the check, LiveKit refusing), so a failed start leaves no
    thread behind. ``announce`` runs once every port listens (it shows
    ``--dev`` secrets).
    """
    from actors.usecases import VoiceCore  # noqa: PLC0415
    from adapters.shells.agent_channel import AgentChannel, AttachedAgents  # noqa: PLC0415
    from adapters.shells.frames import CLIENT_FRAMES  # noqa: PLC0415
    from adapters.shells.gateway import Gateway  # noqa: PLC0415
    from adapters.shells.media_plane import LiveKitMediaPlane  # noqa: PLC0415
    from adapters.shells.serve_metrics import ServeMetrics  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as started:
        metrics = ServeMetrics()
        service = await loop.run_in_executor(None, build_service, settings, store, metrics)
        started.push_async_callback(loop.run_in_executor, None, service.close)
        await loop.run_in_executor(None, metrics.follow, service)
        started.push_async_callback(loop.run_in_executor, None, metrics.stop)
        core = VoiceCore(service, CLIENT_FRAMES)
        attached = AttachedAgents()
        channel = (
            AgentChannel(service, settings.agent_secret, attached)
            if settings.agent_secret is not None
            else None
        )
        media = (
            LiveKitMediaPlane(
                settings.livekit,
                core.follow_voice_rooms,
                attached,
                announce=room_announcer(service),
            )
            if settings.livekit is not None
            else None
        )
        if media is not None:
            await media.start()
            started.push_async_callback(media.aclose)
        if settings.http_port is not None:
            runner = await start_http(
                service, core, settings, settings.http_port, attached.rooms, metrics
            )
            started.push_async_callback(runner.cleanup)
        gateway = Gateway(service, settings.gateway, media, channel)
        try:
            server = await gateway.serve(settings.host, settings.port)
        except OSError as error:
            raise port_error(settings.host, settings.port, "--port", error) from error

        async def close_server() -> None:
            server.close()
            await server.wait_closed()

        started.push_async_callback(close_server)
        announce()
        print(
            f"voicemode: WebSocket control plane on ws://{settings.host}:{settings.port}/ws",
            flush=True,
        )
        if channel is not None:
            print(f"voicemode: agents on ws://{settings.host}:{settings.port}/agent", flush=True)
        if settings.http_port is not None:
            print(
                f"voicemode: HTTP on http://{settings.host}:{settings.http_port}/healthz",
                flush=True,
            )
            print(
                f"voicemode: web client on http://{settings.host}:{settings.http_port}/",
                flush=True,
            )
            if settings.livekit is not None:
                print(f"voicemode: LiveKit at {settings.livekit.url}", flush=True)
        print(f"voicemode: event store {shown_db(settings.db)}", flush=True)
        if settings.record is not None:
            kept = settings.record.retention
            print(
                f"voicemode: recordings in {settings.record.directory}"
                + (f", kept {kept}" if kept is not None else ", kept until deleted"),
                flush=True,
            )
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def room_announcer(service: VoiceService) -> Callable[[str, bool], None]:
    """Tells a room's WebSocket clients whether its LiveKit agent listens (``agent-listening``)."""
    from actors.messages import Transient  # noqa: PLC0415
    from adapters.shells.frames import agent_listening  # noqa: PLC0415
    from events.domain import room_id_for  # noqa: PLC0415

    def announce(room: str, listening: bool) -> None:
        service.router.broadcast(room_id_for(room), Transient(agent_listening(room, listening)))

    return announce


async def start_http(
    service: VoiceService,
    core: VoiceCore,
    settings: ServeSettings,
    port: int,
    agent_rooms: Callable[[], Collection[str]] = frozenset,
    metrics: ServeMetrics | None = None,
) -> web.AppRunner:
    """Serve the HTTP API (health, metrics, OpenAPI, rooms, tokens, webhooks) and the web client.

    ``agent_rooms`` are the rooms an agent is attached to now (rooms listings show it).
    """
    from aiohttp import web  # noqa: PLC0415

    from adapters.shells.http_api import build_http_app  # noqa: PLC0415
    from adapters.shells.http_limits import HttpLimits, LimitedTCPSite  # noqa: PLC0415
    from adapters.shells.http_web import WebClientSettings, add_web_client  # noqa: PLC0415

    async def record_webhook(hook: LiveKitWebhook) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, core.record_webhook, hook)

    app = build_http_app(
        service,
        settings.livekit,
        settings.gateway.secret,
        record_webhook,
        agent_rooms,
        metrics=metrics.registry if metrics is not None else None,
    )
    web_client = WebClientSettings(
        dev=settings.dev,
        ws_port=settings.port,
        livekit=settings.livekit is not None,
        record=settings.record is not None,
        secret=settings.gateway.secret,
        dist=settings.web_dir,
    )
    add_web_client(app, core, web_client)
    limits = HttpLimits.from_environment()
    runner = web.AppRunner(app, **limits.runner_args())
    await runner.setup()
    try:
        await LimitedTCPSite(runner, settings.host, port, limits).start()
    except OSError as error:
        await runner.cleanup()
        raise port_error(settings.host, port, "--http-port", error) from error
    return runner


def event_loop() -> asyncio.AbstractEventLoop:
    """The loop ``serve`` runs on: uvloop's.

    One loop thread carries every WebSocket connection. Measured with
    bench/delivery.py at 200 rooms x 4 on 2 cores, where serve is bound by
    one core: uvloop's transports brought the delivery p99 from 436 ms to
    182 ms against asyncio's own loop.
    """
    import uvloop  # noqa: PLC0415

    return uvloop.new_event_loop()


def cmd_serve(args: argparse.Namespace) -> int:
    """``voicemode serve``: check what is cheap to check, then start and serve.

    Order: configuration (LiveKit, secrets), ports, the store (lock, open,
    a rolled-back write), engines, and only then listen and show ``--dev``
    secrets. Any failure is a :class:`StartupError`.
    """
    dev = DevSecrets(args.db) if args.dev else None
    settings = serve_settings(args, dev)
    ports = {"--port": settings.port}
    if settings.http_port is not None:
        ports["--http-port"] = settings.http_port
    check_ports(settings.host, ports)
    if settings.record is not None:
        check_recordings(settings.record.directory)
    with contextlib.ExitStack() as held:
        lock = claim_store(settings.db)
        if lock is not None:
            held.callback(lock.close)
        store = open_store(settings.db)
        held.callback(store.close)
        with asyncio.Runner(loop_factory=event_loop) as runner:
            runner.run(serve(settings, store, dev.announce if dev is not None else lambda: None))
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """``voicemode agent``: serve LiveKit agent jobs until SIGINT or SIGTERM.

    Configuration (LiveKit, the agent secret, the health port, the control
    URL's form, the speech engines) is checked before the worker starts. An
    unreachable ``serve`` is not a start-up failure: the two may start in
    any order, and the worker tells ``serve`` it is ready each time it
    registers with LiveKit; one refusing the agent secret is.
    """
    from adapters.shells.livekit_agent.agent import AgentSettings  # noqa: PLC0415
    from adapters.shells.livekit_agent.metrics import AgentMetrics  # noqa: PLC0415
    from adapters.shells.livekit_agent.network import NetworkControlPlane, announce_ready  # noqa: PLC0415
    from adapters.shells.livekit_agent.worker import run_worker  # noqa: PLC0415

    settings = worker_settings(args)
    check_ports("", {"--health-port": args.health_port})
    metrics = AgentMetrics()
    speech = build_speech(settings.stt_engines, settings.tts_engines, metrics)
    control, secret, worker_id = settings.control, settings.secret, settings.worker_id
    asyncio.run(check_control(control, secret, worker_id))
    print(f"voicemode agent: {worker_id} serving {args.agent_name} via {control}", flush=True)
    try:
        run_worker(
            settings.livekit.url,
            settings.livekit.api_key,
            settings.livekit.api_secret,
            lambda: NetworkControlPlane(control, secret, worker_id),
            speech=speech,
            agent_name=args.agent_name,
            http_port=args.health_port,
            load_threshold=args.load_threshold,
            settings=AgentSettings()
            if args.voice_sleep is None
            else AgentSettings(voice_sleep_s=args.voice_sleep),
            on_registered=lambda: announce_ready(control, secret, worker_id),
            metrics=metrics,
        )
    except OSError as error:
        raise port_error("all addresses", args.health_port, "--health-port", error) from error
    return 0


async def check_control(url: str, secret: str, worker_id: str) -> None:
    """Knock on serve's agent channel once: a refused secret stops the agent, absence does not."""
    from actors.agent_messages import ControlPlaneError  # noqa: PLC0415
    from adapters.shells.livekit_agent.network import open_channel  # noqa: PLC0415

    try:
        connection = await open_channel(url, secret, worker_id, timeout_s=5)
    except ControlPlaneError as error:
        if error.message.startswith("HTTP 4"):
            raise StartupError(
                f"voicemode at {url} refused this agent ({error.message})",
                f"Use the {AGENT_SECRET} `voicemode serve` has, and its /agent URL.",
                EXIT_CONFIG,
            ) from error
        log.warning(
            "voicemode is not reachable at %s yet (%s); rooms come once it is", url, error.message
        )
        return
    await connection.close()


def cmd_token(args: argparse.Namespace) -> int:
    """``voicemode token``: print a signed user token."""
    try:
        secret = check_secret(os.environ.get("VOICEMODE_SECRET"))
        token = issue_token(
            secret,
            args.user,
            args.name or args.user,
            args.lang,
            parse_ttl(args.ttl),
            role=args.role,
        )
    except (WeakSecretError, UnknownLanguageError, ValueError) as error:
        print(f"voicemode token: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


def print_state(store: EventStore, code: str, position: int) -> int:
    """``replay ROOM --state-at POS``: the room and its assistant then; 1 if it did not exist."""
    from actors.projections.room_state import room_state_lines  # noqa: PLC0415

    lines = room_state_lines(store, code, position)
    if lines is None:
        print(
            f"voicemode replay: room {code} did not exist at position {position}", file=sys.stderr
        )
        return 1
    print("\n".join(lines))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """``voicemode replay``: print a room's timeline, or its state at a position."""
    try:
        types = event_types(args.type or ())
    except UnknownEventTypeError as error:
        print(f"voicemode replay: {error}", file=sys.stderr)
        return 2
    if "://" not in args.db and not os.path.isfile(args.db):
        print(f"voicemode replay: no event store at {args.db}", file=sys.stderr)
        return 2
    store = EventStore.open(args.db)
    try:
        if args.export_audio is not None:
            return export_audio(store, args)
        if args.state_at is not None:
            if not args.room:
                print("voicemode replay: --state-at needs a ROOM", file=sys.stderr)
                return 2
            return print_state(store, args.room, args.state_at)
        until = args.until if args.until is not None else store.position()
        selection = TimelineFilter(
            room=args.room,
            types=types,
            participant=args.participant,
            since=args.since,
            until=until,
        )
        written = write_chunks(render(args.db, selection, args.json, args.jobs))
        unfiltered = args.until is None and not (args.since or args.type or args.participant)
        if args.room and unfiltered and not written and not args.follow:
            print(f"voicemode replay: there is no room {args.room}", file=sys.stderr)
            return 1
        if args.follow and args.until is None:
            follow_selection = replace(selection, since=max(until, args.since), until=None)
            with (
                contextlib.suppress(KeyboardInterrupt),
                store.follow(follow_selection.since) as follower,
            ):
                for entry in Timeline(store).follow(follow_selection, follower):
                    write_chunks([render_entry(entry, as_json=args.json)])
    finally:
        store.close()
    return 0


def export_audio(store: EventStore, args: argparse.Namespace) -> int:
    """``replay ROOM --export-audio FILE``: the room's recording as one audio file."""
    from actors.recording.export import FORMATS, render  # noqa: PLC0415
    from adapters.blobs.local import LocalDirectoryBlobStore  # noqa: PLC0415
    from adapters.settings import default_record_dir  # noqa: PLC0415

    if not args.room:
        print("voicemode replay: --export-audio needs a ROOM", file=sys.stderr)
        return 2
    extension = os.path.splitext(args.export_audio)[1].lstrip(".").lower()
    if extension not in FORMATS:
        print(
            f"voicemode replay: cannot write {args.export_audio}; "
            f"use one of .{', .'.join(sorted(FORMATS))}",
            file=sys.stderr,
        )
        return 2
    directory = args.record_dir or default_record_dir(args.db)
    rendered = render(store, LocalDirectoryBlobStore(Path(directory)), args.room, extension)
    if rendered is None:
        print(f"voicemode replay: room {args.room} has no recorded audio", file=sys.stderr)
        return 1
    Path(args.export_audio).write_bytes(rendered)
    print(f"voicemode replay: wrote {args.export_audio} ({len(rendered)} bytes)")
    return 0


def write_chunks(chunks: Iterable[bytes]) -> int:
    """Write rendered output to stdout as it comes; return how many bytes."""
    out = sys.stdout.buffer
    written = 0
    for chunk in chunks:
        out.write(chunk)
        out.flush()
        written += len(chunk)
    return written


def positive_seconds(text: str) -> float:
    """A duration in seconds above zero (``inf`` allowed), for argparse."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    main_parser = argparse.ArgumentParser(prog="voicemode", description=__doc__)
    commands = main_parser.add_subparsers(dest="command", required=True)
    db_default = os.environ.get("VOICEMODE_DB", DEFAULT_DB)

    serve_parser = commands.add_parser("serve", help="run the service")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8765)
    serve_parser.add_argument("--http-port", type=int, default=None)
    serve_parser.add_argument(
        "--db", default=db_default, help="SQLite file path or postgresql:// URL (VOICEMODE_DB)"
    )
    serve_parser.add_argument(
        "--dev",
        action="store_true",
        help="if VOICEMODE_SECRET is missing or weak, use the one kept in <db>.dev-secrets "
        "or generate and keep one",
    )
    serve_parser.add_argument(
        "--record",
        action="store_true",
        help="let rooms record their audio (turned on per room by its owner or an operator)",
    )
    serve_parser.add_argument(
        "--record-dir",
        default=None,
        help="where recordings go (default: a recordings directory beside the SQLite file)",
    )
    serve_parser.add_argument(
        "--record-retention",
        default=None,
        help="delete recorded audio older than this, e.g. 30d or 12h (default: keep it)",
    )
    serve_parser.set_defaults(run=cmd_serve)

    agent_parser = commands.add_parser("agent", help="run a LiveKit agent worker")
    agent_parser.add_argument(
        "--control",
        default=os.environ.get("VOICEMODE_AGENT_URL", "ws://127.0.0.1:8765/agent"),
        help="the agent channel of `voicemode serve` (VOICEMODE_AGENT_URL)",
    )
    agent_parser.add_argument("--agent-name", default="voicemode")
    agent_parser.add_argument("--worker-id", default=None)
    agent_parser.add_argument(
        "--health-port", type=int, default=0, help="the worker's HTTP health port (0: any)"
    )
    agent_parser.add_argument(
        "--load-threshold",
        type=float,
        default=0.9,
        help="this worker's CPU use (0-1 of its cores) above which it takes no new rooms",
    )
    agent_parser.add_argument(
        "--voice-sleep",
        type=positive_seconds,
        default=None,
        help="seconds of quiet after which a room's tts tracks are unpublished until someone "
        "speaks (default 10; inf: never)",
    )
    agent_parser.set_defaults(run=cmd_agent)

    token_parser = commands.add_parser("token", help="print a signed user token")
    token_parser.add_argument("--user", required=True)
    token_parser.add_argument("--name", default=None)
    token_parser.add_argument("--lang", default="en")
    token_parser.add_argument("--ttl", default="6h")
    token_parser.add_argument(
        "--role",
        choices=ROLES,
        default=USER_ROLE,
        help="admin: an operator's token, which may manage every room",
    )
    token_parser.set_defaults(run=cmd_token)

    replay_parser = commands.add_parser("replay", help="explain a room's history")
    replay_parser.add_argument("room", nargs="?", default=None)
    replay_parser.add_argument("--db", default=db_default)
    replay_parser.add_argument(
        "--type",
        action="append",
        help="only this event type, any case (repeatable): " + ", ".join(EVENT_TYPES),
    )
    replay_parser.add_argument("--participant", default=None)
    replay_parser.add_argument(
        "--since", type=int, default=0, help="only events after this position (exclusive)"
    )
    replay_parser.add_argument(
        "--until", type=int, default=None, help="only events up to this position (inclusive)"
    )
    replay_parser.add_argument("--json", action="store_true")
    replay_parser.add_argument("--follow", action="store_true")
    replay_parser.add_argument("--state-at", type=int, default=None)
    replay_parser.add_argument(
        "--jobs", type=int, default=None, help="worker processes (default: one per core)"
    )
    replay_parser.add_argument(
        "--export-audio",
        default=None,
        metavar="FILE",
        help="render ROOM's recorded audio on one timeline to FILE (.wav, .ogg or .opus)",
    )
    replay_parser.add_argument(
        "--record-dir",
        default=None,
        help="where serve --record kept recordings (default: beside the SQLite file)",
    )
    replay_parser.set_defaults(run=cmd_replay)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voicemode`` console script."""
    logging.basicConfig(
        level=os.environ.get("VOICEMODE_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except StartupError as error:
        program = "voicemode" if args.command == "serve" else f"voicemode {args.command}"
        print(error.line(program), file=sys.stderr, flush=True)
        stop_leftover_actors()
        return error.code
    return code


def stop_leftover_actors() -> None:
    """Stop any actor a failed start left running: their threads would keep the process alive."""
    pykka = sys.modules.get("pykka")
    if pykka is not None:
        pykka.ActorRegistry.stop_all()


if __name__ == "__main__":
    sys.exit(main())
