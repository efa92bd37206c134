"""One connected user's use cases: their room, session, speech and voice session.

A shell makes one :class:`Participant` per client connection and calls it
with typed values; each use case answers with a typed result or a
:class:`~actors.messages.Refused` carrying the stable error code, which the
shell turns into its own wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

import pykka

from actors.assistant.commands import CommandSource
from actors.media import MediaUnavailableError
from actors.messages import (
    Accepted,
    ChangeLanguage,
    ChangePreferences,
    JoinRoom,
    LeaveRoom,
    Outcome,
    Refused,
    ReleaseHeld,
    Reply,
    ReportClientError,
    Resume,
    RoomCommand,
    SetAssistant,
    StartSpeech,
    StartVoiceSession,
    StopSpeech,
    StopVoiceSession,
    SubmitTranscript,
    ignore_reply,
)
from actors.pipeline import AudioBudget, AudioChunk, EndAudio, PipelineSpec
from actors.session import DeliveryCursor, FrameSink, SessionSpec
from actors.usecases.asking import ask_room
from actors.usecases.recording import Recordings
from actors.usecases.speaking import Speaker, SpeakerOutput, Speaking
from adapters.engines.audio import AudioFormatError
from events.domain import Preferences, TranscriptMode, preference, room_id_for

if TYPE_CHECKING:
    from actors.usecases.core import EngineChoice, VoiceCore

NOT_IN_ROOM = Refused("not_in_room", "join a room first")
ASSISTANT_MODE = TranscriptMode(None, assistant=True)
"""The mode of a typed question: for the assistant."""
SPEECH_UNAVAILABLE = Refused("speech_unavailable", "this server runs without speech engines")
NOT_SPEAKING = Refused("not_speaking", "speech-data without start-speech")


class User(Protocol):
    """Who a participant is (a verified token's identity)."""

    @property
    def user_id(self) -> str:
        """Their stable id."""

    @property
    def name(self) -> str:
        """Their display name."""

    @property
    def language(self) -> str:
        """The language they hear unless they say otherwise."""

    @property
    def role(self) -> str:
        """``admin`` for an operator, who may manage every room (see RoomManagement)."""


class ParticipantOutput(FrameSink, Protocol):
    """Where a participant's frames and speech problems go (their connection)."""

    def report(self, code: str, message: str) -> None:
        """From any thread: tell the user what was wrong with their speech."""


@dataclass(frozen=True)
class Joined:
    """The room accepted the user: where they are, and what a newcomer must know of the room."""

    room_code: str
    user_id: str
    language: str
    position: int
    owner: str | None = None
    """Who may manage the room besides operators (None: a room opened before rooms had owners)."""
    recording: bool = False
    """The room's audio is being recorded (announced to everyone who joins)."""


@dataclass(frozen=True)
class Left:
    """The user left ``room_code``."""

    room_code: str


@dataclass(frozen=True)
class VoiceReady:
    """A voice session started: where and how the user's LiveKit client connects."""

    room_code: str
    token: str
    url: str
    expires_at: datetime
    language: str
    position: int


@dataclass(frozen=True)
class VoiceEnded:
    """The voice session in ``room_code`` ended."""

    room_code: str
    position: int


@dataclass(frozen=True)
class PreferenceChange:
    """What a user changes in their preferences; None keeps a value."""

    speech: bool | None
    engines: EngineChoice


class Participant:
    """One connected user: at most one room, session, speech and voice session at a time.

    Made and called on the shell's event loop.
    """

    def __init__(self, core: VoiceCore, user: User, output: ParticipantOutput, key: str) -> None:
        self.core = core
        self.service = core.service
        self.user = user
        self.output = output
        self.session_key = key
        self.room_code: str | None = None
        self.room_id: UUID | None = None
        self.language = user.language
        self.speaking: Speaking | None = None
        self.voice_room: str | None = None
        """The LiveKit room of this user's voice session, if one is active."""
        self._holding = False
        self._joins = 0
        """How many joins this participant started (refused ones too): tells a removal
        notice from an earlier room apart."""

    # membership ---------------------------------------------------------------

    async def join(
        self,
        room_code: str,
        language: str | None,
        since: int | None,
        announce: Callable[[Joined], None],
    ) -> Joined | Refused:
        """Enter a room and start delivering it (the user must not be in one).

        ``announce`` runs once the room accepted, before any of its events
        can reach the user. With ``since``, what the user missed after that
        position is sent first.
        """
        user = self.user
        language = language or user.language
        self.room_code = room_code
        # From now on a removal notice from the room before is stale: one arriving
        # while this join waits for the room must not put the user out of this one.
        self._joins += 1
        joins = self._joins
        outcome = await self._ask(lambda reply: JoinRoom(user.user_id, user.name, language, reply))
        if isinstance(outcome, Refused):
            self.room_code = None
            return outcome
        assert outcome.room_id is not None
        self.room_id = outcome.room_id
        self.language = language
        joined = Joined(
            room_code,
            user.user_id,
            language,
            outcome.position,
            owner=outcome.owner,
            recording=outcome.recording,
        )
        announce(joined)
        spec = SessionSpec(
            user_id=user.user_id,
            room_code=room_code,
            language=language,
            joined_at=outcome.position,
            store=self.service.store,
            sink=self.output,
            wire=self.core.wire,
            cursor=DeliveryCursor(outcome.position),
            # Held even when the join carries ``since``: the Resume told below
            # releases them, so no live frame can overtake the missed ones.
            hold_s=self.service.settings.resume_window_s,
            preferences=outcome.preferences or Preferences(),
            speech=self.service.synthesis,
            in_voice_session=outcome.in_voice_session,
            on_removed=self._removal_notice(joins),
            telemetry=self.service.telemetry,
        )
        self.service.open_session(self.session_key, outcome.room_id, spec)
        self._holding = spec.hold_s > 0 and since is None
        if since is not None:
            self._tell_session(Resume(since))
        return joined

    def _removal_notice(self, joined: int) -> Callable[[], None]:
        """What join number ``joined``'s session calls, on its thread, once the user is out."""
        loop = asyncio.get_running_loop()

        def removed() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is connected
                loop.call_soon_threadsafe(self._put_out, joined)

        return removed

    def _put_out(self, joined: int) -> None:
        """The room was closed, or the user removed from it: they are out of it (on the loop).

        The room recorded it, ended their voice session, and LiveKit
        disconnected them already; only this connection's side is left.
        """
        if joined != self._joins or self.room_code is None:
            return  # they left that room already
        self._stop_pipeline()
        self.voice_room = None
        self._close_session()

    async def leave(self) -> Left | Refused:
        """Leave the room, ending the user's speech and voice session."""
        code = self.room_code
        if code is None:
            return NOT_IN_ROOM
        user_id = self.user.user_id
        self._stop_pipeline()
        outcome = await self._ask(lambda reply: LeaveRoom(user_id, "left", reply))
        self._close_session()
        if isinstance(outcome, Refused):
            return outcome
        await self._leave_livekit()
        return Left(code)

    def leave_now(self, reason: str) -> None:
        """Leave without waiting (a disconnect, a drop)."""
        if self.room_code is None:
            return
        self._stop_pipeline()
        self.service.tell_room(self.room_code, LeaveRoom(self.user.user_id, reason, ignore_reply))
        self._close_session()

    def resume(self, since: int, ref: str | int | None) -> Refused | None:
        """Send what the user missed after ``since``, then go live."""
        if self.room_code is None:
            return NOT_IN_ROOM
        self._holding = False
        self._tell_session(Resume(since, ref))
        return None

    def acting(self, *, resuming: bool) -> None:
        """The user sent a command: one that is not a resume ends the resume window."""
        if self._holding and not resuming:
            self._holding = False
            self._tell_session(ReleaseHeld())

    async def set_language(self, language: str) -> Accepted | Refused:
        """Hear the room in ``language`` from now on."""
        outcome = await self._command(lambda user, reply: ChangeLanguage(user, language, reply))
        if isinstance(outcome, Accepted):
            self.language = language
        return outcome

    async def set_preferences(self, change: PreferenceChange) -> Accepted | Refused:
        """Change whether the user hears speech, and which engines and voice serve them."""
        unknown = self.core.unknown_engine(change.engines)
        if unknown:
            return Refused("unknown_engine", unknown)
        engines = change.engines
        return await self._command(
            lambda user, reply: ChangePreferences(
                user,
                reply,
                change.speech,
                engines.stt_engine,
                engines.translation_engine,
                engines.tts_engine,
                engines.voice,
            )
        )

    async def submit_text(
        self, text: str, language: str, mode: TranscriptMode | None
    ) -> Accepted | Refused:
        """Record a transcript the user typed (or recognized themselves)."""
        return await self._command(
            lambda user, reply: SubmitTranscript(
                user, text, language, "client", 0, reply, mode=mode
            )
        )

    async def ask_assistant(self, text: str) -> Accepted | Refused:
        """Ask the assistant a typed question (recorded as the user's transcript)."""
        language = self.language
        return await self._command(
            lambda user, reply: SubmitTranscript(
                user, text, language, "client", 0, reply, mode=ASSISTANT_MODE
            )
        )

    async def assistant_command(self, text: str) -> Accepted | Refused:
        """Give the assistant a typed command."""
        if self.room_code is None:
            return NOT_IN_ROOM
        return await self.core.assistant_command(
            self.room_code, self.user.user_id, text, CommandSource.TYPED
        )

    async def set_assistant(self, enabled: bool) -> Accepted | Refused:
        """Turn the room's shared assistant on or off."""
        return await self._command(lambda user, reply: SetAssistant(user, enabled, reply))

    async def set_recording(self, enabled: bool) -> Accepted | Refused:
        """Start or stop recording the room (for its owner or an operator)."""
        if self.room_code is None:
            return NOT_IN_ROOM
        return await Recordings(self.core).set(self.room_code, self.user, enabled=enabled)

    async def report_error(
        self, code: str, message: str, details: str | None
    ) -> Accepted | Refused:
        """Keep the client's own error report for replay."""
        return await self._command(
            lambda user, reply: ReportClientError(user, code, message, details, reply)
        )

    # speech over the connection -----------------------------------------------

    async def start_speech(
        self,
        language: str,
        solo_target: str | None,
        encoding: str,
        sample_rate: int,
        *,
        assistant: bool = False,
    ) -> Accepted | Refused:
        """Start speaking: the room records it, and audio goes to a fresh speech pipeline.

        With ``assistant``, what the user says is for the assistant (assistant mode).
        """
        if self.room_code is None:
            return NOT_IN_ROOM
        if self.speaking is not None:
            return Refused("already_speaking", "stop-speech before starting again")
        user = self.user
        outcome = await self._ask(
            lambda reply: StartSpeech(
                user.user_id, language, solo_target, encoding, sample_rate, reply, assistant
            )
        )
        if isinstance(outcome, Refused) or not self.core.speech_available:
            return outcome
        budget = AudioBudget(self.core.audio_buffer_bytes)
        preferences = outcome.preferences or Preferences()
        recording = self.service.recording
        spec = PipelineSpec(
            language,
            encoding,
            sample_rate,
            budget,
            preference(preferences.stt_engine),
            heard=recording.heard_by(room_id_for(self.room_code), user.user_id)
            if recording is not None
            else None,
        )
        speaking = Speaking(budget, asyncio.Event())
        speaker = Speaker(user.user_id, user.name, self.room_code, language)
        try:
            speaking.pipeline = self.service.open_pipeline(
                spec, SpeakerOutput(self.core, speaker, speaking, self.output.report)
            )
        except AudioFormatError as error:
            self.service.tell_room(self.room_code, StopSpeech(user.user_id, ignore_reply))
            return Refused(error.code, str(error))
        self.speaking = speaking
        return outcome

    def audio_refusal(self) -> Refused | None:
        """Why speech audio cannot be taken now, if it cannot."""
        if not self.core.speech_available:
            return SPEECH_UNAVAILABLE
        if self.speaking is None:
            return NOT_SPEAKING
        return None

    def speak(self, chunk: bytes) -> bool:
        """Pass audio to the pipeline; False if its buffer is full (the chunk is dropped)."""
        speaking = self.speaking
        assert speaking is not None
        if not speaking.budget.take(len(chunk)):
            return False
        speaking.pipeline.tell(AudioChunk(chunk))
        return True

    async def stop_speech(self) -> Accepted | Refused:
        """Stop speaking once every utterance so far is reported."""
        speaking = self.speaking
        if speaking is not None:
            speaking.pipeline.tell(EndAudio())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(speaking.ended.wait(), self.core.command_timeout_s)
            self._stop_pipeline()
        return await self._command(StopSpeech)

    # voice sessions (LiveKit) -------------------------------------------------

    async def start_voice(
        self, language: str | None, solo_target: str | None, *, assistant: bool = False
    ) -> VoiceReady | Refused:
        """Ensure the LiveKit room, record the session, see to an agent, hand out a token.

        The LiveKit room is made before anything is recorded, so a LiveKit
        outage refuses the session (``livekit_unavailable``) and leaves no
        trace. The agent comes asynchronously: the media plane dispatches it
        and keeps dispatching until one is attached.
        """
        media = self.core.media
        if media is None:
            return Refused("livekit_not_configured", "this server runs without LiveKit")
        room = self.room_code
        if room is None:
            return NOT_IN_ROOM
        user = self.user
        language = language or self.language
        try:
            await media.prepare(room)
        except MediaUnavailableError as error:
            return Refused("livekit_unavailable", str(error))
        outcome = await self._ask(
            lambda reply: StartVoiceSession(
                user.user_id, language, solo_target, room, reply, assistant
            )
        )
        if isinstance(outcome, Refused):
            return outcome
        media.voice_started(room)
        self.voice_room = room
        token = media.token(room, user.user_id, user.name, language)
        return VoiceReady(
            room, token.token, media.url, token.expires_at, language, outcome.position
        )

    async def stop_voice(self) -> VoiceEnded | Refused:
        """Record the end of the session and take the user out of the LiveKit room."""
        room = self.room_code
        if room is None:
            return NOT_IN_ROOM
        outcome = await self._command(StopVoiceSession)
        if isinstance(outcome, Refused):
            return outcome
        await self._leave_livekit()
        return VoiceEnded(room, outcome.position)

    # helpers ------------------------------------------------------------------

    async def _ask(self, make: Callable[[Reply], RoomCommand]) -> Outcome:
        assert self.room_code is not None
        return await ask_room(self.service, self.room_code, make, self.core.command_timeout_s)

    async def _command(self, make: Callable[[str, Reply], RoomCommand]) -> Accepted | Refused:
        """A member's command to their room."""
        if self.room_code is None:
            return NOT_IN_ROOM
        user_id = self.user.user_id
        return await self._ask(lambda reply: make(user_id, reply))

    def _tell_session(self, message: object) -> None:
        session = self.service.session(self.session_key)
        if session is not None:
            with contextlib.suppress(Exception):
                session.tell(message)

    def _close_session(self) -> None:
        if self.room_id is not None:
            self.service.close_session(self.session_key, self.room_id)
        self.room_code = None
        self.room_id = None

    def _stop_pipeline(self) -> None:
        if self.speaking is not None:
            with contextlib.suppress(pykka.ActorDeadError):
                self.speaking.pipeline.stop(block=False)
            self.speaking = None

    async def _leave_livekit(self) -> None:
        """Disconnect the user's LiveKit client, so the agent stops transcribing them."""
        room, self.voice_room = self.voice_room, None
        if room is not None and self.core.media is not None:
            await self.core.media.remove(room, self.user.user_id)
