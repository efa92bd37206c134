"""Google Cloud Speech-to-Text v1 over its documented REST API, with an API key.

One ``POST <base>/v1/speech:recognize`` per utterance (synchronous
recognition takes up to a minute of audio; utterances are at most 30 s):
``config`` says LINEAR16 at 16 kHz, the language as the BCP-47 tag Google
lists for it (``en`` -> ``en-US``) and optionally a model; ``audio.content``
is the raw 16-bit PCM in base64. Automatic punctuation is asked for, as
Whisper punctuates by itself: captions and translations read better with it.
The answer's ``results`` cover consecutive stretches of the audio; the
transcript joins each one's best alternative. An answer without results
means no speech.

The key travels in the ``X-Goog-Api-Key`` header, not the ``key`` query
parameter, so it stays out of URL logs; the client is ``httpx2`` with one
connection pool, as in the Google translation engine.

Configuration (:meth:`GoogleRecognizer.from_env`): ``VOICEMODE_GOOGLE_API_KEY``
(shared with Google translation: one key may be enabled for both APIs),
``VOICEMODE_GOOGLE_SPEECH_URL`` (default Google's),
``VOICEMODE_GOOGLE_STT_MODEL`` (default: Google's default model) and
``VOICEMODE_GOOGLE_STT_TIMEOUT_S`` (default 4, below the recognizer
registry's 5 s). Errors and secrets are handled as :mod:`adapters.engines.hosted`
describes.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any, Final

import httpx2

from adapters.engines.audio import SAMPLE_RATE, Pcm
from adapters.engines.hosted import Endpoint, env_required, env_seconds, google_error, pcm16
from adapters.engines.stt.base import (
    RecognitionError,
    RecognitionTimeoutError,
    SpeechRecognizer,
    UnsupportedLanguageError,
)

#: Google's endpoint host; tests and private endpoints configure another.
GOOGLE_SPEECH_URL: Final = "https://speech.googleapis.com"

#: The ``languageCode`` sent for each ISO 639-1 language: a tag from Google's
#: v1 language list, with the region Google lists first or the one with most
#: speakers. Google wants a region for almost every language.
GOOGLE_LANGUAGE_CODES: Final[Mapping[str, str]] = {
    "af": "af-ZA",
    "am": "am-ET",
    "ar": "ar-EG",
    "az": "az-AZ",
    "bg": "bg-BG",
    "bn": "bn-BD",
    "bs": "bs-BA",
    "ca": "ca-ES",
    "cs": "cs-CZ",
    "da": "da-DK",
    "de": "de-DE",
    "el": "el-GR",
    "en": "en-US",
    "es": "es-ES",
    "et": "et-EE",
    "eu": "eu-ES",
    "fa": "fa-IR",
    "fi": "fi-FI",
    "fr": "fr-FR",
    "gl": "gl-ES",
    "gu": "gu-IN",
    "he": "iw-IL",
    "hi": "hi-IN",
    "hr": "hr-HR",
    "hu": "hu-HU",
    "hy": "hy-AM",
    "id": "id-ID",
    "is": "is-IS",
    "it": "it-IT",
    "ja": "ja-JP",
    "jv": "jv-ID",
    "ka": "ka-GE",
    "kk": "kk-KZ",
    "km": "km-KH",
    "kn": "kn-IN",
    "ko": "ko-KR",
    "lo": "lo-LA",
    "lt": "lt-LT",
    "lv": "lv-LV",
    "mk": "mk-MK",
    "ml": "ml-IN",
    "mn": "mn-MN",
    "mr": "mr-IN",
    "ms": "ms-MY",
    "my": "my-MM",
    "ne": "ne-NP",
    "nl": "nl-NL",
    "no": "no-NO",
    "pa": "pa-Guru-IN",
    "pl": "pl-PL",
    "pt": "pt-BR",
    "ro": "ro-RO",
    "ru": "ru-RU",
    "rw": "rw-RW",
    "si": "si-LK",
    "sk": "sk-SK",
    "sl": "sl-SI",
    "sq": "sq-AL",
    "sr": "sr-RS",
    "ss": "ss-latn-za",
    "st": "st-ZA",
    "su": "su-ID",
    "sv": "sv-SE",
    "sw": "sw-TZ",
    "ta": "ta-IN",
    "te": "te-IN",
    "th": "th-TH",
    "tl": "fil-PH",
    "tn": "tn-latn-za",
    "tr": "tr-TR",
    "ts": "ts-ZA",
    "uk": "uk-UA",
    "ur": "ur-PK",
    "uz": "uz-UZ",
    "ve": "ve-ZA",
    "vi": "vi-VN",
    "xh": "xh-ZA",
    "zh": "cmn-Hans-CN",
    "zu": "zu-ZA",
}

_PATH: Final = "/v1/speech:recognize"
_TIMEOUT_S: Final = 4.0


class GoogleRecognizer(SpeechRecognizer):
    """A speech recognizer backed by Google Cloud Speech-to-Text v1.

    Thread-safe: one ``httpx2.Client`` (one connection pool) serves every call.

    Args:
        api_key: the Google Cloud API key; never logged or shown.
        base_url: scheme and host of the API.
        model: a Speech-to-Text model (``latest_short``, ...); None leaves
            the choice to Google.
        timeout_s: limit for each network phase of a call.

    Raises:
        ValueError: ``api_key`` is empty.

    """

    name = "google"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = GOOGLE_SPEECH_URL,
        model: str | None = None,
        timeout_s: float = _TIMEOUT_S,
    ) -> None:
        if not api_key:
            raise ValueError("google: the API key is empty")
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self._endpoint = Endpoint(
            self.name,
            base_url,
            timeout_s,
            RecognitionError,
            RecognitionTimeoutError,
            secret=api_key,
        )
        self._client = httpx2.Client(
            base_url=base_url, headers={"X-Goog-Api-Key": api_key}, timeout=timeout_s
        )

    @classmethod
    def from_env(cls, prefix: str = "VOICEMODE_GOOGLE") -> GoogleRecognizer:
        """Configure the engine from ``<prefix>_*`` environment variables (see the module).

        Raises:
            ValueError: the key is missing or the timeout is not a number (the
                message names the variable, never its value).

        """
        return cls(
            api_key=env_required(f"{prefix}_API_KEY"),
            base_url=os.environ.get(f"{prefix}_SPEECH_URL") or GOOGLE_SPEECH_URL,
            model=os.environ.get(f"{prefix}_STT_MODEL") or None,
            timeout_s=env_seconds(f"{prefix}_STT_TIMEOUT_S", _TIMEOUT_S),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r}, "
            f"timeout_s={self.timeout_s!r})"
        )

    def supports(self, language: str) -> bool:
        """The languages with a tag in :data:`GOOGLE_LANGUAGE_CODES`."""
        return language in GOOGLE_LANGUAGE_CODES

    def transcribe(self, audio: Pcm, language: str) -> str:
        """Send the utterance as LINEAR16 and return the transcript; blocking.

        Empty audio is answered without a request.

        Raises:
            UnsupportedLanguageError: no Google tag for ``language``.
            RecognitionTimeoutError: no answer within ``timeout_s``.
            RecognitionError: with code ``engine_auth_failed`` (401, 403, or
                a refused key), ``engine_rate_limited`` (429),
                ``engine_unavailable`` (5xx, or Google cannot be reached), or
                ``recognition_failed`` (other errors, or an unreadable answer).

        """
        if not self.supports(language):
            raise UnsupportedLanguageError(f"google does not transcribe {language!r}")
        if not audio.size:
            return ""
        config: dict[str, object] = {
            "encoding": "LINEAR16",
            "sampleRateHertz": SAMPLE_RATE,
            "languageCode": GOOGLE_LANGUAGE_CODES[language],
            "enableAutomaticPunctuation": True,
        }
        if self.model:
            config["model"] = self.model
        content = base64.b64encode(pcm16(audio)).decode("ascii")
        with self._endpoint.calling():
            response = self._client.post(
                _PATH, json={"config": config, "audio": {"content": content}}
            )
        if response.status_code != httpx2.codes.OK:
            raise google_error(self._endpoint, response)
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        transcript = _transcript(payload)
        if transcript is None:
            raise self._endpoint.failed("the answer is not a recognition response")
        return transcript

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _transcript(payload: Any) -> str | None:
    """Join the best alternative of each result; None if the answer has another shape.

    Google's JSON leaves out empty fields (proto3): a result without
    alternatives or an alternative without ``transcript`` heard nothing.
    """
    if not isinstance(payload, dict):
        return None
    results = payload.get("results", [])
    if not isinstance(results, list):
        return None
    parts: list[str] = []
    for result in results:
        alternatives = result.get("alternatives", []) if isinstance(result, dict) else None
        if not isinstance(alternatives, list):
            return None
        best = alternatives[0] if alternatives else {}
        text = best.get("transcript", "") if isinstance(best, dict) else None
        if not isinstance(text, str):
            return None
        parts.append(text.strip())
    return " ".join(part for part in parts if part)
