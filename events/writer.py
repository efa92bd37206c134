"""Group commit: one writer thread turns many appends into one transaction.

Every room's actor and the translation fan-out hand their events to the
writer; it commits whatever has queued up since its last commit in a single
transaction, so the cost of a durable commit is shared by everyone waiting.
A request is acknowledged only after its transaction committed. If a batch
fails, its requests are retried one by one so that only the offending
request is refused. A store that refuses every write (a full disk, a file
made read-only) is logged once per condition by :class:`RefusalLog`, not once
per write.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eventsourcing.persistence import RecordConflictError, StoredEvent, Tracking

from events.store import EventStore, NewEvents

log = logging.getLogger(__name__)

AppendCallback = Callable[[Sequence[int] | BaseException], None]
CommitObserver = Callable[[float, int], None]
"""Told, on the writer thread, how long each committed transaction took (s) and its events."""
MAX_BATCH_EVENTS = 5000
REFUSAL_REPORT_INTERVAL_S = 60.0


class RefusalLog:
    """One log line per reason the store refuses writes, however many writes it refuses.

    A full disk or a read-only file refuses every write until someone acts,
    and every client is already told so by its ``store_error`` reply; a line
    (or a traceback) per write would bury the one line that matters. So the
    first refusal for a reason is logged at once, later ones for the same
    reason are counted and summarised at most once per ``interval_s`` (with
    the count), and the first write the store takes again is logged with the
    number refused since the last line. Conflicts (a stream version already
    taken) are another writer's doing, not the store's condition: they are
    logged one by one, as warnings.
    """

    def __init__(
        self,
        interval_s: float = REFUSAL_REPORT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._reason: str | None = None
        self._reported_at = 0.0
        self._unreported = 0
        self._since_failing = 0

    def refused(self, error: BaseException) -> None:
        """A write was refused with ``error``."""
        if isinstance(error, RecordConflictError):
            log.warning("append refused: %s", error)
            return
        reason = str(error) or type(error).__name__
        now = self._clock()
        self._since_failing += 1
        if reason != self._reason:
            self._reason, self._reported_at, self._unreported = reason, now, 0
            log.error(
                "the event store refuses writes: %s; clients get store_error until %s",
                reason,
                _remedy(reason),
            )
        elif now - self._reported_at >= self.interval_s:
            log.error(
                "the event store still refuses writes: %s (%d refused in the last %.0f s)",
                reason,
                self._unreported + 1,
                now - self._reported_at,
            )
            self._reported_at, self._unreported = now, 0
        else:
            self._unreported += 1

    def accepted(self) -> None:
        """A write was committed: if writes were being refused, say that this is over."""
        if self._reason is not None:
            log.warning(
                "the event store takes writes again (%d refused: %s)",
                self._since_failing,
                self._reason,
            )
            self._reason, self._unreported, self._since_failing = None, 0, 0


def _remedy(reason: str) -> str:
    """What would make a store take writes again, for the log line."""
    lowered = reason.lower()
    if "full" in lowered:
        return "disk space is freed"
    if "readonly" in lowered or "read-only" in lowered:
        return "the store is writable again"
    return "the store is fixed"


@dataclass(frozen=True)
class AppendRequest:
    """Serialized events to record together, and whom to tell when they are durable."""

    events: Sequence[StoredEvent]
    on_done: AppendCallback
    tracking: Tracking | None = None


@dataclass
class _Batch:
    requests: list[AppendRequest] = field(default_factory=list)
    size: int = 0

    def add(self, request: AppendRequest) -> None:
        self.requests.append(request)
        self.size += len(request.events)


class GroupCommitWriter:
    """The single writer thread of an event store.

    ``on_commit`` (optional) is told each committed transaction's duration and
    size, for the operator's metrics; it must not block.
    """

    def __init__(self, store: EventStore, on_commit: CommitObserver | None = None) -> None:
        self.store = store
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[AppendRequest | None] = queue.SimpleQueue()
        self.refusals = RefusalLog()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(
        self, events: NewEvents, on_done: AppendCallback, tracking: Tracking | None = None
    ) -> None:
        """Queue events for the next commit; ``on_done`` runs on the writer thread.

        The events are serialized here, on the caller's thread, so the single
        writer thread spends its time committing.
        """
        self._queue.put(AppendRequest(self.store.encode(events), on_done, tracking))

    def append(self, events: NewEvents, tracking: Tracking | None = None) -> Sequence[int]:
        """Append and wait until durable (for threads that may block)."""
        done = threading.Event()
        outcome: list[Sequence[int] | BaseException] = []

        def finish(result: Sequence[int] | BaseException) -> None:
            outcome.append(result)
            done.set()

        self.submit(events, finish, tracking)
        done.wait()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        running = True
        while running:
            first = self._queue.get()
            if first is None:
                return
            batch = _Batch()
            batch.add(first)
            while batch.size < MAX_BATCH_EVENTS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    running = False
                    break
                batch.add(more)
            self._commit(batch.requests)

    def _commit(self, requests: list[AppendRequest]) -> None:
        events = [event for request in requests for event in request.events]
        trackings = [request.tracking for request in requests if request.tracking]
        if len({t.application_name for t in trackings}) > 1:
            for request in requests:
                self._commit([request])
            return
        tracking = max(trackings, key=lambda t: t.notification_id) if trackings else None
        started = time.perf_counter()
        try:
            positions = self.store.append_stored(events, tracking)
        except Exception as error:
            if len(requests) == 1:
                self.refusals.refused(error)
                requests[0].on_done(error)
                return
            for request in requests:
                self._commit([request])
            return
        self.refusals.accepted()
        if self._on_commit is not None:
            self._on_commit(time.perf_counter() - started, len(events))
        offset = 0
        for request in requests:
            count = len(request.events)
            request.on_done(positions[offset : offset + count])
            offset += count
