"""The synthesizer registry: per-user engine preference, time limits and fallback.

An engine is chosen by its first chunk: the registry asks each engine in turn
(preferred ones first) for the first chunk of audio within ``timeout_s``, and
the first that delivers streams the rest. Once audio has started there is no
switching engines mid-sentence, so later failures end the stream (see
:class:`~adapters.engines.tts.base.Synthesis`). ``synthesize`` never raises.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence

from adapters.engines.registry import NO_ENGINE, EngineRegistry, elapsed_ms
from adapters.engines.tts.base import (
    SpeechSynthesizer,
    Synthesis,
    SynthesisError,
    SynthesisTimeoutError,
    UnsupportedLanguageError,
    Voice,
)


class SynthesizerRegistry(EngineRegistry[SpeechSynthesizer]):
    """Engines in registration order, tried with per-user preference and fallback.

    A chosen voice goes to every engine tried: an engine that does not have
    it fails with ``unknown_voice`` and the next is tried, so a voice picks
    its engine.

    Arguments as :class:`~adapters.engines.registry.EngineRegistry`'s; ``timeout_s``
    bounds an engine's start and first chunk.
    """

    failure = SynthesisError
    timeout = SynthesisTimeoutError
    kind = "speech synthesis"

    def __init__(
        self,
        engines: Sequence[SpeechSynthesizer],
        timeout_s: float = 5.0,
        max_workers: int = 8,
    ) -> None:
        super().__init__(engines, timeout_s, max_workers, "tts")

    def supports(self, language: str) -> bool:
        """Whether any engine can speak ``language``."""
        return any(engine.supports(language) for engine in self._engines.values())

    def voices(self, language: str | None = None) -> tuple[Voice, ...]:
        """List every engine's voices (for one language, if given), engines in order."""
        return tuple(v for engine in self._engines.values() for v in engine.voices(language))

    def synthesize(
        self,
        text: str,
        language: str,
        voice: str | None = None,
        preference: Sequence[str] = (),
    ) -> Synthesis:
        """Start speaking ``text`` with the first engine that delivers audio in time.

        Never raises. ``fallbacks`` holds ``"engine:error_code"`` for each
        engine that failed or timed out first; engines without a voice for
        the language are skipped silently (unless ``voice`` was chosen).

        Args:
            text: what to say.
            language: ISO 639-1 code of ``text``.
            voice: a voice id from :meth:`voices`, or None for the default.
            preference: the user's preferred engine names, best first.

        Returns:
            The audio stream; if no engine could start, empty ``chunks`` with
            ``engine="none"`` and ``error_code`` either ``unsupported_language``
            or the last failure's code.

        """
        started = time.perf_counter()
        answer = self._first(
            preference,
            lambda engine: self._start(engine, text, language, voice),
            UnsupportedLanguageError.code,
        )
        if answer.engine is None or answer.result is None:
            return Synthesis(
                chunks=iter(()),
                engine=NO_ENGINE,
                voice=voice,
                sample_rate=0,
                first_chunk_ms=elapsed_ms(started),
                fallbacks=answer.fallbacks,
                error_code=answer.error_code,
            )
        return Synthesis(
            chunks=answer.result,
            engine=answer.engine.name,
            voice=voice or answer.engine.default_voice(language),
            sample_rate=answer.engine.sample_rate,
            first_chunk_ms=elapsed_ms(started),
            fallbacks=answer.fallbacks,
        )

    def _start(
        self, engine: SpeechSynthesizer, text: str, language: str, voice: str | None
    ) -> Iterator[bytes] | None:
        """Start one engine and get its first chunk within the time limit; return the stream.

        The engine is started on the pool too, so its first chunk and whatever
        it does before are bound by the registry's time limit.

        Returns:
            The whole stream, or None if no voice was chosen and the engine
            has none for the language.

        Raises:
            SynthesisError: the engine failed, broke, or ran out of time
                (``synthesis_timeout``).

        """

        def first_chunk() -> tuple[bytes, Iterator[bytes]]:
            chunks = engine.synthesize(text, language, voice)
            return next(chunks, b""), chunks

        started = self._ask(
            engine,
            lambda: voice is not None or engine.supports(language),
            first_chunk,
            awaited="audio",
        )
        if started is None:
            return None
        first, chunks = started
        return itertools.chain((first,), chunks) if first else iter(())
