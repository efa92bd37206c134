"""Session recording: the clips of recording rooms kept as Ogg Opus in a blob store.

:class:`RecordingSystem` is what ``serve --record`` adds to the actor system:
the projection of which rooms record (:mod:`actors.projections.recordings`),
the :class:`~actors.recording.recorder.Recorder` thread, and the retention
sweep. The speech pipelines hand it what the recognizer heard
(:meth:`RecordingSystem.heard_by`), speech synthesis what it spoke
(:meth:`RecordingSystem.spoken`), and a LiveKit agent its clips over the
agent channel; only ``serve`` writes the blob store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import numpy as np

from actors.agent_messages import RecordedAudio
from actors.projections.recordings import RecordingIndex
from actors.recording.clips import Clip, HeardAudio
from actors.recording.recorder import Recorder, now
from actors.recording.retention import RetentionSweeper
from adapters.blobs.base import BlobStore
from adapters.engines.audio.base import empty_pcm
from events.domain import room_id_for
from events.recording import SPEECH, UTTERANCE
from events.store import EventStore
from events.writer import GroupCommitWriter

__all__ = ["Clip", "HeardAudio", "RecordingSettings", "RecordingSystem"]


@dataclass(frozen=True)
class RecordingSettings:
    """Where clips go and how long they stay (None: forever)."""

    blobs: BlobStore
    retention: timedelta | None = None


@dataclass(frozen=True)
class SpokenAudio:
    """One finished synthesis: 16-bit little-endian mono PCM at ``sample_rate``."""

    room_id: UUID
    transcript_id: UUID
    language: str
    voice: str | None
    engine: str
    sample_rate: int
    pcm: bytes
    started_at: datetime


class RecordingSystem:
    """The recording parts of a running service, in their order of start and stop.

    Args:
        store: the log the projection reads.
        writer: records stored and deleted clips.
        settings: the blob store and retention.
        stop_room: turns a room's recording off for ``store_failed`` (by room code).
        clock: the wall time (tests move it to expire clips).

    """

    def __init__(
        self,
        store: EventStore,
        writer: GroupCommitWriter,
        settings: RecordingSettings,
        stop_room: Callable[[str], None],
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.blobs = settings.blobs
        self.index = RecordingIndex(store)
        self.index.start()
        self.recorder = Recorder(settings.blobs, writer, self.index, stop_room)
        self.sweeper = (
            RetentionSweeper(self.index, settings.blobs, writer, settings.retention, clock)
            if settings.retention is not None
            else None
        )
        if self.sweeper is not None:
            self.sweeper.start()

    def heard_by(self, room_id: UUID, speaker_id: str) -> Callable[[HeardAudio], None]:
        """What a speaker's pipeline calls with each utterance it recognized."""

        def heard(audio: HeardAudio) -> None:
            self.recorder.take(
                Clip(
                    room_id=room_id,
                    kind=UTTERANCE,
                    transcript_id=audio.utterance_id,
                    speaker_id=speaker_id,
                    language=audio.language,
                    voice=None,
                    engine=None,
                    started_at=audio.started_at,
                    samples=audio.audio,
                    sample_rate=audio.sample_rate,
                )
            )

        return heard

    def spoken(self, audio: SpokenAudio) -> None:
        """Speech synthesis finished one translation or answer (from its thread)."""
        self.recorder.take(
            Clip(
                room_id=audio.room_id,
                kind=SPEECH,
                transcript_id=audio.transcript_id,
                speaker_id=None,
                language=audio.language,
                voice=audio.voice,
                engine=audio.engine,
                started_at=audio.started_at,
                samples=np.frombuffer(audio.pcm, dtype="<i2"),
                sample_rate=audio.sample_rate,
            )
        )

    def take_encoded(self, audio: RecordedAudio) -> None:
        """A LiveKit agent's clip, already Ogg Opus (from the agent channel's loop)."""
        self.recorder.take(
            Clip(
                room_id=room_id_for(audio.room_code),
                kind=audio.kind,
                transcript_id=audio.transcript_id,
                speaker_id=audio.speaker_id,
                language=audio.language,
                voice=audio.voice,
                engine=audio.engine,
                started_at=datetime.fromtimestamp(audio.started_at_ms / 1000, UTC),
                samples=empty_pcm(),
                sample_rate=audio.sample_rate,
                encoded=audio.opus,
                encoded_ms=audio.duration_ms,
            )
        )

    def close(self) -> None:
        """Stop sweeping, store what is queued, stop following (before the writer stops)."""
        if self.sweeper is not None:
            self.sweeper.stop()
        self.recorder.close()
        self.index.stop()
