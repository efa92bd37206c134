"""The WebSocket gateway: transport and authentication around the core's use cases.

Each connection reads frames, validates them with :mod:`adapters.shells.protocol`,
and calls its :class:`~actors.usecases.Participant` with typed values; the
typed results become frames of :mod:`adapters.shells.frames`. The loop never waits
on a pykka future. Everything the client receives goes through one bounded
:class:`~adapters.shells.outbox.Outbox`, so a client that stops reading is dropped
with a reason instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from actors.messages import Accepted, Outgoing, Refused
from actors.service import VoiceService
from actors.usecases import EngineChoice, Participant, PreferenceChange, VoiceCore
from actors.usecases.management import DEFAULT_BAR
from adapters.shells import frames
from adapters.shells.agent_channel import AGENT_PATH, AgentChannel
from adapters.shells.auth import Identity, TokenError, verify_user_token
from adapters.shells.frames import CLIENT_FRAMES, Frame
from adapters.shells.media_plane import LiveKitMediaPlane
from adapters.shells.outbox import Outbox
from adapters.shells.protocol import (
    AskAssistantFrame,
    AssistantCommandFrame,
    Authenticate,
    ClientErrorFrame,
    ClientFrame,
    CloseRoomFrame,
    Command,
    JoinRoomFrame,
    LeaveRoomFrame,
    MuteParticipantFrame,
    ProtocolError,
    Ref,
    RemoveParticipantFrame,
    ResumeFrame,
    SetAssistantFrame,
    SetLanguage,
    SetPreferencesFrame,
    SetRecordingFrame,
    SpeechTranscript,
    StartSpeechFrame,
    StartVoiceSessionFrame,
    StopSpeechFrame,
    StopVoiceSessionFrame,
    parse_frame,
)
from adapters.shells.ratelimit import TokenBucket
from adapters.shells.ws_compression import TextOnlyDeflateFactory

T = TypeVar("T")

WS_PATH = "/ws"
CLOSE_AUTH = 4401


@dataclass(frozen=True)
class GatewaySettings:
    """Limits of the control plane (per connection unless said otherwise)."""

    secret: str
    auth_timeout_s: float = 10.0
    outbox_frames: int = 2048
    frames_per_s: float = 50.0
    frame_burst: int = 100
    hard_frame_bytes: int = 1024 * 1024
    command_timeout_s: float = 15.0
    audio_frames_per_s: float = 200.0
    audio_burst: int = 400
    audio_buffer_bytes: int = 512 * 1024


class Gateway:
    """Serves ``ws://HOST:PORT/ws`` for users and ``/agent`` for LiveKit agents.

    ``media`` is LiveKit (None: voice sessions are refused with
    ``livekit_not_configured``); ``agents`` is the agents' channel (None:
    ``/agent`` is refused).
    """

    def __init__(
        self,
        service: VoiceService,
        settings: GatewaySettings,
        media: LiveKitMediaPlane | None = None,
        agents: AgentChannel | None = None,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.core = VoiceCore(
            service,
            CLIENT_FRAMES,
            media,
            command_timeout_s=settings.command_timeout_s,
            audio_buffer_bytes=settings.audio_buffer_bytes,
            moderator=media.moderator if media is not None else None,
            agent_rooms=media.agents.rooms if media is not None else frozenset,
        )
        self._identities: weakref.WeakKeyDictionary[ServerConnection, Identity] = (
            weakref.WeakKeyDictionary()
        )
        self._ids = itertools.count(1)

    async def serve(self, host: str, port: int) -> Server:
        """Start listening; the returned server is already serving."""
        return await serve(
            self._handle,
            host,
            port,
            process_request=self._check_request,
            max_size=self.settings.hard_frame_bytes,
            max_queue=64,
            compression=None,
            extensions=[TextOnlyDeflateFactory()],
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
        )

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse unknown paths and bad query tokens before the handshake."""
        url = urlsplit(request.path)
        if url.path == AGENT_PATH:
            if self.agents is None:
                return connection.respond(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    "agent_channel_disabled: set VOICEMODE_AGENT_SECRET to accept agents\n",
                )
            return self.agents.check_request(connection, request)
        if url.path != WS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no WebSocket at {url.path}\n")
        token = parse_qs(url.query).get("token", [None])[0]
        if token is None:
            return None
        try:
            self._identities[connection] = verify_user_token(self.settings.secret, token)
        except TokenError as error:
            return connection.respond(HTTPStatus.UNAUTHORIZED, f"{error.code}: {error.message}\n")
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        if websocket.request is not None and urlsplit(websocket.request.path).path == AGENT_PATH:
            assert self.agents is not None  # refused in _check_request otherwise
            await self.agents.handle(websocket)
            return
        client = ClientConnection(self, websocket, self._identities.get(websocket), next(self._ids))
        await client.run()


