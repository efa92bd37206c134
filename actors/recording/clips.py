"""The audio the recorder is handed: what was heard, and what was spoken.

Plain values made on the thread that has the audio (a recognition thread,
a synthesis thread); the recorder encodes and stores them on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import numpy as np
import numpy.typing as npt

from adapters.engines.audio.base import SAMPLE_RATE, Pcm


@dataclass(frozen=True)
class HeardAudio:
    """One utterance as the speech recognizer got it (16 kHz mono float32).

    ``utterance_id`` becomes the transcript's id if the utterance is
    recognized; ``started_at`` is the wall time of its first sample.
    """

    utterance_id: UUID
    language: str
    audio: Pcm
    started_at: datetime

    @property
    def sample_rate(self) -> int:
        """The rate every pipeline hands the recognizer."""
        return SAMPLE_RATE


@dataclass(frozen=True)
class Clip:
    """A piece of a room's audio to record: an utterance or a synthesis.

    ``samples`` are mono, int16 or float32, at ``sample_rate`` (or the clip
    comes ``encoded``); the other fields are those of
    :class:`~events.recording.AudioRecorded`.
    """

    room_id: UUID
    kind: str
    transcript_id: UUID
    speaker_id: str | None
    language: str
    voice: str | None
    engine: str | None
    started_at: datetime
    samples: npt.NDArray[np.int16] | Pcm
    sample_rate: int
    encoded: bytes | None = None
    """The clip already encoded as Ogg Opus (by a LiveKit agent); ``samples`` is then empty."""
    encoded_ms: int = 0
    """How long an ``encoded`` clip plays."""

    @property
    def duration_ms(self) -> int:
        """How long the clip plays."""
        if self.encoded is not None:
            return self.encoded_ms
        return len(self.samples) * 1000 // max(1, self.sample_rate)
