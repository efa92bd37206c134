"""The agent channel: LiveKit agent workers on other machines reach voicemode here.

A worker connects to ``ws://HOST:PORT/agent`` with ``Authorization: Bearer
<agent token>`` (signed with ``VOICEMODE_AGENT_SECRET``, never a user's) and
speaks :mod:`adapters.shells.livekit_agent.wire`. Each connection is a thin shell
around one :class:`~adapters.shells.direct_control_plane.DirectControlPlane`, so a
remote agent is told and records exactly what an in-process one would, and
sends through a bounded :class:`~adapters.shells.outbox.Outbox`.

:class:`AttachedAgents` remembers which rooms have an agent attached right
now, so that at most one serves a room and so that whoever re-dispatches
agents hears when a room lost its agent or a worker became ready.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from actors.agent_messages import (
    AssistantCommand,
    ControlPlaneError,
    FinalTranscript,
    MediaQuality,
    PartialTranscript,
    RecordedAudio,
    SpeechBegan,
    SynthesisReport,
)
from actors.messages import Outgoing
from actors.service import VoiceService
from adapters.shells.auth import Identity, TokenError, verify_agent_token
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent.wire import (
    Ack,
    Attach,
    Attached,
    ClientMessage,
    ErrorReply,
    ServerMessage,
    WorkerReady,
    decode_client,
    decode_recorded,
    encode_server,
)
from adapters.shells.outbox import CLOSE_POLICY, Outbox
from adapters.shells.protocol import ProtocolError, Ref
from adapters.shells.ratelimit import TokenBucket

log = logging.getLogger(__name__)

AGENT_PATH = "/agent"
_Report = (
    PartialTranscript
    | FinalTranscript
    | SynthesisReport
    | AssistantCommand
    | SpeechBegan
    | MediaQuality
    | RecordedAudio
)
"""What an agent reports about a room it attached."""
RELEASED = "released"
WORKER_READY = "worker-ready"


@dataclass(frozen=True)
class AgentChannelSettings:
    """Limits of one agent connection.

    Agents send a partial caption every few hundred milliseconds per speaker,
    so the frame rate is far above a user's.
    """

    frames_per_s: float = 200.0
    frame_burst: int = 400
    outbox_frames: int = 4096
    hard_frame_bytes: int = 1024 * 1024
    close_timeout_s: float = 2.0


class AttachedAgents:
    """Which rooms have an agent attached right now: room code to connection id.

    In memory and loop-only: every method is called on the serve loop, and
    subscribers are called there, synchronously.
    """

    def __init__(self) -> None:
        self._rooms: dict[str, int] = {}
        self._subscribers: list[Callable[[str], None]] = []
        self._watchers: list[Callable[[str, bool], None]] = []

    def claim(self, room_code: str, connection_id: int) -> bool:
        """Record that the connection serves the room; False if another one does."""
        if room_code in self._rooms:
            return self._rooms[room_code] == connection_id
        self._rooms[room_code] = connection_id
        self._call(self._watchers, room_code, True)
        return True

    def release(self, room_code: str, connection_id: int) -> None:
        """The connection no longer serves the room; subscribers hear ``released``."""
        if self._rooms.get(room_code) == connection_id:
            del self._rooms[room_code]
            self._call(self._watchers, room_code, False)
            self._notify(RELEASED)

    def rooms(self) -> frozenset[str]:
        """The rooms with an agent attached."""
        return frozenset(self._rooms)

    def worker_ready(self) -> None:
        """A worker can take rooms again; subscribers hear ``worker-ready``."""
        self._notify(WORKER_READY)

    def subscribe(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` whenever a room lost its agent or a worker became ready."""
        self._subscribers.append(callback)

    def watch(self, callback: Callable[[str, bool], None]) -> None:
        """Call ``callback(room_code, attached)`` whenever a room gains or loses its agent."""
        self._watchers.append(callback)

    def _notify(self, reason: str) -> None:
        self._call(self._subscribers, reason)

    @staticmethod
    def _call(callbacks: list[Callable[..., None]], *args: object) -> None:
        for callback in list(callbacks):
            try:
                callback(*args)
            except Exception:
                log.exception("an agent subscriber failed on %s", args)


class AgentChannel:
    """Serves agent workers' connections for a VoiceService."""

    def __init__(
        self,
        service: VoiceService,
        agent_secret: str,
        agents: AttachedAgents,
        settings: AgentChannelSettings | None = None,
    ) -> None:
        self.service = service
        self.agent_secret = agent_secret
        self.agents = agents
        self.settings = settings or AgentChannelSettings()
        self._identities: weakref.WeakKeyDictionary[ServerConnection, Identity] = (
            weakref.WeakKeyDictionary()
        )
        self._ids = itertools.count(1)

    async def serve(self, host: str, port: int) -> Server:
        """Start listening on ``ws://host:port/agent``; the server is already serving.

        Pings find agents whose machine went away, so their rooms are released.
        """
        return await serve(
            self.handle,
            host,
            port,
            process_request=self.check_request,
            max_size=self.settings.hard_frame_bytes,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=self.settings.close_timeout_s,
        )

    def check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """A ``process_request`` hook: only agents with a valid token shake hands.

        Refuses with HTTP 401 and a body ``"<code>: <message>"``
        (``missing_token``, ``invalid_token``, ``token_expired`` or
        ``wrong_token_kind``), and HTTP 404 off the agent path.
        """
        path = urlsplit(request.path).path
        if path != AGENT_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no agent channel at {path}\n")
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized(
                connection, "missing_token", "send Authorization: Bearer <agent token>"
            )
        try:
            self._identities[connection] = verify_agent_token(self.agent_secret, token.strip())
        except TokenError as error:
            return _unauthorized(connection, error.code, error.message)
        return None

    async def handle(self, websocket: ServerConnection) -> None:
        """Serve one agent connection until it closes or is dropped."""
        identity = self._identities.get(websocket)
        if identity is None:
            await websocket.close(CLOSE_POLICY, "not_authenticated: use check_request")
            return
        await _AgentConnection(self, websocket, identity, next(self._ids)).run()


