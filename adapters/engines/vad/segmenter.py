"""Cutting one audio source's PCM stream into utterances, as it arrives.

The segmenter turns per-window speech probabilities into four kinds of event:

* :class:`UtteranceOpened`: enough consecutive speech (``min_speech_ms``) was
  heard; it carries the ``prefix_padding_ms`` of audio before the speech too,
  so the first syllable is not clipped.
* :class:`UtteranceAudio`: more audio of the current utterance, including short
  pauses inside it once speech resumes.
* :class:`UtterancePaused`: silence began and ``end_padding_ms`` of it has been
  delivered; everything said so far is out, so this is the moment to decode
  the utterance: if the silence lasts, that decode is the final transcript
  and nothing is left to do when the end is confirmed.
* :class:`UtteranceClosed`: the silence lasted ``min_silence_ms`` (``silence``),
  the utterance reached ``max_utterance_ms`` (``max_length``: continuous
  speech is cut, and the next utterance starts at once), or the stream ended
  (``end_of_stream``).

They are signals about the audio, named apart from the ``Room`` events
``SpeechStarted`` and ``SpeechEnded``, which record a person's turn in the log.

Windows quieter than ``silence_floor_dbfs`` are silence without asking the
detector: digital silence, a muted microphone or the comfort noise of a
silent WebRTC track cost nothing but an energy sum, and the detector (Silero
runs a neural network on every 32 ms window) only runs once there is sound.
They are still kept as prefix padding, so an utterance that starts after
such silence keeps its first syllable; after a long gated stretch the
detector starts afresh, as it would on a new stream.

Silence after the end padding is held back while it lasts and never given to
the recognizer unless speech resumes. Memory is bounded by the padding and
silence windows held: a stream of any length keeps the same few kilobytes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from adapters.engines.audio import SAMPLE_RATE, Pcm, empty_pcm
from adapters.engines.vad.base import VoiceActivityDetector

EndReason = Literal["silence", "max_length", "end_of_stream"]


@dataclass(frozen=True)
class SegmenterConfig:
    """How eagerly speech starts and ends; defaults favour low end-of-speech latency.

    Attributes:
        activation: probability at or above which a window counts as speech
            when no utterance is open.
        deactivation: probability below which a window counts as silence
            inside an utterance (lower than ``activation``: hysteresis).
        min_speech_ms: consecutive speech needed to open an utterance.
        min_silence_ms: silence that closes an utterance.
        prefix_padding_ms: audio before the detected start given with it.
        end_padding_ms: silence after the speech given with it, before
            :class:`UtterancePaused`; shorter than ``min_silence_ms``.
        max_utterance_ms: length at which continuous speech is cut.
        silence_floor_dbfs: RMS level (dB full scale) below which a window
            is silence without running the detector; None runs it on every
            window. -55 dBFS is below any voice at a microphone and above
            digital silence and WebRTC comfort noise.

    """

    activation: float = 0.5
    deactivation: float = 0.35
    min_speech_ms: int = 64
    min_silence_ms: int = 200
    prefix_padding_ms: int = 200
    end_padding_ms: int = 96
    max_utterance_ms: int = 15_000
    silence_floor_dbfs: float | None = -55.0

    def __post_init__(self) -> None:
        if not 0.0 < self.deactivation <= self.activation <= 1.0:
            raise ValueError("need 0 < deactivation <= activation <= 1")
        if not 0 <= self.end_padding_ms < self.min_silence_ms:
            raise ValueError("need 0 <= end_padding_ms < min_silence_ms")
        if self.max_utterance_ms < 1000:
            raise ValueError("max_utterance_ms must be at least 1000")
        if self.silence_floor_dbfs is not None and not self.silence_floor_dbfs < 0:
            raise ValueError("silence_floor_dbfs must be below 0 dBFS")


@dataclass(frozen=True, eq=False)
class UtteranceOpened:
    """An utterance opened; ``audio`` is its first audio, padding included."""

    start_ms: int
    audio: Pcm


@dataclass(frozen=True, eq=False)
class UtteranceAudio:
    """More audio of the open utterance."""

    audio: Pcm


@dataclass(frozen=True)
class UtterancePaused:
    """Silence began at ``at_ms``: all speech so far has been delivered."""

    at_ms: int


@dataclass(frozen=True)
class UtteranceClosed:
    """The utterance closed; it spans ``duration_ms`` of audio ending at ``end_ms``."""

    end_ms: int
    duration_ms: int
    reason: EndReason


SegmentEvent = UtteranceOpened | UtteranceAudio | UtterancePaused | UtteranceClosed


RESTART_AFTER_MS = 320
"""A gated stretch this long makes the detector start afresh on the next sound."""


def _ms(samples: int) -> int:
    """Convert a count of 16 kHz samples to milliseconds."""
    return samples * 1000 // SAMPLE_RATE


class SpeechSegmenter:
    """Segments one audio source; blocking (it runs the detector), not thread-safe.

    Args:
        detector: the VAD engine; the segmenter takes its own scorer.
        config: thresholds and durations.

    """

    def __init__(
        self, detector: VoiceActivityDetector, config: SegmenterConfig | None = None
    ) -> None:
        self._detector = detector
        self._config = config = config or SegmenterConfig()
        self._window = detector.window_samples
        window_ms = self._window * 1000 / SAMPLE_RATE
        self._min_speech = max(1, math.ceil(config.min_speech_ms / window_ms))
        self._min_silence = max(1, math.ceil(config.min_silence_ms / window_ms))
        self._end_padding = math.ceil(config.end_padding_ms / window_ms)
        self._max_samples = config.max_utterance_ms * SAMPLE_RATE // 1000
        prefix_windows = math.ceil(config.prefix_padding_ms / window_ms)
        self._prefix: deque[Pcm] = deque(maxlen=prefix_windows + self._min_speech)
        self._scorer = detector.scorer()
        self._floor = _mean_square(config.silence_floor_dbfs)
        self._restart_after = math.ceil(RESTART_AFTER_MS / window_ms)
        self._gated = 0
        self._pending = empty_pcm()
        self._position = 0
        self._speaking = False
        self._continuing = False
        self._run = 0
        self._held: list[Pcm] = []
        self._start = 0
        self._length = 0
        self._events: list[SegmentEvent] = []
        self._audio: list[Pcm] = []

    def push(self, pcm: Pcm) -> list[SegmentEvent]:
        """Score the new audio window by window; return the events it caused, in order."""
        data = np.concatenate((self._pending, pcm)) if self._pending.size else pcm
        whole = len(data) - len(data) % self._window
        for offset in range(0, whole, self._window):
            self._step(data[offset : offset + self._window])
        self._pending = data[whole:].copy()
        return self._take_events()

    def finish(self) -> list[SegmentEvent]:
        """End of stream: close an open utterance (``end_of_stream``) and start afresh."""
        if self._speaking:
            self._emit(self._pending)
            self._end("end_of_stream")
        self._position += len(self._pending)
        self._pending = empty_pcm()
        self._prefix.clear()
        self._held = []
        self._run = 0
        self._continuing = False
        self._scorer = self._detector.scorer()
        self._gated = 0
        return self._take_events()

    def _step(self, window: Pcm) -> None:
        """Score one window and move the state machine."""
        probability = self._score(window)
        self._position += self._window
        if self._speaking:
            self._step_speaking(window, probability)
        else:
            self._step_idle(window, probability)
        held = len(self._held) * self._window
        if self._speaking and self._length + held >= self._max_samples:
            mid_speech = self._run == 0
            self._end("max_length")
            self._continuing = mid_speech

    def _score(self, window: Pcm) -> float:
        """The detector's probability, or 0 for a window below the silence floor."""
        if float(np.dot(window, window)) < self._floor * len(window):
            self._gated += 1
            return 0.0
        if self._gated >= self._restart_after:
            self._scorer = self._detector.scorer()
        self._gated = 0
        return self._scorer.score(window)

    def _step_idle(self, window: Pcm, probability: float) -> None:
        """Wait for ``min_speech`` speech windows (one, right after a forced cut)."""
        self._prefix.append(window)
        config = self._config
        if self._continuing and probability >= config.deactivation:
            self._run = self._min_speech
        elif probability >= config.activation:
            self._run += 1
        else:
            self._run = 0
        self._continuing = False
        if self._run < self._min_speech:
            return
        audio = np.concatenate(self._prefix)
        self._prefix.clear()
        self._speaking = True
        self._run = 0
        self._start = self._position - len(audio)
        self._event(UtteranceOpened(start_ms=_ms(self._start), audio=audio))
        self._length = len(audio)

    def _step_speaking(self, window: Pcm, probability: float) -> None:
        """Deliver speech and end padding, hold longer silence, close after ``min_silence``."""
        if probability >= self._config.deactivation:
            for held in self._held:
                self._emit(held)
            self._held = []
            self._run = 0
            self._emit(window)
            return
        self._run += 1
        if self._run <= self._end_padding:
            self._emit(window)
        else:
            self._held.append(window)
        if self._run == max(self._end_padding, 1):
            self._event(UtterancePaused(at_ms=_ms(self._start + self._length)))
        if self._run >= self._min_silence:
            self._end("silence")

    def _emit(self, audio: Pcm) -> None:
        """Add audio to the open utterance (sent as one UtteranceAudio per run of audio)."""
        if audio.size:
            self._audio.append(audio)
            self._length += len(audio)

    def _end(self, reason: EndReason) -> None:
        """Close the open utterance; held silence becomes padding for the next one."""
        self._event(
            UtteranceClosed(
                end_ms=_ms(self._start + self._length), duration_ms=_ms(self._length), reason=reason
            )
        )
        self._speaking = False
        self._run = 0
        self._prefix.extend(self._held)
        self._held = []

    def _event(self, event: SegmentEvent) -> None:
        """Queue an event after the audio emitted before it."""
        self._flush_audio()
        self._events.append(event)

    def _flush_audio(self) -> None:
        """Turn the audio emitted since the last event into one UtteranceAudio event."""
        if self._audio:
            self._events.append(UtteranceAudio(audio=np.concatenate(self._audio)))
            self._audio = []

    def _take_events(self) -> list[SegmentEvent]:
        """Return and forget the events queued by this call."""
        self._flush_audio()
        events, self._events = self._events, []
        return events


def _mean_square(dbfs: float | None) -> float:
    """The mean square of a float signal whose RMS is ``dbfs`` (0 when there is no floor)."""
    return 0.0 if dbfs is None else 10.0 ** (dbfs / 10.0)
