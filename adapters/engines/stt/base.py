"""The interface every speech recognizer implements, its errors and its results.

Engines are blocking and thread-safe: many utterance streams share one loaded
model and call it from worker threads, never from the asyncio loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from adapters.engines.audio import Pcm
from adapters.engines.registry import EngineError


class RecognitionError(EngineError):
    """An engine could not transcribe; ``code`` is stable and goes into events."""

    code = "recognition_failed"


class UnsupportedLanguageError(RecognitionError):
    """The engine's model does not know the speaker's language."""

    code = "unsupported_language"


class RecognitionTimeoutError(RecognitionError):
    """The engine did not answer within the registry's time limit."""

    code = "recognition_timeout"


class SpeechRecognizer(ABC):
    """A speech-to-text engine that transcribes a whole utterance per call.

    Streaming (partial captions while the person speaks) is built on top by
    :class:`adapters.engines.stt.stream.UtteranceStream`, which calls ``transcribe``
    again as the utterance grows: one policy for every engine, as
    livekit-agents' ``StreamAdapter`` gives streaming to batch engines.

    Attributes:
        name: stable engine name, recorded in every TranscriptRecognized event.

    """

    name: str

    @abstractmethod
    def supports(self, language: str) -> bool:
        """Whether this engine can transcribe speech in ``language`` (ISO 639-1)."""

    @abstractmethod
    def transcribe(self, audio: Pcm, language: str) -> str:
        """Transcribe one utterance of 16 kHz mono audio (at most 30 s); blocking.

        Returns:
            The text, stripped; empty when the audio holds no speech.

        Raises:
            UnsupportedLanguageError: the language is not supported.
            RecognitionError: the engine failed.

        """

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Release the model or connections the engine holds."""


@dataclass(frozen=True)
class Transcript:
    """What recognition returns: the text, how it was obtained and how long it took.

    When every engine failed, ``text`` is empty and ``error_code`` says why.

    Attributes:
        text: the transcript (empty for no speech or failure).
        language: ISO 639-1 code it was recognized in.
        final: False for a partial caption, True once the utterance ended.
        engine: the engine that produced it (``"none"`` if none did).
        audio_ms: length of the utterance audio it covers.
        decode_ms: time spent in the call that returned it; for a final
            transcript, the wait between end of speech and the result.
        fallbacks: ``"engine:error_code"`` for each engine that failed first.
        error_code: why there is no text, when every engine failed.

    """

    text: str
    language: str
    final: bool
    engine: str
    audio_ms: int
    decode_ms: int
    fallbacks: tuple[str, ...] = ()
    error_code: str | None = None