class _AgentConnection:
    """One worker's connection: its rooms, its control plane, its outbox."""

    def __init__(
        self, channel: AgentChannel, websocket: ServerConnection, identity: Identity, number: int
    ) -> None:
        self.settings = channel.settings
        self.agents = channel.agents
        self.websocket = websocket
        self.worker_id = identity.user_id
        self.number = number
        self.direct = DirectControlPlane(channel.service)
        self.outbox = Outbox(
            websocket,
            self.settings.outbox_frames,
            f"agent worker {self.worker_id} (#{number})",
            self.settings.close_timeout_s,
            "the agent does not read its frames fast enough",
        )
        self.bucket = TokenBucket(self.settings.frames_per_s, self.settings.frame_burst)
        self.pumps: dict[str, asyncio.Task[None]] = {}
        self._last_rate_error = float("-inf")

    async def run(self) -> None:
        """Handle frames in order until the connection ends, then give its rooms up."""
        log.info("agent worker %s connected (#%d)", self.worker_id, self.number)
        writer = asyncio.create_task(self.outbox.write())
        try:
            async for message in self.websocket:
                await self._receive(message)
                # Let the writer flush the reply before the next buffered frame is
                # read, so the outbox fills only when the agent stops reading.
                await asyncio.sleep(0)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            await self._detach_all()
            log.info("agent worker %s disconnected (#%d)", self.worker_id, self.number)

    # inbound -----------------------------------------------------------------

    async def _receive(self, message: str | bytes) -> None:
        if self.outbox.dropped:
            return
        if not self.bucket.take():
            self._rate_limited()
            return
        try:
            if isinstance(message, bytes):
                await self._report(decode_recorded(message), None)
                return
            framed = decode_client(message)
        except ProtocolError as error:
            self._error(error.code, error.message, error.ref)
            return
        await self._dispatch(framed.message, framed.ref)

    async def _dispatch(self, message: ClientMessage, ref: Ref) -> None:
        match message:
            case Attach(room_code):
                await self._attach(room_code, ref)
            case WorkerReady():
                self.agents.worker_ready()
            case _:
                await self._report(message, ref)

    async def _attach(self, room_code: str, ref: Ref) -> None:
        """Claim the room, follow it, and stream its updates in order."""
        if room_code in self.pumps:
            self._send(Attached(room_code), ref)
            return
        if not self.agents.claim(room_code, self.number):
            self._error("agent_already_attached", f"another agent already serves {room_code}", ref)
            return
        try:
            await self.direct.attach(room_code)
        except BaseException:
            self.agents.release(room_code, self.number)
            raise
        log.info("agent worker %s attached to %s", self.worker_id, room_code)
        self._send(Attached(room_code), ref)
        self.pumps[room_code] = asyncio.create_task(self._pump(room_code))

    async def _report(self, report: _Report, ref: Ref) -> None:
        """Pass a report on to the room, which this connection must have attached.

        Transcripts and commands are answered ``ack`` once taken, or ``error``.
        """
        if report.room_code not in self.pumps:
            self._error("not_attached", f"attach {report.room_code} first", ref)
            return
        try:
            match report:
                case FinalTranscript():
                    await self.direct.transcript(report)
                    self._send(Ack(), ref)
                case AssistantCommand():
                    await self.direct.command(report)
                    self._send(Ack(), ref)
                case PartialTranscript():
                    await self.direct.partial(report)
                case SpeechBegan():
                    await self.direct.speech_began(report)
                case SynthesisReport():
                    await self.direct.synthesized(report)
                case MediaQuality():
                    await self.direct.media_quality(report)
                case RecordedAudio():
                    await self.direct.recorded(report)
        except ControlPlaneError as error:
            self._error(error.code, error.message, ref)

    def _rate_limited(self) -> None:
        """Report dropped frames, at most once a second."""
        now = time.monotonic()
        if now - self._last_rate_error >= 1.0:
            self._last_rate_error = now
            limit = self.settings.frames_per_s
            self._error("rate_limited", f"more than {limit:g} frames/s; frames are being dropped")

    async def _detach_all(self) -> None:
        """Stop following every room and give the rooms up; subscribers hear ``released``."""
        for pump in self.pumps.values():
            pump.cancel()
        try:
            await self.direct.close()
        finally:
            for room_code in self.pumps:
                self.agents.release(room_code, self.number)

    # outbound ----------------------------------------------------------------

    async def _pump(self, room_code: str) -> None:
        async for update in self.direct.updates(room_code):
            self._send(update)

    def _error(self, code: str, message: str, ref: Ref = None) -> None:
        self._send(ErrorReply(code, message), ref)

    def _send(self, message: ServerMessage, ref: Ref = None) -> None:
        """Queue a frame; a worker that lets the outbox fill up is dropped."""
        self.outbox.put((Outgoing(encode_server(message, ref)),))


def _unauthorized(connection: ServerConnection, code: str, message: str) -> Response:
    response = connection.respond(HTTPStatus.UNAUTHORIZED, f"{code}: {message}\n")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response
