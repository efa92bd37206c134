"""What hosted engines share: error mapping, key masking, the OpenAI client, settings.

A hosted engine calls a vendor's API and fails in the same few ways whatever
it does: the key is refused, the quota is spent, the vendor is down or out of
reach, or the answer is late. :class:`Endpoint` turns each into the engine
kind's error (``TranslationError``, ``RecognitionError``, ``SynthesisError``,
``GenerationError``)
with the stable codes ``engine_auth_failed``, ``engine_rate_limited`` and
``engine_unavailable``, or into the kind's timeout error, so an event names a
dead vendor the same way whatever it was doing.

Secrets: keys come from the environment only (:func:`env_required`) and are
handed to the HTTP client only. Vendors echo part of a wrong key in their 401
text, so authentication errors do not quote the vendor; every other message
has the key masked, and exceptions quoting a whole vendor body are not
chained. No ``repr`` here shows a key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

import httpx2
import numpy as np
import openai

from adapters.engines.audio import Pcm
from adapters.engines.llm.base import GenerationError
from adapters.engines.stt.base import RecognitionError
from adapters.engines.translation.base import TranslationError
from adapters.engines.tts.base import SynthesisError

#: The base error class of the engine kind an :class:`Endpoint` serves.
E = TypeVar("E", GenerationError, RecognitionError, SynthesisError, TranslationError)

#: OpenAI's API, the default endpoint.
OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
#: xAI's OpenAI-compatible API, for Grok models.
XAI_BASE_URL: Final = "https://api.x.ai/v1"

#: Error codes of hosted engines, recorded in events like each kind's own codes.
AUTH_FAILED: Final = "engine_auth_failed"
RATE_LIMITED: Final = "engine_rate_limited"
UNAVAILABLE: Final = "engine_unavailable"

#: Defaults for the known prefixes of the engines' ``from_env``: (base URL,
#: translation model). Other prefixes must set both, so a key is never sent to
#: a vendor it does not belong to by default.
ENV_DEFAULTS: Final[Mapping[str, tuple[str, str | None]]] = {
    "VOICEMODE_OPENAI": (OPENAI_BASE_URL, "gpt-4o-mini"),
    "VOICEMODE_GROK": (XAI_BASE_URL, None),
}

#: What OpenAI documents for its transcription and speech endpoints: the
#: languages Whisper transcribes with under 50 % word error rate, ISO 639-1.
OPENAI_SPEECH_LANGUAGES: Final = frozenset(
    [
        "af",
        "ar",
        "az",
        "be",
        "bg",
        "bs",
        "ca",
        "cs",
        "cy",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "fa",
        "fi",
        "fr",
        "gl",
        "he",
        "hi",
        "hr",
        "hu",
        "hy",
        "id",
        "is",
        "it",
        "ja",
        "kk",
        "kn",
        "ko",
        "lt",
        "lv",
        "mi",
        "mk",
        "mr",
        "ms",
        "ne",
        "nl",
        "no",
        "pl",
        "pt",
        "ro",
        "ru",
        "sk",
        "sl",
        "sr",
        "sv",
        "sw",
        "ta",
        "th",
        "tl",
        "tr",
        "uk",
        "ur",
        "vi",
        "zh",
    ]
)


@dataclass(frozen=True)
class Endpoint(Generic[E]):
    """One hosted engine as its errors name it, and the error classes of its kind.

    Attributes:
        name: the engine name, which starts every message.
        url: where requests go, named when it cannot be reached.
        timeout_s: the client's time limit, named when it runs out.
        failure: the kind's error class; hosted codes are set per instance.
        timeout: the kind's timeout error class.
        secret: the API key, masked in every message; not in the ``repr``.

    """

    name: str
    url: str
    timeout_s: float
    failure: type[E]
    timeout: type[E]
    secret: str = field(repr=False)

    def error(self, code: str, message: str) -> E:
        """Build the kind's error ``"<name>: <message>"`` with ``code`` and the key masked."""
        error = self.failure(f"{self.name}: {message}".replace(self.secret, "***"))
        error.code = code
        return error

    def failed(self, message: str) -> E:
        """Build the kind's error with the kind's own code (a bad request or answer)."""
        return self.error(self.failure.code, message)

    def refused(
        self, status: int, message: str, headers: Mapping[str, str], *, key_refused: bool = False
    ) -> E:
        """Map an HTTP error answer to the kind's error.

        Args:
            status: the HTTP status.
            message: what the vendor said; quoted (key masked) unless the key
                was refused.
            headers: the answer's headers, for ``Retry-After``.
            key_refused: the vendor says the key is wrong whatever the status
                (Google answers a bad key with 400 ``API_KEY_INVALID``).

        Returns:
            ``engine_auth_failed`` for 401, 403 or a refused key,
            ``engine_rate_limited`` for 429, ``engine_unavailable`` for 5xx,
            else the kind's own code.

        """
        if key_refused or status in {401, 403}:
            return self.error(AUTH_FAILED, f"the API key was refused ({status})")
        detail = f"{status}: {message}"
        if status == httpx2.codes.TOO_MANY_REQUESTS:
            retry_after = headers.get("retry-after")
            hint = f" (retry after {retry_after} s)" if retry_after else ""
            return self.error(RATE_LIMITED, detail + hint)
        if status >= httpx2.codes.INTERNAL_SERVER_ERROR:
            return self.error(UNAVAILABLE, detail)
        return self.failed(detail)

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Turn the ``openai`` SDK's and ``httpx2``'s exceptions raised inside into the kind's.

        ``httpx2`` is covered too because the plain-HTTP adapters use it
        directly and the SDK lets its exceptions through while a streamed
        body is read.

        Raises:
            E: the kind's timeout error when no answer came in time; else its
                error with ``engine_unavailable`` (vendor unreachable, the
                connection broke, or the vendor sent an error inside a
                stream), the codes of :meth:`refused` for an HTTP error, or
                the kind's own code for an unreadable answer.

        """
        try:
            yield
        except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
            raise self.timeout(f"{self.name}: no answer within {self.timeout_s} s") from exc
        except (openai.APIConnectionError, httpx2.TransportError) as exc:
            cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
            raise self.error(UNAVAILABLE, f"connection to {self.url} failed: {cause!r}") from exc
        except openai.APIStatusError as exc:
            # Not chained: the SDK's exception quotes the vendor's whole body.
            raise self.refused(
                exc.status_code, _openai_message(exc), exc.response.headers
            ) from None
        except (openai.APIResponseValidationError, ValueError) as exc:  # e.g. a body not JSON
            raise self.failed(f"unreadable answer: {type(exc).__name__}") from None
        except openai.APIError as exc:  # an error event inside a stream that began well
            raise self.error(UNAVAILABLE, f"the stream broke: {_openai_message(exc)}") from None
        except openai.OpenAIError as exc:
            raise self.failed(f"unreadable answer: {type(exc).__name__}") from None


def _openai_message(exc: openai.APIError) -> str:
    """The vendor's ``error.message``, or the exception's type name when the body has none."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str):
            return message
    return type(exc).__name__


