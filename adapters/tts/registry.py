"""The synthesizer registry: per-user engine preference, time limits and fallback.

An engine is chosen by its first chunk: the registry asks each engine in turn
(preferred ones first) for the first chunk of audio within ``timeout_s``, and
the first that delivers streams the rest. Once audio has started there is no
switching engines mid-sentence, so later failures end the stream (see
:class:`~adapters.tts.base.Synthesis`). ``synthesize`` never raises.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import TimeoutError as FutureTimeoutError

from adapters.registry import NO_ENGINE, EngineRegistry
from adapters.tts.base import (
    SpeechSynthesizer,
    Synthesis,
    SynthesisError,
    SynthesisTimeoutError,
    UnsupportedLanguageError,
    Voice,
)

logger = logging.getLogger(__name__)

#: Engine name recorded when no engine produced audio.


class SynthesizerRegistry(EngineRegistry[SpeechSynthesizer]):
    """Engines in registration order, tried with per-user preference and fallback.

    A chosen voice goes to every engine tried: an engine that does not have
    it fails with ``unknown_voice`` and the next is tried, so a voice picks
    its engine.

    Args:
        engines: the engines, in fallback order; names must be unique.
        timeout_s: time limit for an engine's first chunk.
        max_workers: size of the thread pool first chunks are awaited in.

    Raises:
        ValueError: two engines share a name.

    """

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
        fallbacks: list[str] = []
        error_code = UnsupportedLanguageError.code
        for engine in self._in_order(preference):
            if voice is None and not engine.supports(language):
                continue
            try:
                chunks = self._start(engine, text, language, voice)
            except SynthesisError as exc:
                logger.warning("speech synthesis %s failed: %s: %s", engine.name, exc.code, exc)
                fallbacks.append(f"{engine.name}:{exc.code}")
                error_code = exc.code
                continue
            return Synthesis(
                chunks=chunks,
                engine=engine.name,
                voice=voice or engine.default_voice(language),
                sample_rate=engine.sample_rate,
                first_chunk_ms=_elapsed_ms(started),
                fallbacks=tuple(fallbacks),
            )
        return Synthesis(
            chunks=iter(()),
            engine=NO_ENGINE,
            voice=voice,
            sample_rate=0,
            first_chunk_ms=_elapsed_ms(started),
            fallbacks=tuple(fallbacks),
            error_code=error_code,
        )

    def _start(
        self, engine: SpeechSynthesizer, text: str, language: str, voice: str | None
    ) -> Iterator[bytes]:
        """Get the engine's first chunk within the time limit; return the whole stream.

        Raises:
            SynthesisError: the engine failed, broke, or ran out of time;
                unexpected exceptions are logged and reported as
                ``synthesis_failed``.

        """
        try:
            chunks = engine.synthesize(text, language, voice)
            future = self._pool.submit(next, chunks, b"")
        except SynthesisError:
            raise
        except Exception as exc:
            logger.exception("speech synthesis %s could not be asked", engine.name)
            raise SynthesisError(str(exc)) from exc
        try:
            first = future.result(timeout=self._timeout_s)
        except FutureTimeoutError:
            future.cancel()
            raise SynthesisTimeoutError(
                f"{engine.name} gave no audio within {self._timeout_s} s"
            ) from None
        except SynthesisError:
            raise
        except Exception as exc:
            logger.exception("speech synthesis %s broke", engine.name)
            raise SynthesisError(str(exc)) from exc
        return itertools.chain((first,), chunks) if first else iter(())


def _elapsed_ms(started: float) -> int:
    """Return the milliseconds since ``started`` (a ``time.perf_counter()`` value)."""
    return round((time.perf_counter() - started) * 1000)
