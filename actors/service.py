"""The running actor system: store, writer, projections and supervised actors.

Shells do not use it directly: they call the use cases of
:mod:`actors.usecases`, which run on this system.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pykka

from actors.assistant.conversation import AssistantSettings
from actors.assistant.desk import AssistantDesk
from actors.media_quality import MediaQualityBoard
from actors.messages import Refused, RoomCommand, SetRecording, ignore_reply
from actors.pipeline import PipelineOutput, PipelineSpec, SpeechEngines, SpeechPipelineActor
from actors.projections.delivery import DeliveryRouter
from actors.projections.fanout import TranslationFanout
from actors.projections.open_rooms import OpenRooms
from actors.recording import RecordingSettings, RecordingSystem
from actors.room import RoomActor
from actors.session import ParticipantSessionActor, SessionSpec
from actors.speech import SpeechSynthesis
from actors.supervisor import Supervisor
from actors.telemetry import NO_TELEMETRY, Telemetry
from actors.warmup import TranslationWarmer
from adapters.engines.llm.registry import ChatRegistry
from adapters.engines.translation.registry import TranslationRegistry
from adapters.engines.tts.registry import SynthesizerRegistry
from events.recording import STORE_FAILED
from events.store import EventStore
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)


STORE_OWNER = "voicemode"
"""Who ``RecordingStopped`` names when the server itself stopped a recording."""


class SpeechUnavailableError(RuntimeError):
    """Speech was asked of a service started without speech engines."""

    code = "speech_unavailable"


@dataclass(frozen=True)
class SpeechStack:
    """The speech engines a service may run with (none: text only)."""

    engines: SpeechEngines
    synthesizers: SynthesizerRegistry


@dataclass(frozen=True)
class AssistantStack:
    """The assistant's language models and how it answers (none: no assistant)."""

    chat: ChatRegistry
    settings: AssistantSettings


@dataclass(frozen=True)
class ServiceSettings:
    """Tunables of the actor system."""

    away_grace: timedelta = timedelta(minutes=15)
    resume_window_s: float = 0.3
    translation_workers: int = 4


class VoiceService:
    """Owns every long-lived part of the system and their order of shutdown.

    ``telemetry`` is told what only the running system can time (commits,
    deliveries); the metrics shell passes its own, everyone else none.
    """

    def __init__(
        self,
        store: EventStore,
        registry: TranslationRegistry,
        settings: ServiceSettings,
        speech: SpeechStack | None = None,
        assistant: AssistantStack | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        recording: RecordingSettings | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.telemetry = telemetry
        self.writer = GroupCommitWriter(store, telemetry.committed)
        self.recording = (
            RecordingSystem(store, self.writer, recording, self._recording_failed)
            if recording is not None
            else None
        )
        """Session recording (``serve --record``), or None: rooms cannot record."""
        self.speech_engines = speech.engines if speech else None
        self.synthesis = (
            SpeechSynthesis(
                speech.synthesizers,
                self.writer,
                spoken=self.recording.spoken if self.recording is not None else None,
            )
            if speech is not None
            else None
        )
        self.supervisor = Supervisor()
        self.media_quality = MediaQualityBoard()
        self.router = DeliveryRouter(store)
        self.fanout = TranslationFanout(
            store, self.writer, registry, workers=settings.translation_workers
        )
        self.warmer = TranslationWarmer(registry)
        self.open_rooms = OpenRooms(store)
        self.open_rooms.start()
        self.assistant = (
            AssistantDesk(
                store,
                self.writer,
                assistant.chat,
                assistant.settings,
                self.tell_room,
                self.router.broadcast,
            )
            if assistant is not None
            else None
        )

    def room(self, code: str) -> pykka.ActorRef[Any]:
        """The room's actor, started (and rebuilt from the store) if needed."""
        key = f"room:{code}"

        def start() -> pykka.ActorRef[Any]:
            return RoomActor.start(
                code,
                self.store,
                self.writer,
                self.settings.away_grace,
                self.supervisor.report_failure_of(key),
                self.warmer.warm,
            )

        return self.supervisor.get_or_start(key, start)

    def tell_room(self, code: str, command: RoomCommand) -> None:
        """Send a command to a room; if the actor just died, to its successor."""
        try:
            self.room(code).tell(command)
        except pykka.ActorDeadError:
            try:
                self.room(code).tell(command)
            except pykka.ActorDeadError:
                command.reply(Refused("room_unavailable", "the room is restarting; retry"))

    def _recording_failed(self, code: str) -> None:
        """The blob store refused a clip of room ``code``: its recording stops."""
        self.tell_room(code, SetRecording(STORE_OWNER, False, ignore_reply, STORE_FAILED))

    def open_session(self, key: str, room_id: UUID, spec: SessionSpec) -> pykka.ActorRef[Any]:
        """Start a participant's session and route its room's events to it."""

        def start() -> pykka.ActorRef[Any]:
            ref = ParticipantSessionActor.start(spec, self.supervisor.report_failure_of(key))
            self.router.register(room_id, key, ref, spec.cursor.position)
            return ref

        self.supervisor.stop(key)
        return self.supervisor.get_or_start(key, start)

    def open_pipeline(self, spec: PipelineSpec, output: PipelineOutput) -> pykka.ActorRef[Any]:
        """Start the speech pipeline of one speaking source.

        Raises:
            SpeechUnavailableError: the service runs without speech engines.
            AudioFormatError: the encoding or sample rate cannot be decoded.
        """
        if self.speech_engines is None:
            raise SpeechUnavailableError("this server runs without speech engines")
        return SpeechPipelineActor.start(spec, self.speech_engines, output)

    def session(self, key: str) -> pykka.ActorRef[Any] | None:
        """The running session under ``key``, if any."""
        return self.supervisor.get(key)

    def close_session(self, key: str, room_id: UUID) -> None:
        """Stop delivering to a session and stop its actor."""
        self.router.unregister(room_id, key)
        self.supervisor.stop(key)

    def close(self) -> None:
        """Stop everything, projections first, then actors, writer and store."""
        self.warmer.stop()
        self.open_rooms.stop()
        if self.assistant is not None:
            self.assistant.stop()
            self.assistant.chat.close()
        self.fanout.stop()
        self.router.stop()
        self.supervisor.stop_all()
        if self.synthesis is not None:
            self.synthesis.close()
        if self.recording is not None:
            self.recording.close()
        if self.speech_engines is not None:
            self.speech_engines.pool.shutdown()
            self.speech_engines.recognizers.close()
        self.writer.stop()
        self.registry.close()
        self.store.close()
