"""Speech from an OpenAI-compatible ``/v1/audio/speech`` endpoint: OpenAI TTS, xAI, self-hosted.

The official ``openai`` SDK asks for ``response_format="pcm"``: raw 16-bit
little-endian mono samples at 24 kHz, as OpenAI documents, so nothing has to
be decoded between the vendor and the listener. The body is read through
``with_streaming_response`` in 100 ms chunks as it arrives: the vendor sends
audio while it is still synthesizing, so the first words can play before
the whole sentence is done.

OpenAI's voices (``alloy``, ``ash``, ...) speak every language the model
does, the 57 OpenAI documents for its speech endpoints; the text's language
sets the pronunciation. :meth:`OpenAICompatibleSynthesizer.voices` therefore
lists each voice for any of those languages, and once with the language
``mul`` (multiple languages) when asked for all. Other servers name their
voices differently.

Configuration (:meth:`OpenAICompatibleSynthesizer.from_env`) shares the
vendor's ``<prefix>_API_KEY`` and ``<prefix>_BASE_URL`` with the translation
engine of the same name; per kind of engine are ``<prefix>_TTS_MODEL``
(``gpt-4o-mini-tts`` for ``VOICEMODE_OPENAI``), ``<prefix>_TTS_VOICES``
(comma-separated; OpenAI's for ``VOICEMODE_OPENAI``), ``<prefix>_TTS_VOICE``
(the default voice; by default the first listed) and
``<prefix>_TTS_TIMEOUT_S`` (default 4, below the synthesizer registry's 5 s).
Models and voice lists are required for other prefixes. OpenAI has announced
the shutdown of its speech-endpoint models (for 2027-01-06, says the SDK):
``VOICEMODE_OPENAI_TTS_MODEL`` must then name a successor.

Errors and secrets are handled as :mod:`adapters.engines.hosted` describes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from adapters.engines.hosted import (
    OPENAI_BASE_URL,
    OPENAI_SPEECH_LANGUAGES,
    OpenAIAccount,
    OpenAIEngine,
    env_required,
    env_seconds,
)
from adapters.engines.tts.base import (
    SpeechSynthesizer,
    SynthesisError,
    SynthesisTimeoutError,
    UnknownVoiceError,
    UnsupportedLanguageError,
    Voice,
)

#: OpenAI's built-in voices, ``alloy`` first (the default). ``ballad``,
#: ``verse``, ``marin`` and ``cedar`` need ``gpt-4o-mini-tts`` or newer.
OPENAI_VOICES: Final = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)

#: Defaults per known prefix of :meth:`OpenAICompatibleSynthesizer.from_env`:
#: (model, voices). Other prefixes must set both variables.
TTS_ENV_DEFAULTS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "VOICEMODE_OPENAI": ("gpt-4o-mini-tts", OPENAI_VOICES),
}

#: The language of a voice that speaks all of the engine's languages (BCP 47).
MULTILINGUAL: Final = "mul"

#: Rate of OpenAI's ``pcm`` output.
PCM_RATE: Final = 24000

_CHUNK_BYTES: Final = PCM_RATE * 2 // 10  # 100 ms, a whole number of samples
_MAX_INPUT_CHARS: Final = 4096  # OpenAI's documented limit for ``input``
_TIMEOUT_S: Final = 4.0
#: OpenAI does not state its voices' genders.
_UNSTATED_GENDER: Final = ""


class OpenAICompatibleSynthesizer(OpenAIEngine[SynthesisError], SpeechSynthesizer):
    """A speech synthesizer behind an OpenAI-compatible speech API.

    Args:
        api_key: the bearer key; never logged or shown.
        model: the speech model (``gpt-4o-mini-tts``, ``tts-1``, ...).
        voices: the voice names the endpoint has.
        voice: the default voice; by default the first of ``voices``.
        base_url: the API root, ending in ``/v1``.
        name: the engine name recorded in events.
        timeout_s: limit for each network phase of a call, including each
            wait for more audio.

    Raises:
        ValueError: ``api_key`` or ``model`` is empty, there are no voices,
            or ``voice`` is not one of them.

    """

    sample_rate = PCM_RATE

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        voices: Sequence[str] = OPENAI_VOICES,
        voice: str | None = None,
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
            failure=SynthesisError,
            timeout=SynthesisTimeoutError,
        )
        if not voices:
            raise ValueError(f"{name}: no voices")
        self._voices = tuple(voices)
        self._default_voice = voice or self._voices[0]
        if self._default_voice not in self._voices:
            raise ValueError(f"{name}: the default voice {voice!r} is not one of {self._voices}")

    @classmethod
    def from_env(
        cls, prefix: str = "VOICEMODE_OPENAI", name: str | None = None
    ) -> OpenAICompatibleSynthesizer:
        """Configure an engine from ``<prefix>_*`` environment variables (see the module).

        Args:
            prefix: the variables' prefix, e.g. ``VOICEMODE_GROK``.
            name: the engine name; by default the prefix without
                ``VOICEMODE_``, lower-cased.

        Raises:
            ValueError: a required variable is missing or a value is invalid
                (the message names the variable, never a key).

        """
        account = OpenAIAccount.from_env(prefix, name)
        default_model, default_voices = TTS_ENV_DEFAULTS.get(prefix, (None, ()))
        listed = os.environ.get(f"{prefix}_TTS_VOICES", "")
        voices = tuple(v.strip() for v in listed.split(",") if v.strip()) or default_voices
        if not voices:
            raise ValueError(f"{prefix}_TTS_VOICES is not set")
        return cls(
            api_key=account.api_key,
            model=env_required(f"{prefix}_TTS_MODEL", default_model),
            voices=voices,
            voice=os.environ.get(f"{prefix}_TTS_VOICE") or None,
            base_url=account.base_url,
            name=account.name,
            timeout_s=env_seconds(f"{prefix}_TTS_TIMEOUT_S", _TIMEOUT_S),
        )

    def supports(self, language: str) -> bool:
        """The languages OpenAI documents for its speech endpoint (ISO 639-1)."""
        return language in OPENAI_SPEECH_LANGUAGES

    def voices(self, language: str | None = None) -> tuple[Voice, ...]:
        """List every voice, for ``language`` if given (each speaks every supported language)."""
        if language is not None and not self.supports(language):
            return ()
        spoken = MULTILINGUAL if language is None else language
        return tuple(Voice(v, v, spoken, _UNSTATED_GENDER, self.name) for v in self._voices)

    def default_voice(self, language: str) -> str:
        """Return the configured default voice, which speaks every supported language.

        Raises:
            UnsupportedLanguageError: ``language`` is not supported.

        """
        if not self.supports(language):
            raise UnsupportedLanguageError(f"{self.name} does not speak {language!r}")
        return self._default_voice

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Iterator[bytes]:
        """Stream the PCM of ``text`` as the vendor sends it (see the base class).

        Checks the language, voice and text length at once; the request is
        made when the iterator is first advanced. Blank text gives no audio
        and no request.

        Raises:
            UnsupportedLanguageError: ``language`` is not supported.
            UnknownVoiceError: ``voice`` is not one of the engine's.
            SynthesisError: the text is over OpenAI's 4096 characters; when
                advancing, the codes of :mod:`adapters.engines.hosted`, or
                ``synthesis_failed`` for an answer that is not 16-bit audio.
            SynthesisTimeoutError: when advancing, no audio within ``timeout_s``.

        """
        default = self.default_voice(language)
        if voice is not None and voice not in self._voices:
            raise UnknownVoiceError(f"{self.name} has no voice {voice!r}")
        if len(text) > _MAX_INPUT_CHARS:
            raise SynthesisError(f"{self.name}: text of {len(text)} characters is over 4096")
        if not text.strip():
            return iter(())
        return self._stream(text, voice or default)

    def _stream(self, text: str, voice: str) -> Iterator[bytes]:
        """Request the speech and yield its body in whole-sample chunks as it arrives."""
        received = 0
        with (
            self._endpoint.calling(),
            self._client.audio.speech.with_streaming_response.create(
                model=self.model, input=text, voice=voice, response_format="pcm"
            ) as response,
        ):
            for chunk in response.iter_bytes(_CHUNK_BYTES):
                received += len(chunk)
                if received % 2:
                    raise self._endpoint.failed("the audio ends in the middle of a sample")
                yield chunk
        if not received:
            raise self._endpoint.failed("the answer has no audio")
