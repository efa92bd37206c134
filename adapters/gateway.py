"""The WebSocket gateway: a thin asyncio shell around the protocol and actors.

Each connection reads frames, validates them with :mod:`adapters.protocol`,
and turns them into typed actor messages. Replies come back through
callbacks that hop onto the event loop with ``call_soon_threadsafe``; the loop
never waits on a pykka future. Everything the client receives goes through
one bounded outbox, so a client that stops reading is dropped with a reason
instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import orjson
import pykka
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from actors.messages import (
    Accepted,
    ChangeLanguage,
    ChangePreferences,
    JoinRoom,
    LeaveRoom,
    Outcome,
    Outgoing,
    Refused,
    ReleaseHeld,
    Reply,
    ReportClientError,
    Resume,
    RoomCommand,
    StartSpeech,
    StartVoiceSession,
    StopSpeech,
    StopVoiceSession,
    SubmitTranscript,
    Transient,
    ignore_reply,
)
from actors.pipeline import AudioBudget, AudioChunk, EndAudio, PipelineSpec
from actors.service import SpeechUnavailableError, VoiceService
from actors.session import DeliveryCursor, SessionSpec
from adapters.agent_channel import AGENT_PATH, AgentChannel
from adapters.audio import AudioFormatError
from adapters.auth import Identity, TokenError, verify_user_token
from adapters.frames import Frame, server_frame
from adapters.livekit_api import LiveKitUnavailableError
from adapters.media_plane import LiveKitMediaPlane
from adapters.protocol import (
    Authenticate,
    ClientErrorFrame,
    ClientFrame,
    Command,
    JoinRoomFrame,
    LeaveRoomFrame,
    ProtocolError,
    Ref,
    ResumeFrame,
    SetLanguage,
    SetPreferencesFrame,
    SpeechTranscript,
    StartSpeechFrame,
    StartVoiceSessionFrame,
    StopSpeechFrame,
    StopVoiceSessionFrame,
    parse_frame,
)
from adapters.ratelimit import TokenBucket
from adapters.stt.base import Transcript
from adapters.ws_compression import TextOnlyDeflateFactory
from events.domain import Preferences, preference

log = logging.getLogger(__name__)

WS_PATH = "/ws"
CLOSE_POLICY = 1008
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
        self.service = service
        self.settings = settings
        self.media = media
        self.agents = agents
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
    """One client: its identity, room, session and outbox."""

    def __init__(
        self, gateway: Gateway, websocket: ServerConnection, identity: Identity | None, number: int
    ) -> None:
        self.gateway = gateway
        self.service = gateway.service
        self.settings = gateway.settings
        self.websocket = websocket
        self.identity = identity
        self.loop = asyncio.get_running_loop()
        self.session_key = f"session:{number}"
        self.room_code: str | None = None
        self.room_id: UUID | None = None
        self.language = identity.language if identity is not None else "en"
        self.voice_room: str | None = None
        """The LiveKit room of this user's voice session, if one is active."""
        self.outbox: asyncio.Queue[Outgoing] = asyncio.Queue(self.settings.outbox_frames)
        self.bucket = TokenBucket(self.settings.frames_per_s, self.settings.frame_burst)
        self.audio_bucket = TokenBucket(self.settings.audio_frames_per_s, self.settings.audio_burst)
        self.speaking: Speaking | None = None
        self.preferences = Preferences()
        self._last_rate_error = 0.0
        self._dropped = False
        self._closing: asyncio.Future[None] | None = None
        self._holding = False

    async def run(self) -> None:
        """Serve the client until it goes away or is dropped."""
        writer = asyncio.create_task(self._write())
        try:
            if self.identity is None and not await self._authenticate():
                return
            async for message in self.websocket:
                await self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            self._leave("disconnected")

    # outbound ----------------------------------------------------------------

    def push(self, frames: list[Outgoing]) -> None:
        """Queue frames from any thread (the session actor's sink)."""
        self.loop.call_soon_threadsafe(self._enqueue, frames)

    def send(self, frame: Frame) -> None:
        """Queue one frame from the loop thread."""
        self._enqueue([Outgoing(orjson.dumps(frame))])

    def _enqueue(self, payloads: list[Outgoing]) -> None:
        for payload in payloads:
            if self._dropped:
                return
            try:
                self.outbox.put_nowait(payload)
            except asyncio.QueueFull:
                self._drop("slow_consumer", "client does not read its frames fast enough")
                return

    async def _write(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await self.outbox.get()
                await self.websocket.send(frame.data, text=not frame.binary)

    def _drop(self, code: str, message: str) -> None:
        """Disconnect a misbehaving client; its room sees why."""
        self._dropped = True
        log.warning("dropping %s: %s", self.session_key, code)
        self._leave(code)
        self._closing = asyncio.ensure_future(self._close(CLOSE_POLICY, f"{code}: {message}"))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), 3)
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            self.websocket.transport.abort()

    def error(self, code: str, message: str, ref: Ref = None) -> None:
        """Tell the client what was wrong with what it sent."""
        frame = server_frame("error", {"code": code, "message": message})
        if ref is not None:
            frame["ref"] = ref
        self.send(frame)

    def reply(self, event: str, data: dict[str, Any], ref: Ref) -> None:
        """Answer a command (echoing the client's ``ref``)."""
        frame = server_frame(event, data)
        if ref is not None:
            frame["ref"] = ref
        self.send(frame)

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
        self.language = self.identity.language
        self.reply("authenticated", {"userId": self.identity.user_id}, frame.ref)
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
        if self._holding and not isinstance(frame.command, ResumeFrame):
            self._holding = False
            self._tell_session(ReleaseHeld())
        handler = self._HANDLERS.get(type(frame.command))
        assert handler is not None
        await handler(self, frame.command, frame.ref)

    def _audio(self, chunk: bytes) -> None:
        """A speech-data frame: into the speaker's pipeline, within its bounds."""
        if self.service.speech_engines is None:
            self.error(SpeechUnavailableError.code, "this server runs without speech engines")
        elif self.speaking is None:
            self.error("not_speaking", "speech-data without start-speech")
        elif not self.audio_bucket.take():
            self._rate_limited("audio_rate_limited", self.settings.audio_frames_per_s)
        elif not self.speaking.budget.take(len(chunk)):
            self._rate_limited("audio_overflow", 0)
        else:
            self.speaking.pipeline.tell(AudioChunk(chunk))

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

    async def _ask_room(self, make: Callable[[Reply], RoomCommand]) -> Outcome:
        """Send a command to the room and await its outcome without blocking the loop."""
        assert self.room_code is not None
        future: asyncio.Future[Outcome] = self.loop.create_future()

        def reply(outcome: Outcome) -> None:
            self.loop.call_soon_threadsafe(_resolve, future, outcome)

        self.service.tell_room(self.room_code, make(reply))
        try:
            return await asyncio.wait_for(future, self.settings.command_timeout_s)
        except TimeoutError:
            return Refused("timeout", "the room did not answer in time")

    def _refused(self, outcome: Outcome, ref: Ref) -> bool:
        if isinstance(outcome, Refused):
            self.error(outcome.code, outcome.message, ref)
            return True
        return False

    def _ack(self, name: str, outcome: Accepted, ref: Ref) -> None:
        if ref is not None:
            self.reply("ack", {"event": name, "position": outcome.position}, ref)

    def _require_room(self, ref: Ref) -> bool:
        if self.room_code is None:
            self.error("not_in_room", "join a room first", ref)
            return False
        return True

    def _tell_session(self, message: object) -> None:
        session = self.service.session(self.session_key)
        if session is not None:
            with contextlib.suppress(Exception):
                session.tell(message)

    def _leave(self, reason: str) -> None:
        """Leave the current room without waiting (disconnects, drops, switching rooms)."""
        if self.room_code is None or self.identity is None:
            return
        user_id = self.identity.user_id
        self._stop_pipeline()
        self.service.tell_room(self.room_code, LeaveRoom(user_id, reason, ignore_reply))
        if self.room_id is not None:
            self.service.close_session(self.session_key, self.room_id)
        self.room_code = None
        self.room_id = None

    async def _on_authenticate(self, _: Command, ref: Ref) -> None:
        self.error("already_authenticated", "this connection is already authenticated", ref)

    async def _on_join(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, JoinRoomFrame)
        await self._join(command, ref, ref)

    async def _join(self, command: JoinRoomFrame, ref: Ref, reply_ref: Ref) -> None:
        """Join a room; a refusal echoes ``ref``, the ``joined-room`` answer ``reply_ref``."""
        assert self.identity is not None
        identity = self.identity
        if self.room_code is not None:
            await self._on_leave(LeaveRoomFrame(), None)
        language = command.language or identity.language
        self.room_code = command.room_code
        outcome = await self._ask_room(
            lambda reply: JoinRoom(identity.user_id, identity.name, language, reply)
        )
        if self._refused(outcome, ref):
            self.room_code = None
            return
        assert isinstance(outcome, Accepted) and outcome.room_id is not None
        self.room_id = outcome.room_id
        self.language = language
        self.reply(
            "joined-room",
            {
                "roomId": command.room_code,
                "userId": identity.user_id,
                "language": language,
                "position": outcome.position,
            },
            reply_ref,
        )
        spec = SessionSpec(
            user_id=identity.user_id,
            room_code=command.room_code,
            language=language,
            joined_at=outcome.position,
            store=self.service.store,
            sink=self,
            cursor=DeliveryCursor(outcome.position),
            # Held even when the join carries ``since``: the Resume told below
            # releases them, so no live frame can overtake the missed ones.
            hold_s=self.service.settings.resume_window_s,
            preferences=outcome.preferences or Preferences(),
            speech=self.service.synthesis,
            in_voice_session=outcome.in_voice_session,
        )
        self.preferences = spec.preferences
        self.service.open_session(self.session_key, outcome.room_id, spec)
        self._holding = spec.hold_s > 0 and command.since is None
        if command.since is not None:
            self._tell_session(Resume(command.since))

    async def _on_leave(self, _: Command, ref: Ref) -> None:
        if not self._require_room(ref) or self.identity is None:
            return
        user_id = self.identity.user_id
        code = self.room_code
        self._stop_pipeline()
        outcome = await self._ask_room(lambda reply: LeaveRoom(user_id, "left", reply))
        if self.room_id is not None:
            self.service.close_session(self.session_key, self.room_id)
        self.room_code = None
        self.room_id = None
        if not self._refused(outcome, ref):
            await self._leave_livekit(user_id)
            self.reply("left-room", {"roomId": code}, ref)

    async def _on_set_language(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, SetLanguage)
        if await self._room_command(
            "set-language", ref, lambda user, reply: ChangeLanguage(user, command.language, reply)
        ):
            self.language = command.language

    async def _on_start_voice(self, command: Command, ref: Ref) -> None:
        """Ensure the LiveKit room, record the session, see to an agent, hand out a token.

        The LiveKit room is made before anything is recorded, so a LiveKit
        outage refuses the session (``livekit_unavailable``) and leaves no
        trace. The agent comes asynchronously: the media plane dispatches it
        and keeps dispatching until one is attached.
        """
        assert isinstance(command, StartVoiceSessionFrame) and self.identity is not None
        media = self.gateway.media
        if media is None:
            self.error("livekit_not_configured", "this server runs without LiveKit", ref)
            return
        if command.room_code is not None and command.room_code != self.room_code:
            await self._join(JoinRoomFrame(command.room_code, command.language, None), ref, None)
        if not self._require_room(ref):
            return
        room = self.room_code
        assert room is not None
        identity = self.identity
        language = command.language or self.language
        try:
            await media.prepare(room)
        except LiveKitUnavailableError as error:
            self.error("livekit_unavailable", str(error), ref)
            return
        outcome = await self._ask_room(
            lambda reply: StartVoiceSession(
                identity.user_id, language, command.solo_target, room, reply
            )
        )
        if self._refused(outcome, ref):
            return
        assert isinstance(outcome, Accepted)
        media.voice_started(room)
        self.voice_room = room
        token = media.token(room, identity.user_id, identity.name, language)
        self.reply(
            "voice-session-ready",
            {
                "roomId": room,
                "liveKitToken": token.token,
                "liveKitUrl": media.url,
                "expiresAt": token.expires_at.isoformat().replace("+00:00", "Z"),
                "language": language,
                "position": outcome.position,
            },
            ref,
        )

    async def _on_stop_voice(self, _: Command, ref: Ref) -> None:
        """Record the end of the session and take the user out of the LiveKit room."""
        if not self._require_room(ref) or self.identity is None:
            return
        room = self.room_code
        user_id = self.identity.user_id
        outcome = await self._ask_room(lambda reply: StopVoiceSession(user_id, reply))
        if self._refused(outcome, ref):
            return
        assert isinstance(outcome, Accepted)
        await self._leave_livekit(user_id)
        self.reply("voice-session-ended", {"roomId": room, "position": outcome.position}, ref)

    async def _leave_livekit(self, user_id: str) -> None:
        """Disconnect the user's LiveKit client, so the agent stops transcribing them."""
        room, self.voice_room = self.voice_room, None
        if room is not None and self.gateway.media is not None:
            await self.gateway.media.remove(room, user_id)

    async def _on_start_speech(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, StartSpeechFrame)
        if not self._require_room(ref) or self.identity is None:
            return
        if self.speaking is not None:
            self.error("already_speaking", "stop-speech before starting again", ref)
            return
        user_id = self.identity.user_id
        outcome = await self._ask_room(
            lambda reply: StartSpeech(
                user_id,
                command.language,
                command.solo_target,
                command.encoding,
                command.sample_rate,
                reply,
            )
        )
        if self._refused(outcome, ref):
            return
        assert isinstance(outcome, Accepted)
        if self.service.speech_engines is None:
            self._ack("start-speech", outcome, ref)
            return
        budget = AudioBudget(self.settings.audio_buffer_bytes)
        preferences = outcome.preferences or Preferences()
        spec = PipelineSpec(
            command.language,
            command.encoding,
            command.sample_rate,
            budget,
            preference(preferences.stt_engine),
        )
        speaking = Speaking(budget, asyncio.Event())
        try:
            speaking.pipeline = self.service.open_pipeline(
                spec, SpeakerOutput(self, speaking, command.language)
            )
        except AudioFormatError as error:
            self.error(error.code, str(error), ref)
            self.service.tell_room(self.room_code or "", StopSpeech(user_id, ignore_reply))
            return
        self.speaking = speaking
        self._ack("start-speech", outcome, ref)

    async def _on_stop_speech(self, _: Command, ref: Ref) -> None:
        speaking = self.speaking
        if speaking is not None:
            speaking.pipeline.tell(EndAudio())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(speaking.ended.wait(), self.settings.command_timeout_s)
            self._stop_pipeline()
        await self._room_command("stop-speech", ref, StopSpeech)

    def _stop_pipeline(self) -> None:
        if self.speaking is not None:
            with contextlib.suppress(pykka.ActorDeadError):
                self.speaking.pipeline.stop(block=False)
            self.speaking = None

    async def _on_set_preferences(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, SetPreferencesFrame)
        unknown = self._unknown_engine(command)
        if unknown:
            self.error("unknown_engine", unknown, ref)
            return
        await self._room_command(
            "set-preferences",
            ref,
            lambda user, reply: ChangePreferences(
                user,
                reply,
                command.speech,
                command.stt_engine,
                command.translation_engine,
                command.tts_engine,
                command.voice,
            ),
        )

    def _unknown_engine(self, command: SetPreferencesFrame) -> str | None:
        """Why an engine or voice named in ``set-preferences`` is not one we have."""
        service = self.service
        checks: list[tuple[str, str | None, Callable[[str], bool]]] = [
            ("translationEngine", command.translation_engine, service.registry.known_engine),
        ]
        if service.speech_engines is not None and service.synthesis is not None:
            synthesizers = service.synthesis.registry
            checks += [
                ("sttEngine", command.stt_engine, service.speech_engines.recognizers.known_engine),
                ("ttsEngine", command.tts_engine, synthesizers.known_engine),
                (
                    "voice",
                    command.voice,
                    lambda voice: voice in {v.id for v in synthesizers.voices()},
                ),
            ]
        for field_name, name, known in checks:
            if name and not known(name):
                return f"{field_name} {name!r} is not available on this server"
        return None

    async def _on_transcript(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, SpeechTranscript)
        await self._room_command(
            "speech-transcript",
            ref,
            lambda user, reply: SubmitTranscript(
                user, command.text, command.source_language, "client", 0, reply, mode=command.mode
            ),
        )

    async def _on_client_error(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, ClientErrorFrame)
        await self._room_command(
            "client-error",
            ref,
            lambda user, reply: ReportClientError(
                user, command.code, command.message, command.details, reply
            ),
        )

    async def _on_resume(self, command: Command, ref: Ref) -> None:
        assert isinstance(command, ResumeFrame)
        if self._require_room(ref):
            self._holding = False
            self._tell_session(Resume(command.since, ref))

    async def _room_command(
        self, name: str, ref: Ref, make: Callable[[str, Reply], RoomCommand]
    ) -> Accepted | None:
        """Send a member's command to their room; ack or report the refusal.

        Returns:
            The outcome if the room accepted the command, else None.
        """
        if not self._require_room(ref) or self.identity is None:
            return None
        user_id = self.identity.user_id
        outcome = await self._ask_room(lambda reply: make(user_id, reply))
        if self._refused(outcome, ref):
            return None
        assert isinstance(outcome, Accepted)
        self._ack(name, outcome, ref)
        return outcome

    _HANDLERS: ClassVar[dict[type, Callable[[ClientConnection, Command, Ref], Any]]] = {
        Authenticate: _on_authenticate,
        JoinRoomFrame: _on_join,
        LeaveRoomFrame: _on_leave,
        SetLanguage: _on_set_language,
        StartSpeechFrame: _on_start_speech,
        StopSpeechFrame: _on_stop_speech,
        StartVoiceSessionFrame: _on_start_voice,
        StopVoiceSessionFrame: _on_stop_voice,
        SpeechTranscript: _on_transcript,
        ClientErrorFrame: _on_client_error,
        ResumeFrame: _on_resume,
        SetPreferencesFrame: _on_set_preferences,
    }


