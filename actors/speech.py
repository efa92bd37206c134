"""Speaking translations: one synthesis per transcript, language, voice and engine.

Every listener who wants to hear a translation asks for it; listeners of the
same language with the same voice share one synthesis, whose audio is handed
to each of them as it is produced (late askers get what was already made,
then the rest). Each synthesis is recorded as a SpeechSynthesized event on
the ``websocket`` channel; the audio itself never is.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from uuid import UUID

from adapters.tts.base import SynthesisError
from adapters.tts.registry import SynthesizerRegistry
from events.domain import WEBSOCKET_CHANNEL, SpeechSynthesized, speech_id_for
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)

BYTES_PER_SAMPLE = 2


@dataclass(frozen=True)
class SpeechKey:
    """What identifies one synthesis."""

    transcript_id: UUID
    language: str
    voice: str | None
    preference: tuple[str, ...]


@dataclass(frozen=True)
class SpeechHeader:
    """How the audio that follows is encoded (16-bit little-endian mono PCM)."""

    sample_rate: int
    voice: str | None
    engine: str


@dataclass(frozen=True)
class SpeechEnd:
    """No more audio for this synthesis; ``error_code`` if it failed."""

    audio_ms: int
    error_code: str | None


SpeechPiece = SpeechHeader | bytes | SpeechEnd
Subscriber = Callable[[SpeechKey, SpeechPiece], None]


@dataclass
class _Job:
    key: SpeechKey
    pieces: list[SpeechPiece] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)
    done: bool = False


class SpeechSynthesis:
    """Shares syntheses between listeners and keeps the recent ones for late askers."""

    def __init__(
        self,
        registry: SynthesizerRegistry,
        writer: GroupCommitWriter,
        workers: int = 2,
        keep: int = 64,
    ) -> None:
        self.registry = registry
        self.writer = writer
        self.keep = keep
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="synthesize")
        self._lock = threading.Lock()
        self._jobs: OrderedDict[SpeechKey, _Job] = OrderedDict()

    def request(self, room_id: UUID, key: SpeechKey, text: str, subscriber: Subscriber) -> None:
        """Have ``text`` spoken for ``subscriber`` (called from any thread, never blocks)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                for piece in job.pieces:
                    subscriber(key, piece)
                if not job.done:
                    job.subscribers.append(subscriber)
                return
            job = _Job(key, subscribers=[subscriber])
            self._jobs[key] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        self._pool.submit(self._synthesize, job, room_id, text)

    def close(self) -> None:
        """Stop synthesizing."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _synthesize(self, job: _Job, room_id: UUID, text: str) -> None:
        key = job.key
        synthesis = self.registry.synthesize(text, key.language, key.voice, key.preference)
        self._publish(job, SpeechHeader(synthesis.sample_rate, synthesis.voice, synthesis.engine))
        size = 0
        error_code = synthesis.error_code
        try:
            for chunk in synthesis.chunks:
                size += len(chunk)
                self._publish(job, chunk)
        except SynthesisError as error:
            error_code = error.code
            log.warning("speech synthesis broke mid-stream: %s", error.code)
        rate = synthesis.sample_rate or 1
        audio_ms = size * 1000 // (rate * BYTES_PER_SAMPLE)
        self._publish(job, SpeechEnd(audio_ms, error_code), done=True)
        self.writer.submit(
            [
                SpeechSynthesized(
                    originator_id=speech_id_for(
                        key.transcript_id, key.language, synthesis.voice, synthesis.engine
                    ),
                    originator_version=1,
                    timestamp=SpeechSynthesized.create_timestamp(),
                    room_id=room_id,
                    transcript_id=key.transcript_id,
                    language=key.language,
                    voice=synthesis.voice,
                    engine=synthesis.engine,
                    sample_rate=synthesis.sample_rate,
                    audio_ms=audio_ms,
                    first_chunk_ms=synthesis.first_chunk_ms,
                    fallbacks=synthesis.fallbacks,
                    error_code=error_code,
                    channel=WEBSOCKET_CHANNEL,
                )
            ],
            _log_refusal,
        )

    def _publish(self, job: _Job, piece: SpeechPiece, *, done: bool = False) -> None:
        """Hand a piece to every subscriber, in order, and keep it for late ones."""
        with self._lock:
            job.pieces.append(piece)
            job.done = done
            for subscriber in job.subscribers:
                subscriber(job.key, piece)
            if done:
                job.subscribers.clear()


def _log_refusal(result: Sequence[int] | BaseException) -> None:
    """A synthesis already recorded (a repeat after eviction) is not recorded twice."""
    if isinstance(result, BaseException):
        log.info("speech synthesis not recorded: %s", result)
