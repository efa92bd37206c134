"""Speaking translations: one synthesis per transcript, language, voice and engine.

Every listener who wants to hear a translation asks for it; listeners of the
same language with the same voice share one synthesis, whose audio is handed
to each of them as it is produced (late askers get what was already made,
then the rest). Each synthesis is recorded as a SpeechSynthesized event on
the ``websocket`` channel; the audio itself never is.

Synthesis is the first thing to give way under load: it runs on fewer
threads than there are cores, and a request is only worth synthesizing while
it is fresh. One that waited longer than :attr:`SheddingRule.max_wait_s` for a
synthesizer, or that would make the waiting line longer than
:attr:`SheddingRule.max_waiting`, is shed: its listeners get an end with
``speech_shed`` and no audio, and it is recorded with that code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID

from actors.recording import SpokenAudio
from adapters.engines.cores import usable_cores
from adapters.engines.registry import NO_ENGINE
from adapters.engines.tts.base import SynthesisError
from adapters.engines.tts.registry import SynthesizerRegistry
from events.domain import WEBSOCKET_CHANNEL, SpeechSynthesized
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)

BYTES_PER_SAMPLE = 2
SPEECH_SHED = "speech_shed"
"""``errorCode`` of a synthesis skipped because synthesis could not keep up."""

T = TypeVar("T")


def synthesis_threads() -> int:
    """Threads that synthesize: one core is always left for text delivery."""
    return max(1, usable_cores() - 1)


@dataclass(frozen=True)
class SheddingRule:
    """When a synthesis is no longer worth doing (see the module docstring)."""

    max_wait_s: float = 2.0
    max_waiting: int = 32


class WaitingLine(Generic[T]):
    """Requests waiting for a synthesizer, oldest first, shedding the stale ones.

    Not thread-safe; the caller holds a lock. Times are ``time.monotonic()``
    values passed in, so the rule can be checked without waiting.
    """

    def __init__(self, rule: SheddingRule) -> None:
        self.rule = rule
        self._line: deque[tuple[float, T]] = deque()

    def __len__(self) -> int:
        return len(self._line)

    def add(self, item: T, now: float) -> list[T]:
        """Queue ``item``; return the oldest ones shed to keep the line short."""
        self._line.append((now, item))
        shed: list[T] = []
        while len(self._line) > self.rule.max_waiting:
            shed.append(self._line.popleft()[1])
        return shed

    def take(self, now: float) -> tuple[T | None, list[T]]:
        """The next request still fresh (or None), and those that waited too long."""
        shed: list[T] = []
        while self._line:
            since, item = self._line.popleft()
            if now - since <= self.rule.max_wait_s:
                return item, shed
            shed.append(item)
        return None, shed

    def clear(self) -> None:
        """Forget every waiting request."""
        self._line.clear()


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
    room_id: UUID
    text: str
    pieces: list[SpeechPiece] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)
    done: bool = False


class SpeechSynthesis:
    """Shares syntheses between listeners, keeps recent ones for late askers, sheds stale ones."""

    def __init__(
        self,
        registry: SynthesizerRegistry,
        writer: GroupCommitWriter,
        workers: int | None = None,
        keep: int = 64,
        rule: SheddingRule | None = None,
        spoken: Callable[[SpokenAudio], None] | None = None,
    ) -> None:
        self.registry = registry
        self.writer = writer
        self.spoken = spoken
        """Handed each finished synthesis's audio (recording), on the synthesis thread."""
        self.keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[SpeechKey, _Job] = OrderedDict()
        self._waiting: WaitingLine[_Job] = WaitingLine(rule or SheddingRule())
        self._wake = threading.Condition(self._lock)
        self._closed = False
        for number in range(workers or synthesis_threads()):
            threading.Thread(target=self._work, name=f"synthesize-{number}", daemon=True).start()

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
            job = _Job(key, room_id, text, subscribers=[subscriber])
            self._jobs[key] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
            shed = self._waiting.add(job, time.monotonic())
            self._wake.notify()
        self._shed(shed)

    def close(self) -> None:
        """Stop synthesizing; what still waits is dropped unrecorded."""
        with self._lock:
            self._closed = True
            self._waiting.clear()
            self._wake.notify_all()

    def _work(self) -> None:
        """One synthesis thread: the next fresh request, shedding stale ones on the way."""
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job, shed = self._waiting.take(time.monotonic())
            self._shed(shed)
            if job is not None:
                try:
                    self._synthesize(job)
                except Exception:
                    log.exception("speech synthesis failed")

    def _shed(self, jobs: list[_Job]) -> None:
        """End stale requests without audio, and record each as shed."""
        if not jobs:
            return
        for job in jobs:
            self._publish(job, SpeechEnd(0, SPEECH_SHED), done=True)
        records = [_record(job, NO_ENGINE, job.key.voice, 0, 0, 0, (), SPEECH_SHED) for job in jobs]
        self.writer.submit(records, _log_refusal)
        log.info("speech synthesis shed %d stale request(s)", len(jobs))

    def _synthesize(self, job: _Job) -> None:
        key = job.key
        text = job.text
        synthesis = self.registry.synthesize(text, key.language, key.voice, key.preference)
        started_at = datetime.now(UTC)
        self._publish(job, SpeechHeader(synthesis.sample_rate, synthesis.voice, synthesis.engine))
        size = 0
        error_code = synthesis.error_code
        chunks: list[bytes] = []
        try:
            for chunk in synthesis.chunks:
                size += len(chunk)
                chunks.append(chunk)
                self._publish(job, chunk)
        except SynthesisError as error:
            error_code = error.code
            log.warning("speech synthesis broke mid-stream: %s", error.code)
        rate = synthesis.sample_rate or 1
        audio_ms = size * 1000 // (rate * BYTES_PER_SAMPLE)
        self._publish(job, SpeechEnd(audio_ms, error_code), done=True)
        if self.spoken is not None and size and synthesis.sample_rate:
            self.spoken(
                SpokenAudio(
                    job.room_id,
                    key.transcript_id,
                    key.language,
                    synthesis.voice,
                    synthesis.engine,
                    synthesis.sample_rate,
                    b"".join(chunks),
                    started_at,
                )
            )
        record = _record(
            job,
            synthesis.engine,
            synthesis.voice,
            synthesis.sample_rate,
            audio_ms,
            synthesis.first_chunk_ms,
            synthesis.fallbacks,
            error_code,
        )
        self.writer.submit([record], _log_refusal)

    def _publish(self, job: _Job, piece: SpeechPiece, *, done: bool = False) -> None:
        """Hand a piece to every subscriber, in order, and keep it for late ones."""
        with self._lock:
            job.pieces.append(piece)
            job.done = done
            for subscriber in job.subscribers:
                subscriber(job.key, piece)
            if done:
                job.subscribers.clear()


def _record(
    job: _Job,
    engine: str,
    voice: str | None,
    sample_rate: int,
    audio_ms: int,
    first_chunk_ms: int,
    fallbacks: tuple[str, ...],
    error_code: str | None,
) -> SpeechSynthesized:
    """The SpeechSynthesized that records one synthesis (or its shedding)."""
    key = job.key
    return SpeechSynthesized.recording(
        room_id=job.room_id,
        transcript_id=key.transcript_id,
        language=key.language,
        voice=voice,
        engine=engine,
        sample_rate=sample_rate,
        audio_ms=audio_ms,
        first_chunk_ms=first_chunk_ms,
        fallbacks=fallbacks,
        error_code=error_code,
        channel=WEBSOCKET_CHANNEL,
    )


def _log_refusal(result: Sequence[int] | BaseException) -> None:
    """A synthesis already recorded (a repeat after eviction) is not recorded twice."""
    if isinstance(result, BaseException):
        log.info("speech synthesis not recorded: %s", result)
