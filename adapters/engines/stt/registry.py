"""The recognizer registry: per-user engine preference, time limits and fallback.

A speaker's words must not be lost because one engine broke, so
``transcribe`` never raises: it walks the engines (the user's preferred ones
first, then the rest in registration order), gives each a time limit, and
records every engine that failed on the way. When nothing works it returns
an empty transcript with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from adapters.engines.audio import SAMPLE_RATE, Pcm
from adapters.engines.registry import EngineRegistry, elapsed_ms
from adapters.engines.stt.base import (
    RecognitionError,
    RecognitionTimeoutError,
    SpeechRecognizer,
    Transcript,
    UnsupportedLanguageError,
)


class RecognizerRegistry(EngineRegistry[SpeechRecognizer]):
    """Engines in registration order, tried with per-user preference and fallback.

    Each engine call runs in the registry's thread pool and is abandoned after
    ``timeout_s``; an abandoned call keeps its pool thread until the engine
    returns.

    Arguments as :class:`~adapters.engines.registry.EngineRegistry`'s.
    """

    failure = RecognitionError
    timeout = RecognitionTimeoutError
    kind = "speech engine"

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
        answer = self._first(
            preference,
            lambda engine: self._attempt(engine, audio, language),
            UnsupportedLanguageError.code,
        )
        return Transcript(
            text=answer.result or "",
            language=language,
            final=final,
            engine=answer.engine_name,
            audio_ms=len(audio) * 1000 // SAMPLE_RATE,
            decode_ms=elapsed_ms(started),
            fallbacks=answer.fallbacks,
            error_code=answer.error_code,
        )

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
        )
