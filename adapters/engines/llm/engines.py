"""The assistant's language models by name: what the assistant's engine list may name.

``smollm2`` is embedded (offline, weak answers); ``anthropic`` is Claude
through the Messages API (``VOICEMODE_ANTHROPIC_*``); any other name is an
OpenAI-compatible chat-completions server configured by
``VOICEMODE_<NAME>_*`` variables (``openai``, ``grok``, or a local llama.cpp
or Ollama server through ``_BASE_URL``). Each engine's module is imported
only when it is named, so the interface stays light.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.engines.llm.base import ChatModel
from adapters.engines.llm.registry import ChatRegistry
from adapters.engines.registry_startup import start_registry

#: The variable that lists the engines, named in start-up errors.
VARIABLE = "VOICEMODE_LLM_ENGINES"


def build(names: Sequence[str], timeout_s: float = 10.0) -> ChatRegistry:
    """Create the language models named, in order of preference, and their registry.

    Args:
        names: the engine names, best first.
        timeout_s: the limit for an engine's first token.

    Raises:
        StartupError: no engine is named, or one cannot start.

    """
    return start_registry(
        VARIABLE, names, chat_model, lambda engines: ChatRegistry(engines, timeout_s)
    )


def chat_model(name: str) -> ChatModel:
    """Create the language model called ``name``."""
    if name == "smollm2":
        from adapters.engines.llm.smollm2 import SmolLM2ChatModel  # noqa: PLC0415

        return SmolLM2ChatModel()
    if name == "anthropic":
        from adapters.engines.llm.anthropic_messages import AnthropicChatModel  # noqa: PLC0415

        return AnthropicChatModel.from_env()
    from adapters.engines.llm.openai_compatible import (  # noqa: PLC0415
        OpenAICompatibleChatModel,
    )

    return OpenAICompatibleChatModel.from_env(f"VOICEMODE_{name.upper()}", name=name)