def google_error(endpoint: Endpoint[E], response: httpx2.Response) -> E:
    """Map an error answer in the format every Google Cloud REST API uses.

    The body is ``{"error": {"code", "message", "status", "details"}}``; a
    detail whose ``reason`` starts with ``API_KEY_`` means the key is wrong.
    """
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        error = {}
    details = error.get("details")
    key_refused = any(
        isinstance(detail, dict) and str(detail.get("reason", "")).startswith("API_KEY_")
        for detail in (details if isinstance(details, list) else [])
    )
    message = f"{error.get('status', '')}: {error.get('message') or response.reason_phrase}"
    return endpoint.refused(
        response.status_code, message, response.headers, key_refused=key_refused
    )


def openai_client(api_key: str, base_url: str, timeout_s: float) -> openai.OpenAI:
    """Create the official SDK's client for one engine.

    Retries are off: a listener waits in real time, so a failure is reported
    at once and the registry moves on to the next engine. ``timeout_s``
    limits each network phase (connect, send, each wait for bytes). The SDK
    also reads ``OPENAI_*`` variables meant for OpenAI: an explicit
    Authorization header beats ``OPENAI_CUSTOM_HEADERS``, and clearing the
    organization and project keeps ``OPENAI_ORG_ID`` / ``OPENAI_PROJECT_ID``
    from reaching other vendors.
    """
    client = openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout_s,
        max_retries=0,
        default_headers={"Authorization": f"Bearer {api_key}"},
    )
    client.organization = None
    client.project = None
    return client


