"""Subscribable SQLite recorders: the library's recorder contracts, plus live subscriptions."""

from __future__ import annotations

import queue
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from threading import Thread
from typing import Protocol
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Notification,
    StoredEvent,
    Tracking,
)
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests import persistence as library_tests
from eventsourcing.utils import Environment

from events import sqlite as events_sqlite
from events.sqlite import (
    SQLiteSubscription,
    SubscribableSQLiteApplicationRecorder,
    SubscribableSQLiteFactory,
    SubscribableSQLiteProcessRecorder,
)


class FileDatabase:
    """Gives each test a fresh database file, and closes the datastores it opened."""

    db_path: str
    _datastores: list[SQLiteDatastore]
    _threads_before: set[threading.Thread]

    def setUp(self) -> None:
        directory = tempfile.TemporaryDirectory(prefix="voicemode-sqlite-")
        self.addCleanup(directory.cleanup)  # type: ignore[attr-defined]
        self.db_path = str(Path(directory.name) / "events.db")
        self._datastores = []
        self._threads_before = set(threading.enumerate())
        self.addCleanup(self._close_datastores)  # type: ignore[attr-defined]

    def datastore(self) -> SQLiteDatastore:
        datastore = SQLiteDatastore(db_name=self.db_path, pool_size=20)
        self._datastores.append(datastore)
        return datastore

    def _close_datastores(self) -> None:
        # The library's concurrency tests leave reader threads running; closing a
        # connection under a reading thread crashes sqlite3, so let them end first.
        for thread in threading.enumerate():
            if thread not in self._threads_before and thread is not threading.current_thread():
                thread.join(timeout=30)
        for datastore in self._datastores:
            datastore.close()


class TestApplicationRecorder(
    FileDatabase,
    library_tests.ApplicationRecorderTestCase[SubscribableSQLiteApplicationRecorder],
):
    def create_recorder(self) -> SubscribableSQLiteApplicationRecorder:
        recorder = SubscribableSQLiteApplicationRecorder(self.datastore())
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(FileDatabase, library_tests.TrackingRecorderTestCase):
    def create_recorder(self) -> SubscribableSQLiteProcessRecorder:
        recorder = SubscribableSQLiteProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestProcessRecorder(FileDatabase, library_tests.ProcessRecorderTestCase):
    def create_recorder(self) -> SubscribableSQLiteProcessRecorder:
        recorder = SubscribableSQLiteProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "events.db")


class RecorderMaker(Protocol):
    def __call__(
        self, db_name: str, poll_interval: float = ..., *, process: bool = ...
    ) -> SubscribableSQLiteApplicationRecorder: ...


@pytest.fixture
def new_recorder() -> Iterator[RecorderMaker]:
    """Makes recorders on their own datastores, closed after the test."""
    datastores: list[SQLiteDatastore] = []

    def make(
        db_name: str, poll_interval: float = 0.05, *, process: bool = False
    ) -> SubscribableSQLiteApplicationRecorder:
        datastores.append(SQLiteDatastore(db_name=db_name))
        cls = (
            SubscribableSQLiteProcessRecorder if process else SubscribableSQLiteApplicationRecorder
        )
        recorder = cls(datastores[-1])
        recorder.create_table()
        recorder.poll_interval = poll_interval
        return recorder

    yield make
    for datastore in datastores:
        datastore.close()


def stored_event(topic: str = "topic") -> StoredEvent:
    return StoredEvent(originator_id=uuid4(), originator_version=1, topic=topic, state=b"{}")


