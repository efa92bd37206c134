"""Google Cloud Translation (Basic, v2) over its documented REST API.

One ``POST <base>/language/translate/v2`` per text, JSON body
``{"q", "source", "target", "format": "text"}``, answer
``{"data": {"translations": [{"translatedText"}]}}``. ``format`` is always
``text``: speech transcripts are plain text, and in the default ``html`` format
Google would treat ``<`` as markup and return HTML entities to undo.

The key travels in the ``X-Goog-Api-Key`` header, which Google documents as
the alternative to the ``key`` query parameter: a key in the URL would be
written to the HTTP client's request log and to any proxy's access log.

The client is ``httpx2``, the HTTP library the ``openai`` SDK is built on; one
``Client`` keeps connections to Google alive between calls, which saves a TLS
handshake per sentence. Calls are blocking, as engines run on worker threads.
Errors and secrets are handled as :mod:`adapters.engines.hosted` describes.
"""

from __future__ import annotations

from typing import Any, Final

import httpx2

from adapters.engines.hosted import Endpoint, env_required, env_seconds, google_error
from adapters.engines.translation.base import (
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)
from adapters.languages import ISO_639_1

#: Google's endpoint host; tests and private endpoints configure another.
GOOGLE_TRANSLATE_URL: Final = "https://translation.googleapis.com"

_PATH: Final = "/language/translate/v2"


class GoogleTranslator(Translator):
    """A translation engine backed by Google Cloud Translation v2, with an API key.

    Thread-safe: one ``httpx2.Client`` (one connection pool) serves every call.

    Args:
        api_key: the Google Cloud API key; never logged or shown.
        base_url: scheme and host of the API.
        timeout_s: limit for each network phase of a call (connect, send,
            wait for the answer); keep it below the registry's limit.

    Raises:
        ValueError: ``api_key`` is empty.

    """

    name = "google"

    def __init__(
        self, *, api_key: str, base_url: str = GOOGLE_TRANSLATE_URL, timeout_s: float = 5.0
    ) -> None:
        if not api_key:
            raise ValueError("google: the API key is empty")
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._endpoint: Endpoint[TranslationError] = Endpoint(
            self.name, base_url, timeout_s, TranslationError, TranslationTimeoutError, api_key
        )
        self._client = httpx2.Client(
            base_url=base_url, headers={"X-Goog-Api-Key": api_key}, timeout=timeout_s
        )

    @classmethod
    def from_env(cls, prefix: str = "VOICEMODE_GOOGLE") -> GoogleTranslator:
        """Configure the engine from environment variables, the only source of keys.

        ``<prefix>_API_KEY`` is required; ``<prefix>_TRANSLATE_URL`` (default
        Google's) and ``<prefix>_TIMEOUT_S`` (default 5) are optional.

        Raises:
            ValueError: the key is missing or the timeout is not a number (the
                message names the variable, never its value).

        """
        return cls(
            api_key=env_required(f"{prefix}_API_KEY"),
            base_url=env_required(f"{prefix}_TRANSLATE_URL", GOOGLE_TRANSLATE_URL),
            timeout_s=env_seconds(f"{prefix}_TIMEOUT_S", 5.0),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, timeout_s={self.timeout_s!r})"

    def supports(self, source: str, target: str) -> bool:
        """Any two different ISO 639-1 languages; Google rejects the few it lacks."""
        return source != target and source in ISO_639_1 and target in ISO_639_1

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate ``text`` with one request; blocking.

        Whitespace-only text is returned unchanged without a request.

        Raises:
            UnsupportedPairError: a language is not ISO 639-1, or both are the same.
            TranslationTimeoutError: no answer within ``timeout_s``.
            TranslationError: with code ``engine_auth_failed`` (401, 403, or a
                400 whose reason is an API-key problem), ``engine_rate_limited``
                (429), ``engine_unavailable`` (5xx, or Google cannot be
                reached), or ``translation_failed`` (other errors, or an answer
                without a translation).

        """
        if not self.supports(source, target):
            raise UnsupportedPairError(f"google cannot translate {source!r} to {target!r}")
        if not text.strip():
            return text
        body = {"q": text, "source": source, "target": target, "format": "text"}
        with self._endpoint.calling():
            response = self._client.post(_PATH, json=body)
        if response.status_code != httpx2.codes.OK:
            raise google_error(self._endpoint, response)
        try:
            payload: Any = response.json()
            translated = payload["data"]["translations"][0]["translatedText"]
        except (ValueError, TypeError, KeyError, IndexError):
            translated = None
        if not isinstance(translated, str):
            raise self._endpoint.failed("the answer has no translation")
        return translated

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
