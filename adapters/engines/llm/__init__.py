"""The assistant's language models: one small interface, streamed text, a fallback registry.

The package exports the interface and the registry's type only; engines are
imported where they are built (:func:`adapters.engines.llm.engines.build`).
"""

from adapters.engines.llm.base import (
    NO_ANSWER,
    ChatModel,
    Conversation,
    GenerationError,
    GenerationTimeoutError,
    Piece,
    Reply,
    Turn,
    Usage,
)
from adapters.engines.llm.registry import ChatRegistry, ReplyStream
from adapters.engines.registry import NO_ENGINE

__all__ = [
    "NO_ANSWER",
    "NO_ENGINE",
    "ChatModel",
    "ChatRegistry",
    "Conversation",
    "GenerationError",
    "GenerationTimeoutError",
    "Piece",
    "Reply",
    "ReplyStream",
    "Turn",
    "Usage",
]
