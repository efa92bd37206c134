"""The interface every speech synthesizer implements, its errors and its results.

Engines are blocking: callers run them on worker threads, never on the asyncio
loop. Audio comes out as a stream of chunks so the first words can be played
while the rest is still being synthesized.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from adapters.engines.registry import EngineError


class SynthesisError(EngineError):
    """An engine could not synthesize; ``code`` is stable and goes into events."""

    code = "synthesis_failed"


class UnsupportedLanguageError(SynthesisError):
    """The engine has no voice for the language."""

    code = "unsupported_language"


class UnknownVoiceError(SynthesisError):
    """The requested voice is not one the engine has."""

    code = "unknown_voice"


class SynthesisTimeoutError(SynthesisError):
    """The engine did not produce audio within its time limit."""

    code = "synthesis_timeout"


@dataclass(frozen=True)
class Voice:
    """A voice a listener may choose: ``id`` is what ``synthesize`` takes."""

    id: str
    name: str
    language: str
    gender: str
    engine: str


class SpeechSynthesizer(ABC):
    """A text-to-speech engine producing 16-bit mono PCM.

    Attributes:
        name: stable engine name, recorded in every SpeechSynthesized event.
        sample_rate: rate of the PCM it produces, in Hz.

    """

    name: str
    sample_rate: int

    @abstractmethod
    def supports(self, language: str) -> bool:
        """Whether the engine has a voice for ``language`` (ISO 639-1)."""

    @abstractmethod
    def voices(self, language: str | None = None) -> tuple[Voice, ...]:
        """List the voices, all or those for one ISO 639-1 language."""

    @abstractmethod
    def default_voice(self, language: str) -> str:
        """Return the id of the voice used for ``language`` when none is chosen.

        Raises:
            UnsupportedLanguageError: no voice speaks it.

        """

    @abstractmethod
    def synthesize(self, text: str, language: str, voice: str | None = None) -> Iterator[bytes]:
        """Speak ``text``: little-endian 16-bit mono PCM chunks at ``sample_rate``.

        Blocking. Bad arguments may raise at once; engine failures surface
        when the iterator is advanced.

        Raises:
            UnsupportedLanguageError: no voice for ``language`` (and none given).
            UnknownVoiceError: ``voice`` is not one of the engine's.
            SynthesisTimeoutError: the engine ran past its time limit.
            SynthesisError: the engine failed.

        """

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Release processes or connections the engine holds."""


@dataclass(frozen=True)
class Synthesis:
    """What the registry returns: an audio stream and how it was obtained.

    When every engine failed, ``chunks`` is empty and ``error_code`` says why.
    Advancing ``chunks`` past the first may still raise
    :class:`SynthesisError` if the chosen engine breaks mid-stream.
    """

    chunks: Iterator[bytes]
    engine: str
    voice: str | None
    sample_rate: int
    first_chunk_ms: int
    fallbacks: tuple[str, ...] = ()
    error_code: str | None = None
