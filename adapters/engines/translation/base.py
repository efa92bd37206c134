"""The interface every translation engine implements, and its errors.

Engines are blocking: the translation fan-out calls them from worker threads,
never from the asyncio loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from adapters.engines.registry import EngineError


class TranslationError(EngineError):
    """An engine could not translate; ``code`` is stable and goes into events."""

    code = "translation_failed"


class UnsupportedPairError(TranslationError):
    """The engine has no way (direct or pivot) from the source to the target."""

    code = "unsupported_language_pair"


class TranslationTimeoutError(TranslationError):
    """The engine did not answer within the registry's time limit."""

    code = "translation_timeout"


class Translator(ABC):
    """A translation engine.

    Attributes:
        name: stable engine name, recorded in every TranslationProduced event.
    """

    name: str

    @abstractmethod
    def supports(self, source: str, target: str) -> bool:
        """Whether this engine can translate from ``source`` to ``target``."""

    @abstractmethod
    def translate(self, text: str, source: str, target: str) -> str:
        """Translate ``text``; blocking.

        Raises:
            UnsupportedPairError: the pair is not supported.
            TranslationError: the engine failed.
        """

    def warm(self, source: str, target: str) -> None:  # noqa: B027 - nothing to warm by default
        """Get ready to translate ``source`` to ``target`` fast; blocking, off the hot path.

        Engines that start processes or load models per pair do it here, so
        the first translation costs what the next ones do. Hosted engines
        have nothing to prepare. Errors may be raised; the caller logs them.
        """

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Release processes or connections the engine holds."""


@dataclass(frozen=True)
class Translation:
    """What the registry returns: the text and how it was obtained.

    When every engine failed, ``text`` is the original text and ``error_code``
    says why, so a listener is never left in silence.
    """

    text: str
    engine: str
    latency_ms: int
    fallbacks: tuple[str, ...] = ()
    error_code: str | None = None
