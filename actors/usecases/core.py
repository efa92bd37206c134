"""VoiceCore: the use cases every shell calls, whatever its wire format.

The WebSocket gateway, the agent channel (and so every LiveKit agent) and the
HTTP API translate their wire formats into calls on this facade and never
reach the store, the writer or the router themselves. A sentence spoken over
the WebSocket and one heard by a LiveKit agent take the same path from final
transcript to room command (:meth:`VoiceCore.submit_transcript`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError

from actors.agent_messages import FinalTranscript, MediaQuality, RoomUpdate, SynthesisReport
from actors.assistant.commands import CommandError, CommandSource, parse_command
from actors.media import MediaPlane, RoomModerator
from actors.media_quality import MediaReading
from actors.messages import Outcome, Refused, Reply, SetAssistant, SubmitTranscript, Transient
from actors.projections.room_follower import RoomFollower
from actors.projections.voice_rooms import ActiveVoiceRooms
from actors.service import VoiceService
from actors.usecases import history
from actors.usecases.asking import ask_room, await_outcome
from actors.usecases.history import RoomEvents, RoomState
from actors.usecases.management import Caller, RoomManagement
from actors.usecases.offered import Offered, offered
from actors.usecases.participant import Participant, ParticipantOutput, User
from actors.wire import Caption, ClientWire
from events.domain import (
    LIVEKIT_CHANNEL,
    LiveKitWebhookReceived,
    SpeechSynthesized,
    room_id_for,
    webhook_stream_for,
)

if TYPE_CHECKING:
    from actors.media import LiveKitWebhook

log = logging.getLogger(__name__)

ASSISTANT_OFF = Refused("assistant_unavailable", "this server runs without the assistant")


@dataclass(frozen=True)
class EngineChoice:
    """Engines and voice a user names in their preferences (None or empty: not named)."""

    stt_engine: str | None = None
    translation_engine: str | None = None
    tts_engine: str | None = None
    voice: str | None = None


class VoiceCore:
    """The application's use cases on a running :class:`~actors.service.VoiceService`.

    Stateless apart from its ports, so each shell may make its own.

    Args:
        service: the running actor system.
        wire: builds the WebSocket clients' frames (sessions, captions).
        media: LiveKit, or None to refuse voice sessions.
        command_timeout_s: how long a room may take to answer a command.
        audio_buffer_bytes: speech audio a speaker may have queued.
        moderator: LiveKit's rooms, for managing rooms (None: without LiveKit).
        agent_rooms: the rooms an agent is attached to right now.

    """

    def __init__(
        self,
        service: VoiceService,
        wire: ClientWire,
        media: MediaPlane | None = None,
        *,
        command_timeout_s: float = 15.0,
        audio_buffer_bytes: int = 512 * 1024,
        moderator: RoomModerator | None = None,
        agent_rooms: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.service = service
        self.wire = wire
        self.media = media
        self.command_timeout_s = command_timeout_s
        self.audio_buffer_bytes = audio_buffer_bytes
        self.management = RoomManagement(service, moderator, agent_rooms, command_timeout_s)
        """Listing, closing, removing and muting (see :mod:`actors.usecases.management`)."""

    @property
    def speech_available(self) -> bool:
        """Whether the service runs with speech engines (speech-data, synthesis)."""
        return self.service.speech_engines is not None

    def participant(self, user: User, output: ParticipantOutput, key: str) -> Participant:
        """One connected user's use cases; ``key`` names their session."""
        return Participant(self, user, output, key)

    # speech from any source ---------------------------------------------------

    def caption(self, caption: Caption) -> None:
        """Show the room's clients a caption of what is being said (not stored)."""
        frame = self.wire.caption(caption)
        self.service.router.broadcast(room_id_for(caption.room_code), Transient(frame))

    def submit_transcript(self, transcript: FinalTranscript, reply: Reply) -> None:
        """Record a spoken utterance's final transcript in its room (from any thread)."""
        self.service.tell_room(transcript.room_code, _submit(transcript, reply))

    async def record_transcript(self, transcript: FinalTranscript) -> Outcome:
        """:meth:`submit_transcript` from the loop, awaiting the room's outcome.

        The room is told from a worker thread: starting its actor loads its
        stream from the store.
        """
        return await ask_room(
            self.service,
            transcript.room_code,
            lambda reply: _submit(transcript, reply),
            self.command_timeout_s,
            off_loop=True,
        )

    def record_synthesis(self, report: SynthesisReport) -> None:
        """Record what an agent spoke on its LiveKit track, apart from WebSocket syntheses."""
        event = SpeechSynthesized.recording(
            room_id=room_id_for(report.room_code),
            transcript_id=report.transcript_id,
            language=report.language,
            voice=report.voice,
            engine=report.engine,
            sample_rate=report.sample_rate,
            audio_ms=report.audio_ms,
            first_chunk_ms=report.first_chunk_ms,
            fallbacks=report.fallbacks,
            error_code=report.error_code,
            channel=LIVEKIT_CHANNEL,
        )
        self.service.writer.submit([event], _log_refused_synthesis)

    # the assistant --------------------------------------------------------------

    async def assistant_command(
        self, room_code: str, user_id: str, text: str, source: CommandSource
    ) -> Outcome:
        """Give the assistant a typed or data-packet command; Accepted once it is recorded.

        It goes to the room's shared conversation if the room has the
        assistant on, else to the user's own.
        """
        desk = self.service.assistant
        if desk is None:
            return ASSISTANT_OFF
        try:
            command = parse_command(text, source)
        except CommandError as error:
            return Refused(error.code, str(error))
        loop = asyncio.get_running_loop()
        room = await loop.run_in_executor(None, self.service.store.load_room, room_code)
        if room is None or not room.present(user_id):
            return Refused("not_in_room", "join the room first")
        owner = None if room.assistant else user_id
        language = room.members[user_id].language
        return await await_outcome(
            lambda reply: desk.command(room_code, owner, user_id, language, command, reply),
            self.command_timeout_s,
        )

    async def set_assistant(self, room_code: str, user_id: str, *, enabled: bool) -> Outcome:
        """Turn a room's shared assistant on or off (for the room's creator, from the HTTP API)."""
        return await ask_room(
            self.service,
            room_code,
            lambda reply: SetAssistant(user_id, enabled, reply),
            self.command_timeout_s,
            off_loop=True,
        )

    def speech_began(self, room_code: str, user_id: str) -> None:
        """From any thread: ``user_id`` started speaking, so answers they hear stop."""
        if self.service.assistant is not None:
            self.service.assistant.speech_began(room_code, user_id)

    # LiveKit ------------------------------------------------------------------

    def follow_room(
        self, room_code: str, publish: Callable[[RoomUpdate | None], None]
    ) -> RoomFollower:
        """What an agent serving ``room_code`` must know, from the log (start it off the loop)."""
        return RoomFollower(self.service.store, self.service.router, room_code, publish)

    def record_media_quality(self, report: MediaQuality) -> None:
        """Keep the media quality a room's agent measured (a measurement, not an event)."""
        self.service.media_quality.put(report)

    async def media_quality(self, room_code: str, caller: Caller) -> MediaReading | Refused:
        """The room's latest media quality, for whoever may see the room (see RoomManagement)."""
        seen = await self.management.room(room_code, caller)
        if isinstance(seen, Refused):
            return seen
        reading = self.service.media_quality.get(room_code)
        if reading is None:
            return Refused("no_media_metrics", f"no agent reported media quality for {room_code}")
        return reading

    def follow_voice_rooms(self, changed: Callable[[], None]) -> ActiveVoiceRooms:
        """Which LiveKit rooms have voice sessions, from the log (start it off the loop)."""
        return ActiveVoiceRooms(self.service.store, changed)

    def record_webhook(self, hook: LiveKitWebhook) -> None:
        """Record a verified webhook as a fact (blocking); a redelivery is already there."""
        event = LiveKitWebhookReceived(
            originator_id=webhook_stream_for(hook.webhook_id),
            originator_version=1,
            timestamp=LiveKitWebhookReceived.create_timestamp(),
            room_id=room_id_for(hook.room_name),
            **dataclasses.asdict(hook),  # the hook mirrors the event's fields
        )
        try:
            self.service.writer.append([event])
        except IntegrityError:
            log.info("LiveKit webhook %s was already recorded", hook.webhook_id)

    # queries ------------------------------------------------------------------

    def unknown_engine(self, choice: EngineChoice) -> str | None:
        """Why an engine or voice a user names is not one this server has (None: all known)."""
        service = self.service
        checks: list[tuple[str, str | None, Callable[[str], bool]]] = [
            ("translationEngine", choice.translation_engine, service.registry.known_engine),
        ]
        if service.speech_engines is not None and service.synthesis is not None:
            synthesizers = service.synthesis.registry
            checks += [
                ("sttEngine", choice.stt_engine, service.speech_engines.recognizers.known_engine),
                ("ttsEngine", choice.tts_engine, synthesizers.known_engine),
                (
                    "voice",
                    choice.voice,
                    lambda voice: voice in {v.id for v in synthesizers.voices()},
                ),
            ]
        for field_name, name, known in checks:
            if name and not known(name):
                return f"{field_name} {name!r} is not available on this server"
        return None

    async def offered(self) -> Offered:
        """The languages, engines and voices a client may choose from (read off the loop)."""
        return await asyncio.get_running_loop().run_in_executor(None, offered, self.service)

    async def room_events(
        self, room_code: str, user_id: str, after: int, limit: int
    ) -> RoomEvents | Refused:
        """A page of the room's explained events after ``after``, for someone who joined it."""
        return await asyncio.get_running_loop().run_in_executor(
            None, history.room_events, self.service.store, room_code, user_id, after, limit
        )

    async def room_state(self, room_code: str, user_id: str, at: int | None) -> RoomState | Refused:
        """The room as it was at position ``at`` (None: now), for someone who joined it."""
        return await asyncio.get_running_loop().run_in_executor(
            None, history.room_state, self.service.store, room_code, user_id, at
        )

    async def position(self) -> int:
        """How far the event log has come."""
        return await asyncio.get_running_loop().run_in_executor(None, self.service.store.position)


def _submit(transcript: FinalTranscript, reply: Reply) -> SubmitTranscript:
    """The room command of a spoken utterance's final transcript."""
    return SubmitTranscript(
        transcript.speaker_id,
        transcript.text,
        transcript.language,
        transcript.engine,
        transcript.duration_ms,
        reply,
        transcript.utterance_id,
        transcript.decode_ms,
        transcript.fallbacks,
    )


def _log_refused_synthesis(result: Sequence[int] | BaseException) -> None:
    """A synthesis already recorded (a report sent again) is not recorded twice."""
    if isinstance(result, BaseException):
        log.info("agent speech synthesis not recorded: %s", result)
