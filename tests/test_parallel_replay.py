"""Replay on several processes prints exactly what one process prints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

import events.parallel_replay
from events.domain import Room
from events.parallel_replay import render
from events.store import EventStore
from events.timeline import TimelineFilter


@pytest.fixture
def history(tmp_path: Path) -> str:
    db = str(tmp_path / "history.db")
    store = EventStore.open(db)
    for number in range(7):
        room = Room(code=f"room{number}")
        room.join("alice", "Alice", "en")
        room.join("bob", "Bob", "es")
        for line in range(5):
            room.recognize(
                uuid4(), "alice", f"line {line}", "en", "client", 0, timedelta(minutes=1)
            )
        store.append(room.collect_events())
    store.close()
    return db


@pytest.mark.parametrize("as_json", [False, True])
def test_parallel_output_equals_sequential(
    history: str, as_json: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events.parallel_replay, "CHUNK_POSITIONS", 4)
    everything = TimelineFilter(since=0, until=56)
    one = b"".join(render(history, everything, as_json, jobs=1))
    two = b"".join(render(history, everything, as_json, jobs=2))
    assert one == two
    assert len(one.splitlines()) == 56
    room3 = TimelineFilter(room="room3", since=5, until=56)
    assert b"".join(render(history, room3, as_json, jobs=2)) == b"".join(
        render(history, room3, as_json, jobs=1)
    )
    assert len(b"".join(render(history, room3, as_json, jobs=2)).splitlines()) == 8
