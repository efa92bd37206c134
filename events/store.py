"""The event store: one log of every fact, read by position.

Wraps an eventsourcing process recorder (events plus tracking in one
database) and a mapper. Positions are the recorder's notification ids: every
stored event has one, they only grow, and clients see them as ``pos``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.persistence import (
    InfrastructureFactory,
    Mapper,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
)

from events.domain import (
    Conversation,
    LiveKitWebhookReceived,
    Room,
    SpeechSynthesized,
    TranslationProduced,
    room_id_for,
)
from events.postgres import postgres_environment
from events.recording import AudioDeleted, AudioRecorded
from events.sqlite import StoredRow, originator_hex
from events.transcoder import build_transcoder

SQLITE_POLL_INTERVAL_S = "0.05"
POSTGRES_DEFAULTS = {"POSTGRES_CONNECT_TIMEOUT": "5"}
"""The library waits 30 s for an unreachable server; a start-up that fails says so sooner."""


NewEvents = Sequence[DomainEventProtocol[UUID]]
"""Events about to be recorded: aggregate events or plain domain events."""


@dataclass(frozen=True)
class Recorded:
    """A stored event together with its position in the log."""

    position: int
    event: DomainEvent


class LogFollower:
    """A live subscription to the log that yields positioned events."""

    def __init__(
        self, subscription: Subscription[Any], decode: Callable[[Notification], Recorded]
    ) -> None:
        self._subscription = subscription
        self._decode = decode

    def __iter__(self) -> Iterator[Recorded]:
        """Events in log order; blocks while waiting for new ones."""
        return (self._decode(notification) for notification in self._subscription)

    def notifications(self) -> Iterator[Notification]:
        """The raw stored notifications, for readers that decode themselves."""
        return iter(self._subscription)

    def stop(self) -> None:
        """End the iteration (thread-safe)."""
        self._subscription.stop()


def store_environment(db: str) -> dict[str, str]:
    """Translate a ``VOICEMODE_DB`` value into eventsourcing's environment.

    A ``postgresql://`` URL selects PostgreSQL (other ``POSTGRES_*`` variables,
    such as ``POSTGRES_POOL_SIZE`` or ``POSTGRES_SCHEMA``, tune it); anything
    else is a SQLite file.
    """
    if db.startswith(("postgresql://", "postgres://")):
        tuning = {key: value for key, value in os.environ.items() if key.startswith("POSTGRES_")}
        return {**POSTGRES_DEFAULTS, **tuning, **postgres_environment(db)}
    return {
        "PERSISTENCE_MODULE": "events.sqlite",
        "SQLITE_DBNAME": db,
        "SQLITE_LOCK_TIMEOUT": "30",
        "SQLITE_POLL_INTERVAL": SQLITE_POLL_INTERVAL_S,
    }


def room_of(event: DomainEvent) -> UUID:
    """The id of the room an event belongs to, whatever stream holds it."""
    if isinstance(
        event,
        TranslationProduced
        | SpeechSynthesized
        | LiveKitWebhookReceived
        | Conversation.Event
        | AudioRecorded
        | AudioDeleted,
    ):
        return event.room_id
    return event.originator_id


class EventStore:
    """Append domain events and read them back as a positioned log.

    Blocking: call it from actor or worker threads, never the asyncio loop.
    """

    def __init__(self, recorder: ProcessRecorder, mapper: Mapper[UUID]) -> None:
        self.recorder = recorder
        self.mapper = mapper

    @classmethod
    def open(cls, db: str) -> EventStore:
        """Open (creating tables if needed) the store named by ``db``."""
        env = {**store_environment(db), "CREATE_TABLE": "y"}
        factory = InfrastructureFactory.construct(env)
        recorder = factory.process_recorder()
        return cls(recorder, Mapper(transcoder=build_transcoder()))

    def check_writable(self) -> None:
        """Begin a write and roll it back, so a store that refuses writes is found at start.

        Raises:
            Exception: what the database raised (read-only file, read-only
                PostgreSQL replica, ...).
        """
        check = getattr(self.recorder, "check_writable", None)
        if check is not None:
            check()
            return
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None:  # PostgreSQL: a standby refuses even a temporary table
            with datastore.transaction(commit=False) as cursor:
                cursor.execute("CREATE TEMPORARY TABLE voicemode_write_probe (probe INTEGER)")

    def append(self, events: NewEvents, tracking: Tracking | None = None) -> Sequence[int]:
        """Record events (and optionally a projection's position) atomically.

        Returns:
            The positions given to the events, in order.
        """
        return self.append_stored(self.encode(events), tracking)

    def encode(self, events: NewEvents) -> list[StoredEvent]:
        """Serialize events for the recorder (CPU work any thread may do)."""
        return [self.mapper.to_stored_event(event) for event in events]

    def append_stored(
        self, stored: Sequence[StoredEvent], tracking: Tracking | None = None
    ) -> Sequence[int]:
        """Record already-serialized events (and a tracking position) atomically."""
        positions = self.recorder.insert_events(stored, tracking=tracking)
        return list(positions or ())

    def load_room(self, code: str) -> Room | None:
        """Rebuild a room from its stream, or None if it was never opened."""
        room: Any = None
        for event in self.stream(room_id_for(code)):
            room = event.mutate(room)  # type: ignore[attr-defined]
        return cast(Room | None, room)

    def stream(self, stream_id: UUID) -> Iterator[DomainEvent]:
        """The events of one stream, in order, without scanning the log."""
        for stored in self.recorder.select_events(stream_id):
            yield cast(DomainEvent, self.mapper.to_domain_event(stored))

    def decode(self, notification: Notification) -> Recorded:
        """Turn a notification from the recorder into a positioned event."""
        event = cast(DomainEvent, self.mapper.to_domain_event(notification))
        return Recorded(notification.id, event)

    def read(
        self,
        after: int = 0,
        until: int | None = None,
        batch: int = 1000,
        topics: Sequence[str] = (),
    ) -> Iterator[Recorded]:
        """Yield events with positions in ``(after, until]``, in order."""
        for notification in self._notifications(after, until, batch, topics):
            yield self.decode(notification)

    def _notifications(
        self, after: int, until: int | None, batch: int, topics: Sequence[str]
    ) -> Iterator[Notification]:
        position = after
        while True:
            notifications = self.recorder.select_notifications(
                start=position,
                limit=batch,
                stop=until,
                topics=topics,
                inclusive_of_start=False,
            )
            yield from notifications
            if len(notifications) < batch:
                return
            position = notifications[-1].id

    def read_room(self, code: str, after: int = 0, until: int | None = None) -> Iterator[Recorded]:
        """Yield the events of one room (its stream and its translations)."""
        room_id = room_id_for(code)
        for recorded in self.read(after, until):
            if room_of(recorded.event) == room_id:
                yield recorded

    @contextmanager
    def follow(self, after: int, topics: Sequence[str] = ()) -> Iterator[LogFollower]:
        """Subscribe to the log from ``after``: past events, then new ones live.

        Iterating blocks for new events; ``stop()`` (from any thread) or
        leaving the context ends it.
        """
        with self.recorder.subscribe(gt=after, topics=topics) as subscription:
            yield LogFollower(subscription, self.decode)

    def scan(
        self, after: int = 0, until: int | None = None, batch: int = 10_000
    ) -> Iterator[StoredRow]:
        """Raw stored rows in ``(after, until]``, for readers that decode themselves.

        Uses the recorder's fast path where it has one (SQLite).
        """
        fast = getattr(self.recorder, "scan", None)
        if fast is not None:
            rows: Iterator[StoredRow] = fast(after, until, batch)
            return rows
        return (
            (n.id, originator_hex(n.originator_id), n.topic, n.state)
            for n in self._notifications(after, until, batch, ())
        )

    def position(self) -> int:
        """The position of the newest event (0 for an empty store)."""
        return self.recorder.max_notification_id() or 0

    def tracked(self, projection: str) -> int:
        """How far a projection got: the last position it recorded (0 if none)."""
        return self.recorder.max_tracking_id(projection) or 0

    def close(self) -> None:
        """Close the database connections."""
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None:
            datastore.close()
