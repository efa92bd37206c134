"""Dispatched actors keep pykka's guarantees while sharing a few threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.dispatch import DispatchedActor


class Recorder(DispatchedActor):
    """Records what it receives and on which thread; fails on ``"boom"``."""

    pool_name = "test-dispatch"
    pool_threads = 2

    def __init__(self, failures: list[str]) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.threads: set[str] = set()
        self.failures = failures
        self.started = False

    def on_start(self) -> None:
        self.started = True

    def on_failure(self, *_: object) -> None:
        self.failures.append("failed")

    def on_receive(self, message: Any) -> Any:
        self.threads.add(threading.current_thread().name)
        if message == "boom":
            raise RuntimeError("boom")
        if message == "seen":
            return (self.started, list(self.seen), set(self.threads))
        self.seen.append(message)
        return None


@pytest.fixture(autouse=True)
def stop_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


def test_many_actors_handle_every_message_in_order_on_two_shared_threads() -> None:
    before = threading.active_count()
    refs = [Recorder.start([]) for _ in range(200)]
    assert threading.active_count() - before <= 2  # the pool, not a thread per actor
    for number in range(300):
        for ref in refs:
            ref.tell(number)
    for ref in refs:
        started, seen, threads = ref.ask("seen", block=True, timeout=10)
        assert started
        assert seen == list(range(300))
        assert threads <= {"test-dispatch-0", "test-dispatch-1"}


def test_a_failing_handler_stops_the_actor_and_calls_on_failure() -> None:
    failures: list[str] = []
    ref = Recorder.start(failures)
    ref.tell("boom")
    ref.actor_stopped.wait(5)
    assert failures == ["failed"]
    assert not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell(1)


def test_an_ask_that_raises_returns_the_error_and_the_actor_lives_on() -> None:
    ref = Recorder.start([])
    with pytest.raises(RuntimeError, match="boom"):
        ref.ask("boom", block=True, timeout=5)
    ref.tell(7)
    assert ref.ask("seen", block=True, timeout=5)[1] == [7]


def test_stop_is_answered_once_the_actor_is_dead() -> None:
    ref = Recorder.start([])
    stopped = ref.stop(block=False)
    stopped.get(timeout=5)
    assert not ref.is_alive()
