"""SpeechPipelineActor: one speaking source, from audio frames to transcripts.

Decoding and voice activity detection are cheap and run on the actor's
thread; recognition runs on a shared pool, with results coming back as
messages, so the actor keeps taking audio while a decode runs. The actor
knows nothing of WebSockets or LiveKit: it takes encoded audio chunks and
reports through a :class:`PipelineOutput`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import singledispatchmethod
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

import pykka

from actors.recording.clips import HeardAudio
from actors.telemetry import NO_TELEMETRY, VAD_WAIT, Telemetry
from adapters.engines.audio import AudioDecoder, AudioFormatError, CorruptAudioError, Pcm
from adapters.engines.audio.base import SAMPLE_RATE
from adapters.engines.audio.decoders import open_decoder
from adapters.engines.stt.base import Transcript
from adapters.engines.stt.registry import RecognizerRegistry
from adapters.engines.stt.stream import UtteranceStream
from adapters.engines.vad import (
    SegmenterConfig,
    SegmentEvent,
    SpeechSegmenter,
    UtteranceAudio,
    UtteranceClosed,
    UtteranceOpened,
    UtterancePaused,
    VoiceActivityDetector,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

FAST_AUDIO_ALLOWANCE_S = 3.0
FAST_AUDIO_FACTOR = 1.5


class PipelineOutput(Protocol):
    """Where a pipeline reports; called from the actor's thread."""

    def began(self, utterance: UUID) -> None:
        """The voice detector heard an utterance start (the assistant stops talking)."""

    def partial(self, utterance: UUID, text: str) -> None:
        """A new partial caption of the utterance being spoken."""

    def final(self, utterance: UUID, transcript: Transcript, duration_ms: int) -> None:
        """The final transcript of an utterance (never empty)."""

    def error(self, code: str, message: str) -> None:
        """Something was wrong with the audio; the pipeline carries on."""

    def ended(self) -> None:
        """The stream ended and every utterance in it has been reported."""


class RecognitionPool:
    """The recognition threads every pipeline shares, and how busy they are.

    Partial captions are a courtesy; final transcripts are the product. When
    every thread is taken, pipelines skip the partial decodes that are not
    forced by a pause, so finals never queue behind captions and a loaded
    machine shows sparser captions instead of late transcripts. Captions
    also space out as more people speak at once (:attr:`partial_spacing`):
    every caption decodes the whole utterance so far, so with more speakers
    than threads the threads would otherwise spend all their time on
    captions, and utterances ending together would find them busy.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="recognize")
        self._lock = threading.Lock()
        self._pending = 0
        self._speaking = 0

    @property
    def partial_spacing(self) -> int:
        """How many caption intervals of new audio an utterance waits for before a caption.

        One while there are no more utterances being spoken than threads;
        then the utterances per thread, rounded up.
        """
        return max(1, -(-self._speaking // self.workers))

    def utterance_opened(self) -> None:
        """Someone started an utterance (it will want captions)."""
        with self._lock:
            self._speaking += 1

    def utterance_closed(self) -> None:
        """An utterance ended (or its pipeline stopped)."""
        with self._lock:
            self._speaking = max(0, self._speaking - 1)

    @property
    def saturated(self) -> bool:
        """Whether every thread has a decode to run (queued or running)."""
        return self._pending >= self.workers

    def submit(self, work: Callable[..., T], *args: object) -> Future[T]:
        """Run ``work(*args)`` on a recognition thread."""
        with self._lock:
            self._pending += 1
        future = self._executor.submit(work, *args)
        future.add_done_callback(self._done)
        return future

    def shutdown(self) -> None:
        """Stop the threads; decodes not started are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1


@dataclass(frozen=True)
class SpeechEngines:
    """The engines every pipeline shares (one model in memory, one pool)."""

    detector: VoiceActivityDetector
    recognizers: RecognizerRegistry
    pool: RecognitionPool
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    partial_interval_ms: int = 500
    telemetry: Telemetry = NO_TELEMETRY


class AudioBudget:
    """Bounds the audio queued for one pipeline (pykka inboxes are unbounded).

    The sender takes from the budget before telling the actor a chunk; the
    actor gives it back once the chunk is decoded. A chunk that does not fit
    is refused, and the sender drops it and says so.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._queued = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve room for a chunk; False if it would exceed the limit."""
        with self._lock:
            if self._queued + size > self.limit_bytes:
                return False
            self._queued += size
            return True

    def give_back(self, size: int) -> None:
        """The actor handled a chunk of ``size`` bytes."""
        with self._lock:
            self._queued -= size


