"""The assistant on a chat model behind an OpenAI-compatible API: OpenAI, xAI Grok, self-hosted.

One adapter covers every server that speaks OpenAI's streaming chat
completions (the official ``openai`` SDK is the client): OpenAI, xAI
(``https://api.x.ai/v1``) and local servers such as llama.cpp's or Ollama's
(``<prefix>_BASE_URL``). The answer is asked with ``stream=True`` and
``stream_options.include_usage``: the server sends ``data:`` chunks whose
``choices[0].delta.content`` is the next text, a last chunk with ``usage``,
then ``data: [DONE]``. The budget is sent as ``max_completion_tokens``, the
parameter OpenAI documents (its reasoning models refuse the older
``max_tokens``).

Configuration (:meth:`OpenAICompatibleChatModel.from_env`) shares the
vendor's ``<prefix>_API_KEY`` and ``<prefix>_BASE_URL`` with the other kinds
of engine of the same name; ``<prefix>_LLM_MODEL`` is the chat model (by
default the translation engine's ``<prefix>_MODEL``, then ``gpt-4o-mini`` for
``VOICEMODE_OPENAI``) and ``<prefix>_LLM_TIMEOUT_S`` the limit for each
network phase (default 8, below the chat registry's 10 s).

Errors and secrets are handled as :mod:`adapters.engines.hosted` describes.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Final

from openai.types.chat import ChatCompletionMessageParam

from adapters.engines.hosted import (
    ENV_DEFAULTS,
    OPENAI_BASE_URL,
    OpenAIAccount,
    OpenAIEngine,
    env_required,
    env_seconds,
)
from adapters.engines.llm.base import (
    ChatModel,
    Conversation,
    GenerationError,
    GenerationTimeoutError,
    Piece,
    Usage,
)

_TIMEOUT_S: Final = 8.0


class OpenAICompatibleChatModel(OpenAIEngine[GenerationError], ChatModel):
    """A chat model behind an OpenAI-compatible chat-completions API, streamed.

    Thread-safe: the SDK client (one connection pool) is shared by every call.

    Args:
        api_key: the bearer key; never logged or shown.
        model: the chat model (``gpt-4o-mini``, ``grok-3-mini``, ...).
        base_url: the API root, ending in ``/v1``.
        name: the engine name recorded with answers (``openai``, ``grok``, ...).
        timeout_s: limit for each network phase of a call, including each
            wait for the next chunk.

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
            failure=GenerationError,
            timeout=GenerationTimeoutError,
        )

    @classmethod
    def from_env(
        cls, prefix: str = "VOICEMODE_OPENAI", name: str | None = None
    ) -> OpenAICompatibleChatModel:
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
        default_model = (
            os.environ.get(f"{prefix}_MODEL") or ENV_DEFAULTS.get(prefix, (None, None))[1]
        )
        return cls(
            api_key=account.api_key,
            model=env_required(f"{prefix}_LLM_MODEL", default_model),
            base_url=account.base_url,
            name=account.name,
            timeout_s=env_seconds(f"{prefix}_LLM_TIMEOUT_S", _TIMEOUT_S),
        )

    def generate(self, conversation: Conversation) -> Generator[Piece, None, None]:
        """Stream the answer's text as the server sends it, then its usage (see the base class).

        Raises:
            GenerationTimeoutError: no chunk within ``timeout_s``.
            GenerationError: with code ``engine_auth_failed`` (401, 403),
                ``engine_rate_limited`` (429), ``engine_unavailable`` (5xx,
                the server cannot be reached, or it sent an error mid-stream),
                or ``assistant_failed`` (another status, an unreadable chunk).

        """
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": conversation.system}
        ]
        for turn in conversation.turns:
            if turn.role == "user":
                messages.append({"role": "user", "content": turn.text})
            else:
                messages.append({"role": "assistant", "content": turn.text})
        with self._endpoint.calling():
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_completion_tokens=conversation.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
            )
            with stream:
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
                    if chunk.usage is not None:
                        yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
