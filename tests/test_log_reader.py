"""Projections keep following the log after their subscription fails."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import actors.projections.following
from actors.projections.following import LogReader
from events.domain import Room
from events.store import EventStore, Recorded


def test_reader_resubscribes_after_an_error_and_misses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actors.projections.following, "RETRY_S", 0.05)
    store = EventStore.open(str(tmp_path / "log.db"))
    seen: list[int] = []
    done = threading.Event()
    original = EventStore.decode
    failures = [1]

    def flaky_decode(self: EventStore, notification: Any) -> Recorded:
        if notification.id == 3 and failures:
            failures.pop()
            raise OSError("database went away")
        return original(self, notification)

    monkeypatch.setattr(EventStore, "decode", flaky_decode)

    def handle(recorded: Recorded) -> None:
        seen.append(recorded.position)
        if len(seen) == 6:
            done.set()

    reader = LogReader(store, "test-reader", lambda: seen[-1] if seen else 0, handle)
    reader.start()
    for code in ("a", "b", "c"):
        room = Room(code=code)
        room.join("alice", "Alice", "en")
        store.append(room.collect_events())
    assert done.wait(10)
    reader.stop()
    store.close()
    assert seen == [1, 2, 3, 4, 5, 6]
    assert not failures
