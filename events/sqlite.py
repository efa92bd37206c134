"""SQLite recorders that can be subscribed to, selected with ``PERSISTENCE_MODULE=events.sqlite``.

The library's SQLite application recorder cannot be subscribed to, but the
projections (translation fan-out, delivery) follow the application sequence
live. SQLite has no LISTEN/NOTIFY, so a :class:`SQLiteSubscription` is woken in
two ways:

* at once, by any recorder in this process that commits events to the same
  database file (a process-wide registry of wake-up events, keyed by file);
* by polling every ``SQLITE_POLL_INTERVAL`` seconds (default 0.05), which is how
  commits made by other processes are seen.

Each wake-up runs one indexed ``rowid > last`` query, so polling is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import cached_property
from math import isfinite
from threading import Event, Lock, Thread
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing import sqlite as library_sqlite
from eventsourcing.persistence import (
    ApplicationRecorder,
    ListenNotifySubscription,
    ProcessRecorder,
    StoredEvent,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteProcessRecorder,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment, EnvType

DEFAULT_POLL_INTERVAL = 0.05
INSERT_ROWS_PER_STATEMENT = 500
"""Rows per multi-row INSERT (4 parameters each, well inside SQLite's 32,766)."""

_TRecorder = TypeVar("_TRecorder", bound=ApplicationRecorder)


class _CommitSignals:
    """Wake-up events of the subscriptions in this process, by database file."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._events: dict[str, set[Event]] = {}

    def add(self, database: str, event: Event) -> None:
        """Have ``event`` set whenever events are committed to ``database``."""
        with self._lock:
            self._events.setdefault(database, set()).add(event)

    def discard(self, database: str, event: Event) -> None:
        """Stop setting ``event`` for commits to ``database``."""
        with self._lock:
            events = self._events.get(database)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._events[database]

    def notify(self, database: str) -> None:
        """Wake every subscription on ``database``."""
        with self._lock:
            events = tuple(self._events.get(database, ()))
        for event in events:
            event.set()


_COMMITS = _CommitSignals()


def database_key(db_name: str, *, in_memory: bool) -> str:
    """Return one name for every way of naming the same SQLite database.

    A file may be named by a relative or absolute path, or a ``file:`` URI with
    query parameters; in-memory databases are only shared by their exact name.
    """
    if in_memory:
        return db_name
    path = db_name.removeprefix("file:").split("?", 1)[0]
    return os.path.realpath(path)


class _SingleStatement(SQLiteTransaction):
    """The library's transaction (same error mapping) around one autocommitted statement.

    In autocommit mode a statement outside ``BEGIN`` is a transaction of its
    own, committed (durably, with ``synchronous=FULL``) when it completes; the
    library's ``commit()`` and ``rollback()`` on exit are then no-ops.
    """

    def __enter__(self) -> SQLiteCursor:
        return self.connection.cursor()


def originator_hex(originator_id: UUID | str) -> str:
    """A stream id as stored: the hex of a UUID."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


StoredRow = tuple[int, str, str, bytes]
"""A stored event as the replay reads it: position, originator id, topic, state."""


class SubscribableSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite application recorder, plus :meth:`subscribe`.

    Every successful :meth:`insert_events` wakes the subscriptions on the same
    database in this process; ``poll_interval`` bounds how late a subscription
    sees events committed by another process.
    """

    poll_interval: float = DEFAULT_POLL_INTERVAL

    @cached_property
    def database_key(self) -> str:
        """The name under which commits to this recorder's database are signalled."""
        pool = self.datastore.pool
        return database_key(pool.db_name, in_memory=pool.is_sqlite_memory_mode)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert and commit the events, then wake the subscriptions in this process.

        Events that fit one statement, without a tracking record, are inserted
        by a statement that is its own transaction: no ``BEGIN`` and ``COMMIT``
        round trips, each of which releases the GIL and, under load, waits for
        it again behind every runnable thread.
        """
        if kwargs.get("tracking") is None and 0 < len(stored_events) <= INSERT_ROWS_PER_STATEMENT:
            with (
                self.datastore.get_connection(commit=True) as connection,
                _SingleStatement(connection) as cursor,
            ):
                notification_ids = self._insert_events(cursor, stored_events)
        else:
            notification_ids = super().insert_events(stored_events, **kwargs)
        _COMMITS.notify(self.database_key)
        return notification_ids

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
        """Insert the events with one statement per 500 rows; return their positions.

        The library executes one INSERT per event to read each ``lastrowid``;
        every statement releases the GIL and, under load (the group-commit
        writer's producers all runnable), waits to take it back behind them.
        One statement waits once. The rows of one statement get consecutive
        rowids (the table has no AUTOINCREMENT and the transaction holds
        SQLite's write lock), so the positions follow from the last one.
        """
        positions: list[int] = []
        for start in range(0, len(stored_events), INSERT_ROWS_PER_STATEMENT):
            chunk = stored_events[start : start + INSERT_ROWS_PER_STATEMENT]
            params: list[Any] = []
            for stored in chunk:
                params += (
                    originator_hex(stored.originator_id),
                    stored.originator_version,
                    stored.topic,
                    stored.state,
                )
            c.execute(self._insert_rows_statement(len(chunk)), params)
            last = c.lastrowid
            positions.extend(range(last - len(chunk) + 1, last + 1))
        return positions

    def _insert_rows_statement(self, rows: int) -> str:
        return f"INSERT INTO {self.events_table_name} VALUES " + ",".join(("(?,?,?,?)",) * rows)

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> SQLiteSubscription:
        """Return an iterator over the notifications after ``gt``, live once caught up."""
        return SQLiteSubscription(self, gt=gt, topics=topics)

    def check_writable(self) -> None:
        """Create a table in a transaction that is rolled back: fails on a read-only database.

        SQLite opens a file it may not write read-only without a word; the
        first refused write would otherwise be a client's.
        """
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("CREATE TABLE voicemode_write_probe (probe INTEGER)")

    def scan(self, after: int, until: int | None, batch: int) -> Iterator[StoredRow]:
        """Stream ``(position, originator id hex, topic, state)`` rows in log order.

        The replay debugger reads millions of rows; skipping the library's
        per-row Notification objects and UUID parsing halves the cost.
        """
        statement = (
            f"SELECT rowid, originator_id, topic, state FROM {self.events_table_name} "
            "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        stop = until if until is not None else 2**63 - 1
        position = after
        while True:
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, (position, stop, batch))
                rows: list[StoredRow] = [tuple(row) for row in cursor.fetchall()]
            yield from rows
            if len(rows) < batch:
                return
            position = rows[-1][0]


class SubscribableSQLiteProcessRecorder(
    SQLiteProcessRecorder, SubscribableSQLiteApplicationRecorder
):
    """The library's SQLite process recorder (events + tracking), plus :meth:`subscribe`."""


class SQLiteSubscription(ListenNotifySubscription[SubscribableSQLiteApplicationRecorder]):
    """A subscription to an SQLite application sequence, woken by commits and a timer.

    The library's listen/notify subscription pulls new notifications in a thread
    each time its "notified" event is set; this class sets that event on commits
    in this process (through the registry) and every poll interval.
    """

    def __init__(
        self,
        recorder: SubscribableSQLiteApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        self._database = recorder.database_key
        self._poll_interval = recorder.poll_interval
        self._stop_polling = Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        _COMMITS.add(self._database, self._has_been_notified)
        if self._has_been_stopped:
            # stop() ran in the pull thread before the event was registered.
            _COMMITS.discard(self._database, self._has_been_notified)
        # A commit may have landed between the first pull and the registration.
        self._has_been_notified.set()
        self._poll_thread = Thread(target=self._poll, name="sqlite-subscription-poll", daemon=True)
        self._poll_thread.start()

    def stop(self) -> None:
        """Stop the subscription, its polling and its wake-ups by local commits."""
        super().stop()
        self._stop_polling.set()
        _COMMITS.discard(self._database, self._has_been_notified)

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()

    def _poll(self) -> None:
        while not self._stop_polling.wait(self._poll_interval):
            self._has_been_notified.set()


class SubscribableSQLiteFactory(library_sqlite.SQLiteFactory):
    """The library's SQLite factory, making subscribable application/process recorders.

    Reads ``SQLITE_POLL_INTERVAL`` (seconds, default 0.05) besides the library's
    SQLite settings. It is the only factory class in this module, so
    ``PERSISTENCE_MODULE=events.sqlite`` selects it.
    """

    SQLITE_POLL_INTERVAL = "SQLITE_POLL_INTERVAL"

    application_recorder_class = SubscribableSQLiteApplicationRecorder
    process_recorder_class = SubscribableSQLiteProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.poll_interval = self._env_poll_interval()

    def application_recorder(self) -> ApplicationRecorder:
        """Construct the application recorder, polling at the configured interval."""
        return self._with_poll_interval(super().application_recorder())

    def process_recorder(self) -> ProcessRecorder:
        """Construct the process recorder, polling at the configured interval."""
        return self._with_poll_interval(super().process_recorder())

    def _with_poll_interval(self, recorder: _TRecorder) -> _TRecorder:
        if isinstance(recorder, SubscribableSQLiteApplicationRecorder):
            recorder.poll_interval = self.poll_interval
        return recorder

    def _env_poll_interval(self) -> float:
        text = (self.env.get(self.SQLITE_POLL_INTERVAL) or "").strip()
        if not text:
            return DEFAULT_POLL_INTERVAL
        try:
            interval = float(text)
        except ValueError:
            interval = 0.0
        if not (isfinite(interval) and interval > 0):
            msg = (
                f"SQLite environment value for key '{self.SQLITE_POLL_INTERVAL}' is "
                f"invalid. If set, a positive number of seconds is expected: '{text}'"
            )
            raise OSError(msg)
        return interval
