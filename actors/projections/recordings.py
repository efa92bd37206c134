"""Which rooms record, and which stored clips still exist: a projection of the log.

The recorder must know, for each clip it is handed, whether its room
records now, and the retention sweep which clips are old enough to go. Both
are facts of the log (``RecordingStarted`` / ``RecordingStopped`` in the
room's stream, ``AudioRecorded`` / ``AudioDeleted`` in each clip's), read
from the beginning on start-up and live after that, so a restarted ``serve``
carries on recording the rooms that recorded and still deletes what expires.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from eventsourcing.utils import get_topic

from actors.projections.following import LogReader
from events.domain import Room
from events.recording import AudioDeleted, AudioRecorded
from events.store import EventStore, Recorded

RECORDING_TOPICS: Final = tuple(
    get_topic(cls)
    for cls in (Room.RecordingStarted, Room.RecordingStopped, AudioRecorded, AudioDeleted)
)


@dataclass(frozen=True)
class RoomRecording:
    """A room that records: its code, and the position of the ``RecordingStarted``."""

    room_code: str
    since: int


class RecordingIndex:
    """The rooms that record and the clips not yet deleted, kept up to date from the log."""

    def __init__(self, store: EventStore) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[UUID, RoomRecording] = {}
        self._clips: dict[str, AudioRecorded] = {}
        self._position = 0
        self._reader = LogReader(
            store, "recordings", lambda: self._position, self._apply, RECORDING_TOPICS
        )

    def start(self) -> None:
        """Read the log so far and follow it (blocking until subscribed)."""
        self._reader.start()

    def stop(self) -> None:
        """Stop following (blocking)."""
        self._reader.stop()

    def recording(self, room_id: UUID) -> RoomRecording | None:
        """The room's recording, if it records now (cheap: any thread may ask per clip)."""
        with self._lock:
            return self._rooms.get(room_id)

    def expired(self, before: datetime) -> list[AudioRecorded]:
        """The clips still stored that were recorded before ``before``."""
        with self._lock:
            return [clip for clip in self._clips.values() if clip.timestamp < before]

    def clips_of(self, room_id: UUID) -> list[AudioRecorded]:
        """The room's clips still stored, by start time (without reading the log)."""
        with self._lock:
            clips = [clip for clip in self._clips.values() if clip.room_id == room_id]
        return sorted(clips, key=lambda clip: clip.started_at)

    def _apply(self, recorded: Recorded) -> None:
        event = recorded.event
        with self._lock:
            self._position = recorded.position
            if isinstance(event, Room.RecordingStarted):
                self._rooms[event.originator_id] = RoomRecording(event.room_code, recorded.position)
            elif isinstance(event, Room.RecordingStopped):
                self._rooms.pop(event.originator_id, None)
            elif isinstance(event, AudioRecorded):
                self._clips[event.key] = event
            elif isinstance(event, AudioDeleted):
                self._clips.pop(event.key, None)
