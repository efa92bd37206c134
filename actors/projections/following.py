"""A thread that follows the log and survives the errors of its subscription."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from events.store import EventStore, LogFollower, Recorded

log = logging.getLogger(__name__)

RETRY_S = 1.0


class LogReader:
    """Feeds every new event of the log to ``handle``, in order, on its own thread.

    If the subscription fails (the database went away, a network blip to
    PostgreSQL), the reader logs it, waits a second and subscribes again from
    ``resume_from()``, so a projection never silently stops.
    """

    def __init__(
        self,
        store: EventStore,
        name: str,
        resume_from: Callable[[], int],
        handle: Callable[[Recorded], None],
        topics: Sequence[str] = (),
    ) -> None:
        self.store = store
        self._resume_from = resume_from
        self._handle = handle
        self._topics = topics
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._follower: LogFollower | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        """Start following; returns once subscribed (or after ``timeout_s``)."""
        self._thread.start()
        self._subscribed.wait(timeout_s)

    def stop(self) -> None:
        """Stop following and wait for the thread."""
        self._stopping.set()
        if self._follower is not None:
            self._follower.stop()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self.store.follow(self._resume_from(), self._topics) as follower:
                    self._follower = follower
                    self._subscribed.set()
                    for recorded in follower:
                        self._handle(recorded)
            except Exception:
                log.exception("%s lost its subscription; resubscribing", self._thread.name)
                self._stopping.wait(RETRY_S)