class ClientConnection:
    """One client: its identity, outbox and rate limits; its use cases are its participant's."""

    def __init__(
        self, gateway: Gateway, websocket: ServerConnection, identity: Identity | None, number: int
    ) -> None:
        self.core = gateway.core
        self.settings = gateway.settings
        self.websocket = websocket
        self.identity = identity
        self.loop = asyncio.get_running_loop()
        self.session_key = f"session:{number}"
        self.participant: Participant | None = None
        self.outbox = Outbox(
            websocket,
            self.settings.outbox_frames,
            self.session_key,
            close_timeout_s=3,
            slow_message="client does not read its frames fast enough",
            on_drop=self._leave,
        )
        self._put = self.outbox.put
        self.bucket = TokenBucket(self.settings.frames_per_s, self.settings.frame_burst)
        self.audio_bucket = TokenBucket(self.settings.audio_frames_per_s, self.settings.audio_burst)
        self._last_rate_error = 0.0

    async def run(self) -> None:
        """Serve the client until it goes away or is dropped."""
        writer = asyncio.create_task(self.outbox.write())
        try:
            if self.identity is None and not await self._authenticate():
                return
            assert self.identity is not None
            self.participant = self.core.participant(self.identity, self, self.session_key)
            async for message in self.websocket:
                await self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            self._leave("disconnected")

    def _leave(self, reason: str) -> None:
        if self.participant is not None:
            self.participant.leave_now(reason)

    # outbound ----------------------------------------------------------------

    def push(self, frames: list[Outgoing]) -> None:
        """Queue frames from any thread (the session actor's sink)."""
        self.loop.call_soon_threadsafe(self._put, frames)

    def report(self, code: str, message: str) -> None:
        """From any thread: an ``error`` frame about the client's speech."""
        self.loop.call_soon_threadsafe(self.error, code, message)

    def send(self, frame: Frame) -> None:
        """Queue one frame from the loop thread."""
        self._put(CLIENT_FRAMES.encode([frame]))

    def error(self, code: str, message: str, ref: Ref = None) -> None:
        """Tell the client what was wrong with what it sent."""
        self.send(frames.error(code, message, ref))

    # inbound -----------------------------------------------------------------

    async def _authenticate(self) -> bool:
        """Wait for a first ``authenticate`` frame; refuse anything else."""
        try:
            message = await asyncio.wait_for(self.websocket.recv(), self.settings.auth_timeout_s)
        except TimeoutError:
            await self._refuse("auth_timeout", "send an authenticate frame first")
            return False
        try:
            frame = self._parse(message)
        except ProtocolError as error:
            await self._refuse(error.code, error.message, error.ref)
            return False
        if not isinstance(frame.command, Authenticate):
            await self._refuse("not_authenticated", "authenticate before anything else", frame.ref)
            return False
        try:
            self.identity = verify_user_token(self.settings.secret, frame.command.token)
        except TokenError as error:
            await self._refuse(error.code, error.message, frame.ref)
            return False
        self.send(frames.reply("authenticated", {"userId": self.identity.user_id}, frame.ref))
        return True

    async def _refuse(self, code: str, message: str, ref: Ref = None) -> None:
        """Refuse an unauthenticated connection with a reason, then close it."""
        self.error(code, message, ref)
        await asyncio.sleep(0.05)
        await self.websocket.close(CLOSE_AUTH, f"{code}: {message}"[:120])

    def _parse(self, message: str | bytes) -> ClientFrame:
        if isinstance(message, bytes):
            raise ProtocolError("binary_not_expected", "binary frames carry speech-data only")
        return parse_frame(message)

    async def _receive(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self._audio(message)
            return
        if not self.bucket.take():
            self._rate_limited()
            return
        try:
            frame = self._parse(message)
        except ProtocolError as error:
            self.error(error.code, error.message, error.ref)
            return
        self._me.acting(resuming=isinstance(frame.command, ResumeFrame))
        await self._dispatch(frame.command, frame.ref)

    @property
    def _me(self) -> Participant:
        assert self.participant is not None
        return self.participant

    def _audio(self, chunk: bytes) -> None:
        """A speech-data frame: into the speaker's pipeline, within its bounds."""
        refusal = self._me.audio_refusal()
        if refusal is not None:
            self.error(refusal.code, refusal.message)
        elif not self.audio_bucket.take():
            self._rate_limited("audio_rate_limited", self.settings.audio_frames_per_s)
        elif not self._me.speak(chunk):
            self._rate_limited("audio_overflow", 0)

    def _rate_limited(self, code: str = "rate_limited", rate: float | None = None) -> None:
        """Report dropped frames, at most once a second."""
        now = time.monotonic()
        if now - self._last_rate_error >= 1.0:
            self._last_rate_error = now
            if code == "audio_overflow":
                message = "audio is queued faster than it is processed; chunks are being dropped"
            else:
                limit = self.settings.frames_per_s if rate is None else rate
                message = f"more than {limit:g} frames/s; frames are being dropped"
            self.error(code, message)

    def _answer(self, result: Refused | T, ref: Ref, frame: Callable[[T, Ref], Frame]) -> None:
        """Send ``frame(result, ref)``, or the refusal as an ``error`` echoing ``ref``."""
        if isinstance(result, Refused):
            self.error(result.code, result.message, ref)
        else:
            self.send(frame(result, ref))

    def _ack(self, name: str, result: Accepted | Refused, ref: Ref) -> None:
        """Acknowledge a recorded command (when it carried a ``ref``), or report its refusal."""
        if isinstance(result, Refused):
            self.error(result.code, result.message, ref)
        elif ref is not None:
            self.send(frames.ack(name, result.position, ref))

    async def _dispatch(self, command: Command, ref: Ref) -> None:
        """Translate one command into a call on the participant and its result into frames."""
        me = self._me
        match command:
            case Authenticate():
                self.error("already_authenticated", "this connection is already authenticated", ref)
            case JoinRoomFrame():
                await self._join(command.room_code, command.language, command.since, ref, ref)
            case LeaveRoomFrame():
                self._answer(await me.leave(), ref, frames.left_room)
            case SetLanguage():
                self._ack("set-language", await me.set_language(command.language), ref)
            case StartSpeechFrame():
                started = await me.start_speech(
                    command.language,
                    command.solo_target,
                    command.encoding,
                    command.sample_rate,
                    assistant=command.assistant,
                )
                self._ack("start-speech", started, ref)
            case StopSpeechFrame():
                self._ack("stop-speech", await me.stop_speech(), ref)
            case StartVoiceSessionFrame():
                await self._start_voice(command, ref)
            case StopVoiceSessionFrame():
                self._answer(await me.stop_voice(), ref, frames.voice_session_ended)
            case SpeechTranscript():
                typed = await me.submit_text(command.text, command.source_language, command.mode)
                self._ack("speech-transcript", typed, ref)
            case ClientErrorFrame():
                reported = await me.report_error(command.code, command.message, command.details)
                self._ack("client-error", reported, ref)
            case ResumeFrame():
                refusal = me.resume(command.since, ref)
                if refusal is not None:
                    self.error(refusal.code, refusal.message, ref)
            case SetPreferencesFrame():
                engines = EngineChoice(
                    command.stt_engine,
                    command.translation_engine,
                    command.tts_engine,
                    command.voice,
                )
                changed = await me.set_preferences(PreferenceChange(command.speech, engines))
                self._ack("set-preferences", changed, ref)
            case AskAssistantFrame():
                self._ack("ask-assistant", await me.ask_assistant(command.text), ref)
            case AssistantCommandFrame():
                self._ack("assistant-command", await me.assistant_command(command.text), ref)
            case SetAssistantFrame():
                self._ack("set-assistant", await me.set_assistant(command.enabled), ref)
            case SetRecordingFrame():
                self._ack("set-recording", await me.set_recording(command.enabled), ref)
            case CloseRoomFrame() | RemoveParticipantFrame() | MuteParticipantFrame():
                await self._manage(command, ref)

    async def _manage(
        self, command: CloseRoomFrame | RemoveParticipantFrame | MuteParticipantFrame, ref: Ref
    ) -> None:
        """A room owner's (or operator's) action, on the named room or the connection's."""
        code = command.room_code or self._me.room_code
        if code is None:
            self.error("not_in_room", "name a roomId or join the room first", ref)
            return
        manage = self.core.management
        assert self.identity is not None
        caller = self.identity
        match command:
            case CloseRoomFrame():
                self._ack("close-room", await manage.close(code, caller), ref)
            case RemoveParticipantFrame():
                bar = DEFAULT_BAR if command.bar_s is None else timedelta(seconds=command.bar_s)
                removed = await manage.remove(code, command.user_id, caller, bar)
                self._ack("remove-participant", removed, ref)
            case MuteParticipantFrame():
                muted = await manage.mute(code, command.user_id, caller, muted=command.muted)
                if not isinstance(muted, Refused):
                    self.send(frames.mute_changed(muted, ref))
                else:
                    self.error(muted.code, muted.message, ref)

    async def _join(
        self, room_code: str, language: str | None, since: int | None, ref: Ref, reply_ref: Ref
    ) -> None:
        """Join a room (leaving any other); refusals echo ``ref``, the answer ``reply_ref``."""
        if self._me.room_code is not None:
            self._answer(await self._me.leave(), None, frames.left_room)
        joined = await self._me.join(
            room_code,
            language,
            since,
            lambda joined: self.send(frames.joined_room(joined, reply_ref)),
        )
        if isinstance(joined, Refused):
            self.error(joined.code, joined.message, ref)

    async def _start_voice(self, command: StartVoiceSessionFrame, ref: Ref) -> None:
        """Start a voice session, joining the room it names first if need be."""
        if self.core.media is None:
            self.error("livekit_not_configured", "this server runs without LiveKit", ref)
            return
        if command.room_code is not None and command.room_code != self._me.room_code:
            await self._join(command.room_code, command.language, None, ref, None)
        ready = await self._me.start_voice(
            command.language, command.solo_target, assistant=command.assistant
        )
        self._answer(ready, ref, frames.voice_session_ready)