@dataclass(frozen=True)
class PipelineSpec:
    """One source: what it speaks and how its audio is encoded."""

    language: str
    encoding: str
    sample_rate: int
    budget: AudioBudget
    stt_preference: tuple[str, ...] = ()
    heard: Callable[[HeardAudio], None] | None = None
    """Handed each finished utterance's audio, on a recognition thread (recording)."""


@dataclass(frozen=True)
class AudioChunk:
    """Encoded audio as it arrived."""

    data: bytes


@dataclass(frozen=True)
class EndAudio:
    """The source stopped speaking: flush and report what is left."""


@dataclass(frozen=True)
class _PartialDone:
    utterance: UUID
    transcript: Transcript | None


@dataclass(frozen=True)
class _FinalDone:
    sequence: int
    utterance: UUID
    transcript: Transcript
    duration_ms: int


@dataclass
class _Utterance:
    """The utterance being spoken."""

    id: UUID
    sequence: int
    stream: UtteranceStream
    started_at: datetime
    partial_running: bool = False
    last_partial: str = ""


class SpeechPipelineActor(pykka.ThreadingActor):
    """VAD, then streaming STT, for one speaking source."""

    def __init__(
        self,
        spec: PipelineSpec,
        engines: SpeechEngines,
        output: PipelineOutput,
        decoder: AudioDecoder | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.engines = engines
        self.output = output
        self._decoder = decoder or open_decoder(spec.encoding, spec.sample_rate)
        self._segmenter = SpeechSegmenter(engines.detector, engines.segmenter)
        self._utterance: _Utterance | None = None
        self._sequence = 0
        self._finals: dict[int, _FinalDone] = {}
        self._next_final = 1
        self._ending = False
        self._broken = False
        self._started_at = time.monotonic()
        self._samples = 0
        self._last_overrun = 0.0

    def on_stop(self) -> None:
        """Release the decoder (Opus decoders hold a thread) and the utterance being spoken."""
        self._decoder.close()
        self._drop_utterance()

    def on_failure(self, *_: object) -> None:
        """Tell the speaker; they start speaking again to get a fresh pipeline."""
        self._decoder.close()
        self._drop_utterance()
        self.output.error("speech_pipeline_failed", "speech processing failed; start again")
        self.output.ended()

    def on_receive(self, message: Any) -> None:
        """Dispatch by message type."""
        self.handle(message)

    @singledispatchmethod
    def handle(self, message: Any) -> None:
        """Unknown messages are a programming error."""
        raise TypeError(f"pipeline cannot handle {type(message).__name__}")

    @handle.register
    def _audio(self, message: AudioChunk) -> None:
        self.spec.budget.give_back(len(message.data))
        if self._ending or self._broken:
            return
        try:
            pcm = self._decoder.feed(message.data)
        except CorruptAudioError as error:
            self._broken = True
            self.output.error(error.code, f"{error}; the rest of this stream is ignored")
            return
        except AudioFormatError as error:
            self.output.error(error.code, str(error))
            return
        if self._too_fast(pcm):
            return
        self._segment(self._segmenter.push(pcm))

    @handle.register
    def _end(self, _: EndAudio) -> None:
        if self._ending:
            return
        self._ending = True
        try:
            tail = self._decoder.finish()
        except AudioFormatError as error:
            self.output.error(error.code, str(error))
            tail = None
        events = self._segmenter.push(tail) if tail is not None and tail.size else []
        self._segment([*events, *self._segmenter.finish()])
        self._maybe_ended()

    @handle.register
    def _partial_done(self, message: _PartialDone) -> None:
        utterance = self._utterance
        if utterance is None or utterance.id != message.utterance:
            return
        utterance.partial_running = False
        text = message.transcript.text.strip() if message.transcript else ""
        if text and text != utterance.last_partial:
            utterance.last_partial = text
            self.output.partial(utterance.id, text)

    @handle.register
    def _final_done(self, message: _FinalDone) -> None:
        self._finals[message.sequence] = message
        while (ready := self._finals.pop(self._next_final, None)) is not None:
            self._next_final += 1
            if ready.transcript.text.strip():
                self.output.final(ready.utterance, ready.transcript, ready.duration_ms)
            elif ready.transcript.error_code:
                self.output.error(ready.transcript.error_code, "speech could not be recognized")
        self._maybe_ended()

    def _too_fast(self, pcm: Pcm) -> bool:
        """Refuse audio arriving much faster than real time (it would pile up)."""
        elapsed = time.monotonic() - self._started_at
        allowed = elapsed * FAST_AUDIO_FACTOR + FAST_AUDIO_ALLOWANCE_S
        if (self._samples + len(pcm)) / SAMPLE_RATE <= allowed:
            self._samples += len(pcm)
            return False
        now = time.monotonic()
        if now - self._last_overrun >= 1.0:
            self._last_overrun = now
            self.output.error(
                "audio_too_fast",
                f"audio is arriving faster than real time; send at most "
                f"{FAST_AUDIO_FACTOR:g}x real time (extra audio is dropped)",
            )
        return True

    def _segment(self, events: list[SegmentEvent]) -> None:
        for event in events:
            if isinstance(event, UtteranceOpened):
                self._sequence += 1
                stream = UtteranceStream(
                    self.engines.recognizers,
                    self.spec.language,
                    self.spec.stt_preference,
                    self.engines.partial_interval_ms,
                )
                lead = timedelta(seconds=len(event.audio) / SAMPLE_RATE)
                started_at = datetime.now(UTC) - lead
                self._utterance = _Utterance(uuid4(), self._sequence, stream, started_at)
                self.engines.pool.utterance_opened()
                stream.push(event.audio)
                self.output.began(self._utterance.id)
            elif isinstance(event, UtteranceAudio) and self._utterance is not None:
                self._utterance.stream.push(event.audio)
            elif isinstance(event, UtterancePaused) and self._utterance is not None:
                self._request_partial(force=True)
            elif isinstance(event, UtteranceClosed) and self._utterance is not None:
                self._request_final(self._utterance, event.duration_ms)
                self._drop_utterance()
        if self._utterance is not None:
            self._request_partial(force=False)

    def _request_partial(self, *, force: bool) -> None:
        utterance = self._utterance
        assert utterance is not None
        if not force and (
            utterance.partial_running
            or self.engines.pool.saturated
            or not utterance.stream.partial_due(self.engines.pool.partial_spacing)
        ):
            return
        utterance.partial_running = True
        future = self.engines.pool.submit(utterance.stream.partial, force)
        future.add_done_callback(lambda done: self._tell(_PartialDone(utterance.id, _result(done))))

    def _request_final(self, utterance: _Utterance, duration_ms: int) -> None:
        ended = time.monotonic()
        telemetry = self.engines.telemetry

        def finalize() -> Transcript:
            telemetry.stage(VAD_WAIT, time.monotonic() - ended)
            return utterance.stream.finalize()

        future = self.engines.pool.submit(finalize)

        def finished(done: Future[Transcript]) -> None:
            transcript = _result(done) or Transcript(
                "", self.spec.language, True, "none", duration_ms, 0, (), "recognition_failed"
            )
            waited_ms = round((time.monotonic() - ended) * 1000)
            transcript = dataclasses.replace(transcript, decode_ms=waited_ms)
            self._tell(_FinalDone(utterance.sequence, utterance.id, transcript, duration_ms))
            self._hand_over(utterance)

        future.add_done_callback(finished)

    def _hand_over(self, utterance: _Utterance) -> None:
        """Give the utterance's audio to whoever records it (a queue put at most)."""
        if self.spec.heard is not None:
            audio = utterance.stream.audio()
            started = utterance.started_at
            self.spec.heard(HeardAudio(utterance.id, self.spec.language, audio, started))

    def _drop_utterance(self) -> None:
        """The utterance being spoken is over (or never will be): it wants no more captions."""
        if self._utterance is not None:
            self._utterance = None
            self.engines.pool.utterance_closed()

    def _maybe_ended(self) -> None:
        if self._ending and self._utterance is None and self._next_final > self._sequence:
            self.output.ended()

    def _tell(self, message: object) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            log.debug("pipeline stopped before a recognition result arrived")


def _result(future: Future[T]) -> T | None:
    """The future's transcript, or None if recognition itself crashed."""
    try:
        return future.result()
    except Exception:
        log.exception("recognition crashed")
        return None