class Consumer:
    """Iterates a subscription in a thread, so that tests can wait with a timeout."""

    def __init__(self, subscription: SQLiteSubscription) -> None:
        self.subscription = subscription
        self.notifications: queue.Queue[Notification] = queue.Queue()
        self.thread = Thread(target=self._consume, daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        with self.subscription:
            for notification in self.subscription:
                self.notifications.put(notification)

    def get(self, timeout: float = 5.0) -> Notification:
        return self.notifications.get(timeout=timeout)

    def close(self) -> None:
        self.subscription.stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def consumers() -> Iterator[list[Consumer]]:
    started: list[Consumer] = []
    yield started
    for consumer in started:
        consumer.close()


def test_insert_in_this_process_wakes_subscription_at_once(
    db_path: str, new_recorder: RecorderMaker, consumers: list[Consumer]
) -> None:
    reader = new_recorder(db_path, poll_interval=30.0)
    writer = new_recorder(f"file:{db_path}?mode=rw")  # same file, other datastore
    writer.insert_events([stored_event("first")])
    consumer = Consumer(reader.subscribe(gt=0))
    consumers.append(consumer)
    assert consumer.get().topic == "first"

    for topic in ("second", "third"):
        started = time.monotonic()
        writer.insert_events([stored_event(topic)])
        assert consumer.get().topic == topic
        assert time.monotonic() - started < 0.5  # the poll interval is 30 s


def test_process_recorder_commits_wake_subscription(
    db_path: str, new_recorder: RecorderMaker, consumers: list[Consumer]
) -> None:
    recorder = new_recorder(db_path, poll_interval=30.0, process=True)
    consumer = Consumer(recorder.subscribe(gt=0, topics=["wanted"]))
    consumers.append(consumer)
    recorder.insert_events([stored_event("unwanted")])
    recorder.insert_events([stored_event("wanted")], tracking=Tracking("upstream", 1))
    notification = consumer.get()
    assert (notification.topic, notification.id) == ("wanted", 2)


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, uuid
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    datastore = SQLiteDatastore(db_name=sys.argv[1])
    recorder = SQLiteApplicationRecorder(datastore)
    for n in range(int(sys.argv[2])):
        recorder.insert_events(
            [StoredEvent(uuid.uuid4(), 1, f"from-child-{n}", b"{}")]
        )
    datastore.close()
    """
)


def test_subscription_sees_commits_from_another_process(
    db_path: str, new_recorder: RecorderMaker, consumers: list[Consumer]
) -> None:
    recorder = new_recorder(db_path, poll_interval=0.05)
    consumer = Consumer(recorder.subscribe(gt=recorder.max_notification_id()))
    consumers.append(consumer)
    subprocess.run([sys.executable, "-c", WRITER_SCRIPT, db_path, "3"], check=True, timeout=60)
    written = time.monotonic()
    topics = [consumer.get().topic for _ in range(3)]
    assert topics == ["from-child-0", "from-child-1", "from-child-2"]
    assert time.monotonic() - written < 1.0
    assert consumer.notifications.empty()


def test_stopped_subscription_leaves_nothing_behind(
    db_path: str, new_recorder: RecorderMaker
) -> None:
    recorder = new_recorder(db_path)
    with recorder.subscribe() as subscription:
        assert recorder.database_key in events_sqlite._COMMITS._events
    assert not subscription._poll_thread.is_alive()
    assert recorder.database_key not in events_sqlite._COMMITS._events


def test_database_key_names_a_file_one_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    keys = {
        events_sqlite.database_key(name, in_memory=False)
        for name in ("events.db", str(tmp_path / "events.db"), "file:events.db?mode=rwc")
    }
    assert keys == {str((tmp_path / "events.db").resolve())}
    memory = "file:shared?mode=memory&cache=shared"
    assert events_sqlite.database_key(memory, in_memory=True) == memory


def test_persistence_module_selects_the_subscribable_factory(db_path: str) -> None:
    env = Environment(
        env={
            "PERSISTENCE_MODULE": "events.sqlite",
            "SQLITE_DBNAME": db_path,
            "SQLITE_POLL_INTERVAL": "0.2",
        }
    )
    factory = InfrastructureFactory.construct(env)
    try:
        assert type(factory) is SubscribableSQLiteFactory
        application_recorder = factory.application_recorder()
        process_recorder = factory.process_recorder()
        assert type(application_recorder) is SubscribableSQLiteApplicationRecorder
        assert type(process_recorder) is SubscribableSQLiteProcessRecorder
        assert application_recorder.poll_interval == 0.2
        assert process_recorder.poll_interval == 0.2
    finally:
        factory.close()


def test_poll_interval_defaults_and_is_validated(db_path: str) -> None:
    factory = SubscribableSQLiteFactory({"SQLITE_DBNAME": db_path})
    assert factory.poll_interval == events_sqlite.DEFAULT_POLL_INTERVAL
    factory.close()
    for bad in ("soon", "0", "-1", "nan", "inf"):
        with pytest.raises(OSError, match="SQLITE_POLL_INTERVAL"):
            SubscribableSQLiteFactory({"SQLITE_DBNAME": db_path, "SQLITE_POLL_INTERVAL": bad})


def test_an_application_on_events_sqlite_can_be_subscribed_to(db_path: str) -> None:
    app = Application[UUID](env={"PERSISTENCE_MODULE": "events.sqlite", "SQLITE_DBNAME": db_path})
    try:
        with app.recorder.subscribe(gt=0) as subscription:
            app.save(Aggregate())
            assert next(subscription).id == 1
    finally:
        app.close()


@pytest.mark.parametrize("process", [False, True])
@pytest.mark.parametrize("count", [1, 3, events_sqlite.INSERT_ROWS_PER_STATEMENT, 1203])
def test_batched_insert_returns_each_events_position(
    db_path: str, new_recorder: RecorderMaker, count: int, *, process: bool
) -> None:
    """Positions the writer acknowledges are the rows' own, for one statement or several."""
    recorder = new_recorder(db_path, process=process)
    recorder.insert_events([stored_event("before")])
    batch = [stored_event(f"t{i}") for i in range(count)]
    positions = recorder.insert_events(batch)
    notifications = recorder.select_notifications(start=2, limit=count + 10)
    assert list(positions or ()) == [n.id for n in notifications]
    assert [n.topic for n in notifications] == [e.topic for e in batch]


@pytest.mark.parametrize("count", [2, 1203])
def test_a_batch_with_a_conflict_records_none_of_its_events(
    db_path: str, new_recorder: RecorderMaker, count: int
) -> None:
    """The group commit retries a refused batch request by request: it must be all or nothing."""
    recorder = new_recorder(db_path)
    taken = stored_event("taken")
    recorder.insert_events([taken])
    batch = [stored_event(f"t{i}") for i in range(count - 1)] + [taken]
    with pytest.raises(IntegrityError):
        recorder.insert_events(batch)
    assert recorder.max_notification_id() == 1
    assert recorder.insert_events([stored_event("after")]) == [2]
