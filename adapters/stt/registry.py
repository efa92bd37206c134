"""The recognizer registry: per-user engine preference, time limits and fallback.

A speaker's words must not be lost because one engine broke, so
``transcribe`` never raises: it walks the engines (the user's preferred ones
first, then the rest in registration order), gives each a time limit, and
records every engine that failed on the way. When nothing works it returns
an empty transcript with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from adapters.audio import SAMPLE_RATE, Pcm
from adapters.registry import NO_ENGINE, EngineRegistry
from adapters.stt.base import (
    RecognitionError,
    RecognitionTimeoutError,
    SpeechRecognizer,
    Transcript,
    UnsupportedLanguageError,
)

logger = logging.getLogger(__name__)

#: Engine name recorded when no engine produced the transcript.


class RecognizerRegistry(EngineRegistry[SpeechRecognizer]):
    """Engines in registration order, tried with per-user preference and fallback.

    Each engine call runs in the registry's thread pool and is abandoned after
    ``timeout_s``; an abandoned call keeps its pool thread until the engine
    returns.

    Args:
        engines: the engines, in fallback order; names must be unique.
        timeout_s: time limit for one engine call.
        max_workers: size of the thread pool engine calls run in.

    Raises:
        ValueError: two engines share a name.

    """

    def __init__(
        self,
        engines: Sequence[SpeechRecognizer],
        timeout_s: float = 5.0,
        max_workers: int = 8,
    ) -> None:
        super().__init__(engines, timeout_s, max_workers, "stt")

    def supports(self, language: str) -> bool:
        """Whether any engine can transcribe ``language``, to refuse a speaker early."""
        return any(engine.supports(language) for engine in self._engines.values())

    def transcribe(
        self, audio: Pcm, language: str, preference: Sequence[str] = (), final: bool = True
    ) -> Transcript:
        """Transcribe with the first engine that supports the language and succeeds.

        Never raises. ``decode_ms`` is the whole call, failed attempts
        included; ``fallbacks`` holds ``"engine:error_code"`` for each engine
        that failed or timed out first. Unknown names in ``preference`` are
        ignored.

        Args:
            audio: the utterance, 16 kHz mono float32.
            language: ISO 639-1 code spoken.
            preference: the user's preferred engine names, best first.
            final: stamped on the result (partial captions pass False).

        Returns:
            The transcript; if no engine could do it, empty text with
            ``engine="none"`` and ``error_code`` either
            ``unsupported_language`` or the last failure's code.

        """
        started = time.perf_counter()
        fallbacks: list[str] = []
        error_code = UnsupportedLanguageError.code
        for engine in self._in_order(preference):
            try:
                text = self._attempt(engine, audio, language)
            except RecognitionError as exc:
                logger.warning("speech engine %s failed: %s: %s", engine.name, exc.code, exc)
                fallbacks.append(f"{engine.name}:{exc.code}")
                error_code = exc.code
                continue
            if text is None:
                continue
            return self._result(text, language, final, engine.name, audio, started, fallbacks)
        return self._result("", language, final, NO_ENGINE, audio, started, fallbacks, error_code)

    def _attempt(self, engine: SpeechRecognizer, audio: Pcm, language: str) -> str | None:
        """Try one engine: return its text, or None if it does not support the language.

        Raises:
            RecognitionError: the engine failed, broke, or ran out of time
                (``recognition_timeout``).

        """
        return self._ask(
            engine,
            lambda: engine.supports(language),
            lambda: engine.transcribe(audio, language),
            RecognitionError,
            RecognitionTimeoutError,
        )

    @staticmethod
    def _result(
        text: str,
        language: str,
        final: bool,
        engine: str,
        audio: Pcm,
        started: float,
        fallbacks: list[str],
        error_code: str | None = None,
    ) -> Transcript:
        """Assemble a transcript with its timings."""
        return Transcript(
            text=text,
            language=language,
            final=final,
            engine=engine,
            audio_ms=len(audio) * 1000 // SAMPLE_RATE,
            decode_ms=round((time.perf_counter() - started) * 1000),
            fallbacks=tuple(fallbacks),
            error_code=error_code,
        )
