"""The running actor system: store, writer, projections and supervised actors.

Network shells (the WebSocket gateway, later the LiveKit agent) talk to the
system only through this class, with typed messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pykka

from actors.delivery import DeliveryRouter
from actors.fanout import TranslationFanout
from actors.messages import Refused, RoomCommand
from actors.room import RoomActor
from actors.session import ParticipantSessionActor, SessionSpec
from actors.supervisor import Supervisor
from adapters.translation.registry import TranslationRegistry
from events.store import EventStore
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSettings:
    """Tunables of the actor system."""

    away_grace: timedelta = timedelta(minutes=15)
    resume_window_s: float = 0.3
    translation_workers: int = 4


class VoiceService:
    """Owns every long-lived part of the system and their order of shutdown."""

    def __init__(
        self, store: EventStore, registry: TranslationRegistry, settings: ServiceSettings
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.writer = GroupCommitWriter(store)
        self.supervisor = Supervisor()
        self.router = DeliveryRouter(store)
        self.fanout = TranslationFanout(
            store, self.writer, registry, workers=settings.translation_workers
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

    def open_session(self, key: str, room_id: UUID, spec: SessionSpec) -> pykka.ActorRef[Any]:
        """Start a participant's session and route its room's events to it."""

        def start() -> pykka.ActorRef[Any]:
            ref = ParticipantSessionActor.start(spec, self.supervisor.report_failure_of(key))
            self.router.register(room_id, key, ref, spec.cursor.position)
            return ref

        self.supervisor.stop(key)
        return self.supervisor.get_or_start(key, start)

    def session(self, key: str) -> pykka.ActorRef[Any] | None:
        """The running session under ``key``, if any."""
        return self.supervisor.get(key)

    def close_session(self, key: str, room_id: UUID) -> None:
        """Stop delivering to a session and stop its actor."""
        self.router.unregister(room_id, key)
        self.supervisor.stop(key)

    def close(self) -> None:
        """Stop everything, projections first, then actors, writer and store."""
        self.fanout.stop()
        self.router.stop()
        self.supervisor.stop_all()
        self.writer.stop()
        self.registry.close()
        self.store.close()
