"""Streaming recognition for batch engines: decode the utterance again as it grows.

A partial caption is a full decode of the utterance so far, at most once per
``partial_interval_ms`` of new audio, and never two decodes of one stream at
once (a caller asking while one runs gets None instead of a backlog). When
the segmenter reports a pause, a forced partial decodes everything said; if
the silence lasts, ``finalize`` finds nothing new and returns that result at
once, so the final transcript costs nothing after end of speech. If audio
did arrive since, only that one decode is left to wait for.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from typing import Final

import numpy as np

from adapters.engines.audio import SAMPLE_RATE, Pcm, empty_pcm
from adapters.engines.registry import NO_ENGINE
from adapters.engines.stt.base import Transcript
from adapters.engines.stt.registry import RecognizerRegistry

logger = logging.getLogger(__name__)

#: Longest utterance kept: Whisper-style engines take at most 30 s per call.
MAX_UTTERANCE_SAMPLES: Final = 30 * SAMPLE_RATE


class UtteranceStream:
    """One utterance's audio and its latest transcript; ``push`` may run beside a decode.

    Memory is the utterance's audio (at most 30 s, about 2 MB); audio past
    that is dropped with a warning: the segmenter cuts utterances well before.

    Args:
        registry: the engines, with fallback.
        language: ISO 639-1 code spoken.
        preference: the user's preferred engine names, best first; an engine
            that had to stand in for a failed one is preferred for the rest of
            the utterance, so a broken engine costs one timeout, not one per
            partial.
        partial_interval_ms: new audio needed before another partial decode.

    """

    def __init__(
        self,
        registry: RecognizerRegistry,
        language: str,
        preference: Sequence[str] = (),
        partial_interval_ms: int = 500,
    ) -> None:
        self._registry = registry
        self._language = language
        self._preference = tuple(preference)
        self._interval = partial_interval_ms * SAMPLE_RATE // 1000
        self._lock = threading.Lock()
        self._decoding = threading.Lock()
        self._chunks: list[Pcm] = []
        self._samples = 0
        self._decoded = 0
        self._last: Transcript | None = None
        self._dropped = False
        self._fallbacks: tuple[str, ...] = ()

    def push(self, audio: Pcm) -> None:
        """Add audio of this utterance; cheap, never decodes."""
        with self._lock:
            room = MAX_UTTERANCE_SAMPLES - self._samples
            if len(audio) > room and not self._dropped:
                logger.warning("utterance longer than 30 s: audio past that is not transcribed")
                self._dropped = True
            audio = audio[:room]
            if audio.size:
                self._chunks.append(audio)
                self._samples += len(audio)

    def audio(self) -> Pcm:
        """All audio of the utterance so far, as the recognizer gets it (for recording)."""
        with self._lock:
            audio = np.concatenate(self._chunks) if self._chunks else empty_pcm()
            self._chunks = [audio] if audio.size else []
        return audio

    def partial(self, force: bool = False) -> Transcript | None:
        """Decode the utterance so far if enough new audio came (any, if ``force``).

        Returns None when there is nothing new enough to decode, or when a
        decode of this stream is already running and ``force`` is not set (a
        forced partial waits for it, then decodes what it did not cover).
        Blocking: run it on a worker.
        """
        if not self._due(force):
            return None
        if not self._decoding.acquire(blocking=force):
            return None
        try:
            return self._decode(final=False) if self._due(force) else None
        finally:
            self._decoding.release()

    def partial_due(self, spacing: int = 1) -> bool:
        """Whether ``spacing`` intervals of new audio came for a partial decode (cheap).

        Lets callers skip a task; ``spacing`` asks for more new audio when
        the recognition threads are shared by many speakers.
        """
        with self._lock:
            return self._samples - self._decoded >= self._interval * max(1, spacing)

    def finalize(self) -> Transcript:
        """Return the final transcript: the latest decode if it covers all audio, else a new one.

        ``decode_ms`` is this call's wait (a running partial included);
        ``fallbacks`` are those of the first decode of the utterance that had
        to fall back, so the transcript says why its engine was used. Never
        raises; an empty utterance gives empty text.
        """
        started = time.perf_counter()
        with self._decoding:
            with self._lock:
                last = self._last if self._decoded == self._samples else None
            result = last if last is not None else self._decode(final=True)
        return dataclasses.replace(
            result,
            final=True,
            decode_ms=round((time.perf_counter() - started) * 1000),
            fallbacks=result.fallbacks or self._fallbacks,
        )

    def _due(self, force: bool) -> bool:
        """Whether enough audio arrived since the last decode (any, if ``force``)."""
        with self._lock:
            new = self._samples - self._decoded
        return new > 0 and (force or new >= self._interval)

    def _decode(self, final: bool) -> Transcript:
        """Decode all audio so far (the caller holds the decoding lock)."""
        with self._lock:
            audio = np.concatenate(self._chunks) if self._chunks else empty_pcm()
            self._chunks = [audio] if audio.size else []
            samples = self._samples
        result = self._registry.transcribe(audio, self._language, self._preference, final)
        if result.fallbacks and result.engine != NO_ENGINE:
            self._preference = (result.engine, *self._preference)
            self._fallbacks = self._fallbacks or result.fallbacks
        with self._lock:
            self._last, self._decoded = result, samples
        return result