@dataclass
class Speaking:
    """A connection's speech in progress: its pipeline, bound and end signal."""

    budget: AudioBudget
    ended: asyncio.Event
    pipeline: pykka.ActorRef[Any] = field(init=False)


class SpeakerOutput:
    """Where a speaker's pipeline reports: the room, the speaker, the loop."""

    def __init__(self, connection: ClientConnection, speaking: Speaking, language: str) -> None:
        assert connection.identity is not None and connection.room_code is not None
        assert connection.room_id is not None
        self.connection = connection
        self.speaking = speaking
        self.identity = connection.identity
        self.room_code = connection.room_code
        self.room_id = connection.room_id
        self.loop = connection.loop
        self.language = language

    def partial(self, utterance: UUID, text: str) -> None:
        """Show the room a caption of what is being said (not stored)."""
        frame = server_frame(
            "partial-speech",
            {
                "id": str(utterance),
                "text": text,
                "sourceLang": self.language,
                "speakerName": self.identity.name,
            },
        )
        self.connection.service.router.broadcast(
            self.room_id, Transient(Outgoing(orjson.dumps(frame)))
        )

    def final(self, utterance: UUID, transcript: Transcript, duration_ms: int) -> None:
        """Record the utterance's transcript in the room, like a typed one."""
        self.connection.service.tell_room(
            self.room_code,
            SubmitTranscript(
                self.identity.user_id,
                transcript.text,
                transcript.language,
                transcript.engine,
                duration_ms,
                self._report_refusal,
                utterance,
                transcript.decode_ms,
                transcript.fallbacks,
            ),
        )

    def error(self, code: str, message: str) -> None:
        """Tell the speaker what was wrong with their audio."""
        self.loop.call_soon_threadsafe(self.connection.error, code, message)

    def ended(self) -> None:
        """Let ``stop-speech`` finish."""
        self.loop.call_soon_threadsafe(self.speaking.ended.set)

    def _report_refusal(self, outcome: Outcome) -> None:
        if isinstance(outcome, Refused):
            self.error(outcome.code, outcome.message)


def _resolve(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)
