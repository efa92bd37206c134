"""The latest media quality each room's agent reported, kept in memory for a while.

Media quality is a measurement, not a fact of the conversation: it is not
recorded as an event. Agents report it every few seconds; a report older than
``max_age_s`` is no longer the room's quality (its agent left or stalled).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from actors.agent_messages import MediaQuality

MAX_AGE_S = 30.0


@dataclass(frozen=True)
class MediaReading:
    """A report and when it arrived (seconds since the epoch)."""

    report: MediaQuality
    received_at: float


class MediaQualityBoard:
    """The newest report per room (thread-safe)."""

    def __init__(
        self, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._rooms: dict[str, MediaReading] = {}
        self._swept_at = clock()

    def put(self, report: MediaQuality) -> None:
        """Keep ``report`` as its room's quality; now and then forget rooms gone quiet."""
        now = self._clock()
        with self._lock:
            self._rooms[report.room_code] = MediaReading(report, now)
            if now - self._swept_at > self.max_age_s:
                self._swept_at = now
                stale = [
                    room for room, r in self._rooms.items() if now - r.received_at > self.max_age_s
                ]
                for room in stale:
                    del self._rooms[room]

    def get(self, room_code: str) -> MediaReading | None:
        """The room's newest report, unless it is stale; stale ones are dropped."""
        with self._lock:
            reading = self._rooms.get(room_code)
            if reading is not None and self._clock() - reading.received_at > self.max_age_s:
                del self._rooms[room_code]
                return None
            return reading