class HostedEngine(Generic[E]):
    """The settings and error mapping every engine on a vendor's API has.

    Subclasses make their SDK's client in :meth:`_connect`.

    Args:
        api_key: the key; never logged or shown.
        model: the model asked for.
        base_url: the API root.
        name: the engine name recorded in events.
        timeout_s: limit for each network phase of a call; keep it below the
            registry's limit so the engine's own error is the one recorded.
        failure: the kind's error class.
        timeout: the kind's timeout error class.

    Raises:
        ValueError: ``api_key`` or ``model`` is empty.

    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str,
        name: str,
        timeout_s: float,
        failure: type[E],
        timeout: type[E],
    ) -> None:
        if not api_key:
            raise ValueError(f"{name}: the API key is empty")
        if not model:
            raise ValueError(f"{name}: the model is empty")
        self.name = name
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._endpoint: Endpoint[E] = Endpoint(
            name, base_url, timeout_s, failure, timeout, secret=api_key
        )
        self._connect(api_key)

    def _connect(self, api_key: str) -> None:
        """Make the vendor SDK's client; each vendor's engines say how."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r}, "
            f"model={self.model!r}, timeout_s={self.timeout_s!r})"
        )


class OpenAIEngine(HostedEngine[E]):
    """The settings, client and error mapping of an engine on an OpenAI-compatible API.

    Engines of each kind inherit this beside their kind's interface.
    Thread-safe: the client (one connection pool) is shared by every call.
    Arguments as :class:`HostedEngine`'s; ``base_url`` ends in ``/v1``.

    Raises:
        ValueError: ``api_key`` or ``model`` is empty.

    """

    def _connect(self, api_key: str) -> None:
        """Make the OpenAI SDK client (one connection pool for every call)."""
        self._client = openai_client(api_key, self.base_url, self.timeout_s)

    def close(self) -> None:
        """Close the SDK client's connection pool."""
        self._client.close()


@dataclass(frozen=True)
class OpenAIAccount:
    """Where an OpenAI-compatible engine sends requests, and with which key.

    Attributes:
        name: the engine name.
        base_url: the API root.
        api_key: the bearer key; not in the ``repr``.

    """

    name: str
    base_url: str
    api_key: str = field(repr=False)

    @classmethod
    def from_env(cls, prefix: str, name: str | None) -> OpenAIAccount:
        """Read ``<prefix>_API_KEY`` and ``<prefix>_BASE_URL``, as the translation engine does.

        The base URL defaults to OpenAI's for ``VOICEMODE_OPENAI`` and xAI's for
        ``VOICEMODE_GROK``; other prefixes must set it, so a key is never sent
        to a vendor it does not belong to by default.

        Args:
            prefix: the variables' prefix.
            name: the engine name; by default the prefix without
                ``VOICEMODE_``, lower-cased (``grok``).

        Raises:
            ValueError: a variable is missing (the message names it).

        """
        default_url = ENV_DEFAULTS.get(prefix, (None, None))[0]
        api_key = env_required(f"{prefix}_API_KEY")
        return cls(
            name=name or prefix.removeprefix("VOICEMODE_").lower(),
            base_url=env_required(f"{prefix}_BASE_URL", default_url),
            api_key=api_key,
        )


def env_required(variable: str, default: str | None = None) -> str:
    """Read an environment variable that must be set unless it has a default.

    Raises:
        ValueError: it is unset or empty and there is no default.

    """
    value = os.environ.get(variable) or default
    if not value:
        raise ValueError(f"{variable} is not set")
    return value


def env_seconds(variable: str, default: float) -> float:
    """Read a duration in seconds from the environment.

    Raises:
        ValueError: it is not a number (the message names the variable, never its value).

    """
    value = os.environ.get(variable)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{variable} is not a number of seconds") from None


def pcm16(audio: Pcm) -> bytes:
    """Convert float32 samples in [-1, 1] to the 16-bit little-endian PCM vendors take."""
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
