"""Events that arrive together are committed together, and each is acknowledged."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from actors.messages import Accepted, JoinRoom, Outcome, SubmitTranscript
from actors.room import RoomActor
from events.domain import Room
from events.store import EventStore
from events.writer import GroupCommitWriter


class CountingStore(EventStore):
    """The real store, counting its transactions."""

    appends: int = 0

    def append_stored(self, stored: Sequence[Any], tracking: Any = None) -> Sequence[int]:
        self.appends += 1
        return super().append_stored(stored, tracking)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    opened = EventStore.open(str(tmp_path / "group.db"))
    counting = CountingStore(opened.recorder, opened.mapper)
    yield counting
    counting.close()


def test_a_burst_of_commands_is_one_or_few_saves(store: CountingStore) -> None:
    writer = GroupCommitWriter(store)
    outcomes: list[Outcome] = []
    done = threading.Event()

    def reply(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 101:
            done.set()

    room = RoomActor.start("r1", store, writer, timedelta(minutes=1), lambda _: None)
    for n in range(50):
        room.tell(JoinRoom(f"user{n}", f"User {n}", "en", reply))
    for n in range(51):
        room.tell(SubmitTranscript(f"user{n % 50}", f"hello {n}", "en", "client", 0, reply))
    assert done.wait(20)
    room.stop()
    writer.stop()

    assert all(isinstance(outcome, Accepted) for outcome in outcomes)
    positions = [outcome.position for outcome in outcomes if isinstance(outcome, Accepted)]
    assert len(set(positions)) == 101, "each command has its own event position"
    assert store.appends <= 10, f"{store.appends} saves for 101 commands"
    reloaded = store.load_room("r1")
    assert isinstance(reloaded, Room)
    assert len(reloaded.members) == 50
    assert reloaded.transcripts == 51


def test_writer_batches_concurrent_appends_and_acks_each(store: CountingStore) -> None:
    writer = GroupCommitWriter(store)
    rooms = [Room(code=f"room{n}") for n in range(200)]
    results: dict[str, Sequence[int]] = {}

    def append(room: Room) -> None:
        results[room.code] = writer.append(list(room.collect_events()))

    threads = [threading.Thread(target=append, args=(room,)) for room in rooms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop()
    assert len(results) == 200
    assert sorted(p for positions in results.values() for p in positions) == list(range(1, 201))
    assert store.appends < 200
    assert store.position() == 200


def test_a_refused_request_does_not_sink_the_batch(store: CountingStore) -> None:
    writer = GroupCommitWriter(store)
    first = Room(code="dup")
    events = list(first.collect_events())
    writer.append(events)
    results: dict[str, Sequence[int] | BaseException] = {}

    def record(name: str) -> Any:
        return lambda result: results.__setitem__(name, result)

    writer.submit(events, record("duplicate"))
    writer.submit(list(Room(code="fine").collect_events()), record("fine"))
    writer.stop()
    assert isinstance(results["duplicate"], Exception)
    assert results["fine"] == [2]
    assert store.position() == 2
