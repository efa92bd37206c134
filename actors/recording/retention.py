"""Retention: clips older than the retention period are deleted, and each deletion recorded.

One thread wakes every :func:`sweep_interval` and deletes, from the blob store
then the log (``AudioDeleted``, the second event of the clip's stream), each
clip recorded before now minus the retention. A clip whose blob cannot be
deleted is tried again at the next sweep; one already recorded as deleted
(by another node) is refused by the store and skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from eventsourcing.persistence import IntegrityError

from actors.projections.recordings import RecordingIndex
from adapters.blobs.base import BlobStore, BlobStoreError
from events.recording import RETENTION, AudioDeleted
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)


def sweep_interval(retention: timedelta) -> float:
    """Seconds between sweeps: a tenth of the retention, between 1 s and 10 min."""
    return min(600.0, max(1.0, retention.total_seconds() / 10))


class RetentionSweeper:
    """Deletes expired clips on a thread of its own (see the module docstring)."""

    def __init__(
        self,
        index: RecordingIndex,
        blobs: BlobStore,
        writer: GroupCommitWriter,
        retention: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.index = index
        self.blobs = blobs
        self.writer = writer
        self.retention = retention
        self._clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        """Start sweeping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sweeping (blocking)."""
        self._stopping.set()
        self._thread.join(timeout=30)

    def sweep(self) -> int:
        """Delete every expired clip now; return how many were deleted."""
        deleted = 0
        for clip in self.index.expired(self._clock() - self.retention):
            try:
                self.blobs.delete(clip.key)
                self.writer.append(
                    [AudioDeleted.deleting(room_id=clip.room_id, key=clip.key, reason=RETENTION)]
                )
            except BlobStoreError as error:
                log.warning("expired clip %s not deleted yet: %s", clip.key, error)
            except IntegrityError:
                log.info("expired clip %s was already deleted", clip.key)
            else:
                deleted += 1
        return deleted

    def _run(self) -> None:
        interval = sweep_interval(self.retention)
        while not self._stopping.wait(interval):
            try:
                self.sweep()
            except Exception:
                log.exception("retention sweep failed; trying again later")
