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
"""

from __future__ import annotations

import os
from typing import Any, Final

import httpx2

from adapters.languages import ISO_639_1
from adapters.translation.base import (
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)

#: Google's endpoint host; tests and private endpoints configure another.
GOOGLE_TRANSLATE_URL: Final = "https://translation.googleapis.com"

#: Error codes of hosted engines, recorded in events like the base codes.
AUTH_FAILED: Final = "engine_auth_failed"
RATE_LIMITED: Final = "engine_rate_limited"
UNAVAILABLE: Final = "engine_unavailable"

_PATH: Final = "/language/translate/v2"


def _failure(code: str, message: str) -> TranslationError:
    """Build a TranslationError carrying a hosted-engine ``code``."""
    error = TranslationError(message)
    error.code = code
    return error


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
        self._api_key = api_key
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
        api_key = os.environ.get(f"{prefix}_API_KEY")
        if not api_key:
            raise ValueError(f"{prefix}_API_KEY is not set")
        try:
            timeout_s = float(os.environ.get(f"{prefix}_TIMEOUT_S", "5"))
        except ValueError:
            raise ValueError(f"{prefix}_TIMEOUT_S is not a number of seconds") from None
        return cls(
            api_key=api_key,
            base_url=os.environ.get(f"{prefix}_TRANSLATE_URL") or GOOGLE_TRANSLATE_URL,
            timeout_s=timeout_s,
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
        try:
            response = self._client.post(_PATH, json=body)
        except httpx2.TimeoutException as exc:
            raise TranslationTimeoutError(f"google: no answer within {self.timeout_s} s") from exc
        except httpx2.TransportError as exc:
            raise _failure(UNAVAILABLE, f"google: cannot reach {self.base_url}: {exc!r}") from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if response.status_code != httpx2.codes.OK:
            raise self._status_failure(response, payload)
        try:
            translated = payload["data"]["translations"][0]["translatedText"]
        except (TypeError, KeyError, IndexError):
            translated = None
        if not isinstance(translated, str):
            raise _failure(TranslationError.code, "google: the answer has no translation")
        return translated

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _status_failure(self, response: httpx2.Response, payload: Any) -> TranslationError:
        """Map Google's error answer (``{"error": {code, message, status, details}}``)."""
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            error = {}
        status = response.status_code
        details = error.get("details")
        reasons = {
            detail.get("reason")
            for detail in (details if isinstance(details, list) else [])
            if isinstance(detail, dict)
        }
        if status in {401, 403} or any(
            isinstance(reason, str) and reason.startswith("API_KEY_") for reason in reasons
        ):
            return _failure(AUTH_FAILED, f"google: the API key was refused ({status})")
        message = str(error.get("message") or response.reason_phrase)
        detail = f"google: {status} {error.get('status', '')}: " + message.replace(
            self._api_key, "***"
        )
        if status == httpx2.codes.TOO_MANY_REQUESTS:
            retry_after = response.headers.get("retry-after")
            hint = f" (retry after {retry_after} s)" if retry_after else ""
            return _failure(RATE_LIMITED, detail + hint)
        if status >= httpx2.codes.INTERNAL_SERVER_ERROR:
            return _failure(UNAVAILABLE, detail)
        return _failure(TranslationError.code, detail)
