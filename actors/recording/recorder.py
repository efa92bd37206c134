"""The recorder: clips of recording rooms encoded to Ogg Opus and stored, off every hot path.

Pipelines and synthesis threads hand clips over with :meth:`Recorder.take`,
which costs a dictionary look-up (does the room record?) and a queue put; one
recorder thread encodes each clip, writes it to the blob store and records
its :class:`~events.recording.AudioRecorded` through the group-commit writer.
The queue is bounded: if the store falls far behind, new clips are dropped
(and logged) rather than growing memory or slowing the conversation.

If the store refuses a clip (a directory that is not writable, a full
disk), the room stops recording (``RecordingStopped`` with reason
``store_failed``, which every member is told) and the conversation goes
on; clips stored before stay stored, and nothing more of that room is
tried until someone turns recording on again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final
from uuid import UUID, uuid4

from actors.projections.recordings import RecordingIndex
from actors.recording.clips import Clip
from adapters.blobs.base import BlobStore, BlobStoreError
from adapters.engines.audio.ogg_opus import encode_ogg_opus, opus_rate
from events.recording import AudioRecorded
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)

QUEUED_CLIPS: Final = 64
"""Clips waiting to be stored (at most ~2 MB each: a 30 s utterance)."""
RECORDER_NICENESS: Final = 10
"""How much lower the recorder thread's CPU priority is than the rest of ``serve``."""


def clip_key(clip: Clip) -> str:
    """Where a clip is stored: by room, day and a fresh id (``rooms/<room>/<day>/<id>.ogg``)."""
    day = clip.started_at.astimezone(UTC).strftime("%Y-%m-%d")
    return f"rooms/{clip.room_id.hex}/{day}/{clip.kind}-{uuid4().hex}.ogg"


class Recorder:
    """Stores the clips of rooms that record, on one thread of its own.

    Args:
        blobs: where the Opus files go.
        writer: records each stored clip.
        index: which rooms record now.
        store_failed: stops recording the room with this code (reason
            ``store_failed``); called on the recorder's thread.

    """

    def __init__(
        self,
        blobs: BlobStore,
        writer: GroupCommitWriter,
        index: RecordingIndex,
        store_failed: Callable[[str], None],
    ) -> None:
        self.blobs = blobs
        self.writer = writer
        self.index = index
        self._store_failed = store_failed
        self._queue: queue.Queue[Clip | None] = queue.Queue(QUEUED_CLIPS)
        self._failed: dict[UUID, int] = {}
        """Rooms whose store failed, with the position of the recording that failed."""
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def take(self, clip: Clip) -> None:
        """Record ``clip`` if its room records (from any thread; never blocks)."""
        recording = self.index.recording(clip.room_id)
        if recording is None or self._failed.get(clip.room_id) == recording.since:
            return
        try:
            self._queue.put_nowait(clip)
        except queue.Full:
            log.warning("recorder is behind: a %s clip of room %s dropped", clip.kind, clip.room_id)

    def close(self) -> None:
        """Store what is queued, then stop (blocking; before the writer stops)."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        # Encoding competes for the cores with recognition and synthesis: the
        # recorder's thread alone is niced, so a clip waits rather than a reply.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RECORDER_NICENESS)
        while (clip := self._queue.get()) is not None:
            try:
                self._store(clip)
            except Exception:
                log.exception("recording a clip failed")

    def _store(self, clip: Clip) -> None:
        recording = self.index.recording(clip.room_id)
        if recording is None or self._failed.get(clip.room_id) == recording.since:
            return
        data = clip.encoded or encode_ogg_opus(clip.samples, clip.sample_rate)
        key = clip_key(clip)
        try:
            self.blobs.put(key, data)
        except BlobStoreError as error:
            log.warning("recording of room %s stops: %s", recording.room_code, error)
            self._failed[clip.room_id] = recording.since
            self._store_failed(recording.room_code)
            return
        event = AudioRecorded.recording(
            room_id=clip.room_id,
            key=key,
            kind=clip.kind,
            transcript_id=clip.transcript_id,
            speaker_id=clip.speaker_id,
            language=clip.language,
            voice=clip.voice,
            engine=clip.engine,
            started_at=clip.started_at,
            duration_ms=clip.duration_ms,
            sample_rate=clip.sample_rate,
            encoded_rate=opus_rate(clip.sample_rate),
            size_bytes=len(data),
        )
        self.writer.submit([event], _log_refusal)


def now() -> datetime:
    """The wall time clips and retention are measured in (UTC)."""
    return datetime.now(UTC)


def _log_refusal(result: Sequence[int] | BaseException) -> None:
    if isinstance(result, BaseException):
        log.warning("a stored clip was not recorded: %s", result)
