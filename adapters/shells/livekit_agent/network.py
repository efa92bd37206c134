"""The control plane over the network: an agent worker on another machine than voicemode.

:class:`NetworkControlPlane` speaks :mod:`adapters.shells.livekit_agent.wire` to
:class:`~adapters.shells.agent_channel.AgentChannel` over one WebSocket, opened on
the first :meth:`~NetworkControlPlane.attach` with a short-lived agent token
(``VOICEMODE_AGENT_SECRET``). The connection is never silently reopened: once
it is lost, :meth:`~NetworkControlPlane.wait_lost` returns and the job should
end, so that voicemode dispatches a fresh agent that attaches from scratch
and nothing is said twice or missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from actors.agent_messages import (
    AssistantCommand,
    ControlPlaneError,
    FinalTranscript,
    MediaQuality,
    PartialTranscript,
    RecordedAudio,
    RoomUpdate,
    SpeechBegan,
    SynthesisReport,
)
from adapters.shells.auth import issue_agent_token
from adapters.shells.livekit_agent.wire import (
    Ack,
    Attach,
    Attached,
    ClientMessage,
    ErrorReply,
    ServerMessage,
    WorkerReady,
    decode_server,
    encode_client,
    encode_recorded,
)
from adapters.shells.protocol import ProtocolError

log = logging.getLogger(__name__)

TOKEN_TTL_S: Final = 600
"""Agent tokens only open the connection, so they need not live long."""
MAX_FRAME_BYTES: Final = 1024 * 1024
"""Room members and translations are well below this; anything larger is a broken server."""


class NetworkControlPlane:
    """:class:`~actors.agent_messages.ControlPlane` over an authenticated WebSocket.

    One instance per agent job, used on the job's event loop; several rooms
    may share its connection.
    """

    def __init__(
        self,
        url: str,
        agent_secret: str,
        worker_id: str,
        *,
        connect_timeout_s: float = 10.0,
        command_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.agent_secret = agent_secret
        self.worker_id = worker_id
        self.connect_timeout_s = connect_timeout_s
        self.command_timeout_s = command_timeout_s
        self._connection: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._refs = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ServerMessage]] = {}
        self._rooms: dict[str, asyncio.Queue[RoomUpdate | None]] = {}
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._closed = False

    async def attach(self, room_code: str) -> None:
        """Connect if need be, then attach the room; its updates queue from now on.

        Raises:
            ControlPlaneError: ``channel_unavailable`` (cannot connect, or the
                handshake was refused), ``channel_lost``, ``timeout``, or
                voicemode's refusal (e.g. ``agent_already_attached``).
        """
        if room_code in self._rooms:
            return
        await self._connect()
        self._rooms[room_code] = asyncio.Queue()
        try:
            await self._request(Attach(room_code), Attached)
        except BaseException:
            self._rooms.pop(room_code, None)
            raise

    def updates(self, room_code: str) -> AsyncIterator[RoomUpdate]:
        """The attached room's members and translations, in order, until the connection ends.

        Raises:
            ControlPlaneError: the room was not attached.
        """
        queue = self._rooms.get(room_code)
        if queue is None:
            raise ControlPlaneError("not_attached", f"the agent is not attached to {room_code}")
        return _drain(queue)

    async def partial(self, caption: PartialTranscript) -> None:
        """Send a caption, without waiting for voicemode."""
        await self._send(caption)

    async def transcript(self, transcript: FinalTranscript) -> None:
        """Send a transcript and wait until voicemode has recorded it."""
        await self._request(transcript, Ack)

    async def synthesized(self, report: SynthesisReport) -> None:
        """Send a synthesis report, without waiting for voicemode."""
        await self._send(report)

    async def command(self, command: AssistantCommand) -> None:
        """Send a participant's command and wait until voicemode took or refused it."""
        await self._request(command, Ack)

    async def speech_began(self, began: SpeechBegan) -> None:
        """Send that a participant started speaking, without waiting for voicemode."""
        await self._send(began)

    async def media_quality(self, report: MediaQuality) -> None:
        """Send the room's media quality, without waiting for voicemode."""
        await self._send(report)

    async def recorded(self, audio: RecordedAudio) -> None:
        """Send a recorded clip (one binary frame), without waiting for voicemode."""
        await self._send_frame(encode_recorded(audio), text=False)

    async def close(self) -> None:
        """Close the connection; every room's updates end, and :meth:`wait_lost` never returns."""
        self._closed = True
        if self._connection is not None:
            await self._connection.close()
        if self._reader is not None:
            await self._reader
        self._end("channel_closed", "the control plane was closed")

    async def wait_lost(self) -> str:
        """Return why, once the connection was lost other than by :meth:`close`."""
        await self._lost.wait()
        return self._lost_reason

    async def _connect(self) -> ClientConnection:
        async with self._connecting:
            self._check_open()
            if self._connection is None:
                self._connection = await open_channel(
                    self.url, self.agent_secret, self.worker_id, self.connect_timeout_s
                )
                self._reader = asyncio.create_task(self._read(self._connection))
            return self._connection

    def _check_open(self) -> None:
        if self._closed:
            raise ControlPlaneError("channel_closed", "the control plane was closed")
        if self._lost.is_set():
            raise ControlPlaneError("channel_lost", self._lost_reason)

    async def _send(self, message: ClientMessage, ref: int | None = None) -> None:
        await self._send_frame(encode_client(message, ref), text=True)

    async def _send_frame(self, frame: bytes, *, text: bool) -> None:
        connection = self._connection
        if connection is None:
            raise ControlPlaneError("not_attached", "attach a room first")
        self._check_open()
        try:
            await connection.send(frame, text=text)
        except ConnectionClosed as error:
            raise ControlPlaneError("channel_lost", str(error)) from error

    async def _request(self, message: ClientMessage, answer: type[ServerMessage]) -> None:
        """Send a frame with a ref and wait for its answer, or raise voicemode's error."""
        ref = next(self._refs)
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await self._send(message, ref)
            reply = await asyncio.wait_for(future, self.command_timeout_s)
        except TimeoutError:
            raise ControlPlaneError("timeout", "voicemode did not answer in time") from None
        finally:
            del self._pending[ref]
        if isinstance(reply, ErrorReply):
            raise ControlPlaneError(reply.code, reply.message)
        if not isinstance(reply, answer):
            raise ControlPlaneError("invalid_reply", f"expected {answer.__name__}, got {reply}")

    async def _read(self, connection: ClientConnection) -> None:
        """Route voicemode's frames until the connection ends."""
        try:
            async for raw in connection:
                self._route(raw)
        except ConnectionClosed:
            pass
        finally:
            if not self._closed:
                self._lose(connection)

    def _lose(self, connection: ClientConnection) -> None:
        """The connection ended without :meth:`close`: say so, once, to whoever waits."""
        reason = f"voicemode closed the agent channel (code {connection.close_code})"
        if connection.close_reason:
            reason += f": {connection.close_reason}"
        log.warning("%s", reason)
        self._lost_reason = reason
        self._lost.set()
        self._end("channel_lost", reason)

    def _route(self, raw: str | bytes) -> None:
        try:
            framed = decode_server(raw)
        except ProtocolError as error:
            log.warning("ignored a frame from voicemode: %s: %s", error.code, error.message)
            return
        message = framed.message
        pending = self._pending.get(framed.ref) if isinstance(framed.ref, int) else None
        if pending is not None:
            if not pending.done():
                pending.set_result(message)
        elif isinstance(message, ErrorReply):
            log.warning("voicemode refused a report: %s: %s", message.code, message.message)
        elif isinstance(message, Attached | Ack):
            log.debug("late answer from voicemode: %s", message)
        else:
            queue = self._rooms.get(message.room_code)
            if queue is not None:
                queue.put_nowait(message)

    def _end(self, code: str, reason: str) -> None:
        """Fail what waits for an answer and end every room's updates."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ControlPlaneError(code, reason))
        rooms, self._rooms = list(self._rooms.values()), {}
        for queue in rooms:
            queue.put_nowait(None)


async def open_channel(
    url: str, agent_secret: str, worker_id: str, timeout_s: float
) -> ClientConnection:
    """Open an agent connection with a fresh token.

    Raises:
        ControlPlaneError: ``channel_unavailable``, with the refusal's code
            (e.g. ``HTTP 401 invalid_token: ...``) when the handshake was refused.
    """
    token = issue_agent_token(agent_secret, worker_id, TOKEN_TTL_S)
    try:
        return await connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=timeout_s,
            max_size=MAX_FRAME_BYTES,
        )
    except InvalidStatus as error:
        response = error.response
        body = response.body.decode(errors="replace").strip() if response.body else ""
        message = f"HTTP {response.status_code} {body}".strip()
        raise ControlPlaneError("channel_unavailable", message) from error
    except (OSError, TimeoutError, WebSocketException) as error:
        raise ControlPlaneError("channel_unavailable", f"cannot reach {url}: {error}") from error


async def announce_ready(
    url: str, agent_secret: str, worker_id: str, *, connect_timeout_s: float = 10.0
) -> None:
    """Tell voicemode a worker (re)registered with LiveKit and can take rooms.

    Raises:
        ControlPlaneError: ``channel_unavailable``, or ``channel_lost`` if
            voicemode closed the connection before it was told.
    """
    connection = await open_channel(url, agent_secret, worker_id, connect_timeout_s)
    try:
        await connection.send(encode_client(WorkerReady()), text=True)
    except ConnectionClosed as error:
        raise ControlPlaneError("channel_lost", str(error)) from error
    finally:
        with contextlib.suppress(ConnectionClosed):
            await connection.close()


async def _drain(queue: asyncio.Queue[RoomUpdate | None]) -> AsyncIterator[RoomUpdate]:
    while (update := await queue.get()) is not None:
        yield update
