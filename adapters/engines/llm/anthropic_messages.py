"""The assistant on Claude, through the official ``anthropic`` SDK's streaming Messages API.

The answer is asked with ``stream=True`` and read as the server-sent events
Anthropic documents: ``message_start`` (with the input tokens),
``content_block_start``, ``ping``, ``content_block_delta`` whose
``text_delta`` is the next text, ``content_block_stop``, ``message_delta``
(with the output tokens so far) and ``message_stop``. An ``error`` event
(e.g. ``overloaded_error``) can come at any point of a stream that began with
200: it is mapped by its ``error.type`` like an HTTP error of that kind.

Configuration (:meth:`AnthropicChatModel.from_env`): ``VOICEMODE_ANTHROPIC_API_KEY``
(required), ``VOICEMODE_ANTHROPIC_MODEL`` (default ``claude-haiku-4-5``, quick
to its first token), ``VOICEMODE_ANTHROPIC_BASE_URL`` (default Anthropic's
API) and ``VOICEMODE_ANTHROPIC_TIMEOUT_S`` (default 8, below the chat
registry's 10 s). The key is passed to the SDK explicitly, so it reads none
of its own ``ANTHROPIC_*`` credentials; retries are off (a listener waits in
real time: the registry moves on to the next engine instead).

Errors and secrets are handled as :mod:`adapters.engines.hosted` describes:
``engine_auth_failed``, ``engine_rate_limited``, ``engine_unavailable``, or
the kind's ``assistant_timeout`` / ``assistant_failed``; no message carries
the key.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import anthropic
import httpx2
from anthropic.types import MessageParam

from adapters.engines.hosted import UNAVAILABLE, HostedEngine, env_required, env_seconds
from adapters.engines.llm.base import (
    ChatModel,
    Conversation,
    GenerationError,
    GenerationTimeoutError,
    Piece,
    Usage,
)

#: Anthropic's API root; the SDK adds ``/v1/messages``.
ANTHROPIC_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_MODEL: Final = "claude-haiku-4-5"
_TIMEOUT_S: Final = 8.0

#: The HTTP status each of Anthropic's documented ``error.type`` values comes with,
#: to map an ``error`` event inside a 200 stream as the status would be.
_ERROR_STATUS: Final[Mapping[str, int]] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicChatModel(HostedEngine[GenerationError], ChatModel):
    """Claude through Anthropic's Messages API, streamed.

    Thread-safe: the SDK client (one connection pool) is shared by every call.

    Args:
        api_key: the ``x-api-key``; never logged or shown.
        model: the Claude model.
        base_url: the API root (without ``/v1``).
        name: the engine name recorded with answers.
        timeout_s: limit for each network phase of a call, including each
            wait for the next event.

    Raises:
        ValueError: ``api_key`` or ``model`` is empty.

    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str = ANTHROPIC_BASE_URL,
        name: str = "anthropic",
        timeout_s: float = _TIMEOUT_S,
    ) -> None:
        super().__init__(
            api_key=api_key,
            model=model,
            base_url=base_url,
            name=name,
            timeout_s=timeout_s,
            failure=GenerationError,
            timeout=GenerationTimeoutError,
        )

    def _connect(self, api_key: str) -> None:
        """Make the Anthropic SDK client, without retries (a listener is waiting)."""
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=self.base_url, timeout=self.timeout_s, max_retries=0
        )

    @classmethod
    def from_env(cls) -> AnthropicChatModel:
        """Configure the engine from ``VOICEMODE_ANTHROPIC_*`` (see the module).

        Raises:
            ValueError: the key is missing or the timeout is not a number (the
                message names the variable, never its value).

        """
        prefix = "VOICEMODE_ANTHROPIC"
        return cls(
            api_key=env_required(f"{prefix}_API_KEY"),
            model=env_required(f"{prefix}_MODEL", DEFAULT_MODEL),
            base_url=env_required(f"{prefix}_BASE_URL", ANTHROPIC_BASE_URL),
            timeout_s=env_seconds(f"{prefix}_TIMEOUT_S", _TIMEOUT_S),
        )

    def generate(self, conversation: Conversation) -> Generator[Piece, None, None]:
        """Stream the answer's text deltas as Claude writes them, then its usage.

        Raises:
            GenerationTimeoutError: no event within ``timeout_s``.
            GenerationError: with code ``engine_auth_failed``,
                ``engine_rate_limited``, ``engine_unavailable`` (also for
                ``api_error`` and ``overloaded_error`` events), or
                ``assistant_failed`` (a bad request or unreadable answer).

        """
        messages: list[MessageParam] = [
            {"role": "user", "content": turn.text}
            if turn.role == "user"
            else {"role": "assistant", "content": turn.text}
            for turn in conversation.turns
        ]
        tokens_in: int | None = None
        tokens_out: int | None = None
        with self._calling():
            stream = self._client.messages.create(
                model=self.model,
                system=conversation.system,
                messages=messages,
                max_tokens=conversation.max_tokens,
                stream=True,
            )
            with stream:
                for event in stream:
                    if event.type == "message_start":
                        tokens_in = event.message.usage.input_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield event.delta.text
                    elif event.type == "message_delta":
                        tokens_out = event.usage.output_tokens
        if tokens_in is not None and tokens_out is not None:
            yield Usage(tokens_in, tokens_out)

    def close(self) -> None:
        """Close the SDK client's connection pool."""
        self._client.close()

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Turn the SDK's and ``httpx2``'s exceptions raised inside into the kind's.

        Raises:
            GenerationTimeoutError: no answer in time.
            GenerationError: as :meth:`generate` says.

        """
        endpoint = self._endpoint
        try:
            yield
        except (anthropic.APITimeoutError, httpx2.TimeoutException) as exc:
            raise endpoint.timeout(f"{self.name}: no answer within {self.timeout_s} s") from exc
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            cause = exc.__cause__ if isinstance(exc, anthropic.APIConnectionError) else exc
            raise endpoint.error(
                UNAVAILABLE, f"connection to {self.base_url} failed: {cause!r}"
            ) from exc
        except anthropic.APIStatusError as exc:
            # Not chained: the SDK's exception quotes the vendor's whole body.
            status = exc.status_code
            if status < 400:  # an error event inside a stream that began with 200
                status = _ERROR_STATUS.get(exc.type or "", 500)
            message = f"{exc.type}: {exc.api_message or type(exc).__name__}"
            raise endpoint.refused(status, message, exc.response.headers) from None
        except (anthropic.AnthropicError, ValueError) as exc:  # e.g. an event that is not JSON
            raise endpoint.failed(f"unreadable answer: {type(exc).__name__}") from None
