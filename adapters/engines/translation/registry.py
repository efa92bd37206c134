"""The translation registry: per-user engine preference, time limits and fallback.

A listener must never be left in silence, so ``translate`` never raises: it
walks the engines (the user's preferred ones first, then the rest in
registration order), gives each a time limit, and records every engine that
failed on the way. When nothing works it returns the original text with the
reason, and the caller still delivers something.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from adapters.engines.registry import NO_ENGINE, EngineRegistry, elapsed_ms
from adapters.engines.translation.base import (
    Translation,
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)

logger = logging.getLogger(__name__)


class TranslationRegistry(EngineRegistry[Translator]):
    """Engines in registration order, tried with per-user preference and fallback.

    Each engine call runs in the registry's thread pool and is abandoned after
    ``timeout_s``; an abandoned call keeps its pool thread until the engine
    returns, so engines should honour their own, shorter limits (Apertium's
    default is 5 s).

    Arguments as :class:`~adapters.engines.registry.EngineRegistry`'s.
    """

    failure = TranslationError
    timeout = TranslationTimeoutError
    kind = "translation engine"

    def __init__(
        self,
        engines: Sequence[Translator],
        timeout_s: float = 10.0,
        max_workers: int = 16,
    ) -> None:
        super().__init__(engines, timeout_s, max_workers, "translate")

    def supports(self, source: str, target: str) -> bool:
        """Whether any engine translates ``source`` into ``target``, to offer the language."""
        return any(engine.supports(source, target) for engine in self._engines.values())

    def translate(
        self, text: str, source: str, target: str, preference: Sequence[str] = ()
    ) -> Translation:
        """Translate with the first engine that supports the pair and succeeds.

        Never raises. ``latency_ms`` is the whole call, failed attempts
        included; ``fallbacks`` holds ``"engine:error_code"`` for each engine
        that failed or timed out first. Engines that do not support the pair
        are skipped silently. Unknown names in ``preference`` are ignored.

        Args:
            text: what to translate.
            source: ISO 639-1 code of ``text``.
            target: ISO 639-1 code wanted.
            preference: the user's preferred engine names, best first.

        Returns:
            The translation; if no engine could do it, the original text with
            ``engine="none"`` and ``error_code`` either
            ``unsupported_language_pair`` (no engine supports the pair) or the
            last failure's code.

        """
        started = time.perf_counter()
        if source == target:
            return Translation(text=text, engine=NO_ENGINE, latency_ms=0)
        answer = self._first(
            preference,
            lambda engine: self._attempt(engine, text, source, target),
            UnsupportedPairError.code,
        )
        return Translation(
            text=text if answer.result is None else answer.result,
            engine=answer.engine_name,
            latency_ms=elapsed_ms(started),
            fallbacks=answer.fallbacks,
            error_code=answer.error_code,
        )

    def warm(self, source: str, target: str, preference: Sequence[str] = ()) -> None:
        """Prepare the engine that would translate the pair first (see ``Translator.warm``).

        Blocking (an Apertium pipeline takes up to seconds to start): call it
        from a thread of its own. Never raises: an engine that fails to warm
        is logged and the next one that supports the pair is warmed instead,
        as ``translate`` would fall back to it.
        """
        if source == target:
            return
        for engine in self._in_order(preference):
            try:
                if not engine.supports(source, target):
                    continue
                engine.warm(source, target)
            except Exception as exc:
                logger.warning("warming %s for %s->%s failed: %s", engine.name, source, target, exc)
                continue
            return

    def _attempt(self, engine: Translator, text: str, source: str, target: str) -> str | None:
        """Try one engine: return its text, or None if it does not support the pair.

        Raises:
            TranslationError: the engine failed, broke, or ran out of time
                (``translation_timeout``).

        """
        return self._ask(
            engine,
            lambda: engine.supports(source, target),
            lambda: engine.translate(text, source, target),
        )
