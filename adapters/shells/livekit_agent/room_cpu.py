"""The agent process's CPU, split between the rooms it serves.

Each room's job runs its own event loop on a thread of this process, and the
CPU of that thread is the room's own (read through the thread's CPU clock).
The rest (speech pipelines, recognition and synthesis pools, LiveKit's native
threads) is shared by every room, and is split in proportion to the audio
packets each room received since the last split: recognition, the bulk of
that work, grows with the audio heard. With no audio anywhere, it is split
evenly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _RoomClock:
    clock_id: int
    thread_seconds: float
    packets: int = 0
    counted_packets: int = 0
    cpu_seconds: float = 0.0


class CpuLedger:
    """Splits the process's CPU time between its rooms (thread-safe, one per process)."""

    def __init__(self, process_time: Callable[[], float] = time.process_time) -> None:
        self._process_time = process_time
        self._lock = threading.Lock()
        self._rooms: dict[str, _RoomClock] = {}
        self._process_seconds = process_time()

    def open(self, room_code: str) -> None:
        """Start counting a room whose job runs on the calling thread."""
        clock_id = time.pthread_getcpuclockid(threading.get_ident())
        with self._lock:
            self._rooms[room_code] = _RoomClock(clock_id, time.clock_gettime(clock_id))

    def close(self, room_code: str) -> None:
        """Stop counting a room."""
        with self._lock:
            self._rooms.pop(room_code, None)

    def heard(self, room_code: str, packets: int) -> None:
        """The room's audio packets received so far (a running total)."""
        with self._lock:
            room = self._rooms.get(room_code)
            if room is not None:
                room.packets = packets

    def cpu_seconds(self, room_code: str) -> float:
        """The CPU time the room has used so far, with the shared time split up to now."""
        with self._lock:
            self._settle()
            room = self._rooms.get(room_code)
            return room.cpu_seconds if room is not None else 0.0

    def _settle(self) -> None:
        now = self._process_time()
        spent, self._process_seconds = now - self._process_seconds, now
        if not self._rooms:
            return
        own: dict[str, float] = {}
        for code, room in self._rooms.items():
            try:
                seconds = time.clock_gettime(room.clock_id)
            except OSError:  # the job's thread ended
                seconds = room.thread_seconds
            own[code], room.thread_seconds = max(seconds - room.thread_seconds, 0.0), seconds
        shared = max(spent - sum(own.values()), 0.0)
        heard = {code: room.packets - room.counted_packets for code, room in self._rooms.items()}
        total = sum(heard.values())
        for code, room in self._rooms.items():
            weight = heard[code] / total if total > 0 else 1 / len(self._rooms)
            room.cpu_seconds += own[code] + shared * weight
            room.counted_packets = room.packets
