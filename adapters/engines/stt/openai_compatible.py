"""Transcription by an OpenAI-compatible ``/v1/audio/transcriptions`` endpoint.

One adapter covers OpenAI's Whisper API, xAI (``base_url``
``https://api.x.ai/v1``) and self-hosted servers speaking the same API
(faster-whisper-server, LocalAI, vLLM, ...); the official ``openai`` SDK is
the client. Each utterance is uploaded as a 16 kHz 16-bit mono WAV file,
the smallest lossless format the endpoint documents and one every server
decodes without guessing, with the speaker's language as a hint (OpenAI
documents that the hint improves accuracy and latency).

Configuration (:meth:`OpenAICompatibleRecognizer.from_env`) shares the
vendor's variables with the translation engine of the same name, since one
account and endpoint serve both: ``<prefix>_API_KEY`` and
``<prefix>_BASE_URL``. The model and time limit are per kind of engine:
``<prefix>_STT_MODEL`` (``whisper-1`` by default for ``VOICEMODE_OPENAI``,
required for other prefixes) and ``<prefix>_STT_TIMEOUT_S`` (default 4, below
the recognizer registry's 5 s). ``whisper-1`` is the default as the model
every OpenAI-compatible server imitates, taking the language hint and plain
``json``; OpenAI has announced its shutdown (for 2027-02-26, says the SDK),
so deployments set ``VOICEMODE_OPENAI_STT_MODEL`` to its successor.

Errors and secrets are handled as :mod:`adapters.engines.hosted` describes.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Mapping
from typing import Final

from adapters.engines.audio import SAMPLE_RATE, Pcm
from adapters.engines.hosted import (
    OPENAI_BASE_URL,
    OPENAI_SPEECH_LANGUAGES,
    OpenAIAccount,
    OpenAIEngine,
    env_required,
    env_seconds,
    pcm16,
)
from adapters.engines.stt.base import (
    RecognitionError,
    RecognitionTimeoutError,
    SpeechRecognizer,
    UnsupportedLanguageError,
)

#: Default transcription model per known prefix of
#: :meth:`OpenAICompatibleRecognizer.from_env`; other prefixes must set one.
STT_MODEL_DEFAULTS: Final[Mapping[str, str]] = {"VOICEMODE_OPENAI": "whisper-1"}

_TIMEOUT_S: Final = 4.0
_FILENAME: Final = "utterance.wav"


class OpenAICompatibleRecognizer(OpenAIEngine[RecognitionError], SpeechRecognizer):
    """A speech recognizer behind an OpenAI-compatible transcription API.

    Args:
        api_key: the bearer key; never logged or shown.
        model: the transcription model (``whisper-1``, ``gpt-transcribe``, ...).
        base_url: the API root, ending in ``/v1``.
        name: the engine name recorded in events.
        timeout_s: limit for each network phase of a call.

    Raises:
        ValueError: ``api_key`` or ``model`` is empty.

    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = OPENAI_BASE_URL,
        name: str = "openai",
        timeout_s: float = _TIMEOUT_S,
    ) -> None:
        super().__init__(
            api_key=api_key,
            model=model,
            base_url=base_url,
            name=name,
            timeout_s=timeout_s,
            failure=RecognitionError,
            timeout=RecognitionTimeoutError,
        )

    @classmethod
    def from_env(
        cls, prefix: str = "VOICEMODE_OPENAI", name: str | None = None
    ) -> OpenAICompatibleRecognizer:
        """Configure an engine from ``<prefix>_*`` environment variables (see the module).

        Args:
            prefix: the variables' prefix, e.g. ``VOICEMODE_GROK``.
            name: the engine name; by default the prefix without
                ``VOICEMODE_``, lower-cased.

        Raises:
            ValueError: a required variable is missing or a value is invalid
                (the message names the variable, never its value).

        """
        account = OpenAIAccount.from_env(prefix, name)
        return cls(
            api_key=account.api_key,
            model=env_required(f"{prefix}_STT_MODEL", STT_MODEL_DEFAULTS.get(prefix)),
            base_url=account.base_url,
            name=account.name,
            timeout_s=env_seconds(f"{prefix}_STT_TIMEOUT_S", _TIMEOUT_S),
        )

    def supports(self, language: str) -> bool:
        """The languages OpenAI documents for transcription (ISO 639-1)."""
        return language in OPENAI_SPEECH_LANGUAGES

    def transcribe(self, audio: Pcm, language: str) -> str:
        """Upload the utterance as WAV and return the transcript; blocking.

        Empty audio is answered without a request.

        Raises:
            UnsupportedLanguageError: OpenAI does not document ``language``.
            RecognitionTimeoutError: no answer within ``timeout_s``.
            RecognitionError: with code ``engine_auth_failed`` (401, 403),
                ``engine_rate_limited`` (429), ``engine_unavailable`` (5xx, or
                the server cannot be reached), or ``recognition_failed``
                (other statuses, or an answer without a transcript).

        """
        if not self.supports(language):
            raise UnsupportedLanguageError(f"{self.name} does not transcribe {language!r}")
        if not audio.size:
            return ""
        with self._endpoint.calling():
            result = self._client.audio.transcriptions.create(
                file=(_FILENAME, _wav(audio), "audio/wav"),
                model=self.model,
                language=language,
                response_format="json",
            )
        text = getattr(result, "text", None)
        if not isinstance(text, str):
            raise self._endpoint.failed("the answer has no transcript")
        return text.strip()


def _wav(audio: Pcm) -> bytes:
    """Wrap the utterance in a 16 kHz 16-bit mono WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm16(audio))
    return buffer.getvalue()
