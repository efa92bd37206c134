"""The interface every language model of the assistant implements, its errors and its results.

A chat model continues a conversation: it gets a system prompt and the turns
so far, and streams the assistant's next turn as text pieces while it is
generated, so speech can start after the first sentence. Engines are
blocking: callers run them on worker threads, never on the asyncio loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass
from typing import Final, Literal

from adapters.engines.registry import EngineError

#: The error code of an answer no engine gave: every engine failed or timed out.
NO_ANSWER: Final = "assistant_unavailable"


class GenerationError(EngineError):
    """A model could not answer; ``code`` is stable and goes into events."""

    code = "assistant_failed"


class GenerationTimeoutError(GenerationError):
    """The model gave no first token within its time limit."""

    code = "assistant_timeout"


@dataclass(frozen=True)
class Turn:
    """One turn of a conversation: what the user said or what the assistant answered."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class Conversation:
    """What a model is asked to continue.

    Attributes:
        system: the system prompt (the assistant's instructions).
        turns: the turns so far, oldest first; the last is the user's.
        max_tokens: the most tokens the answer may have.

    """

    system: str
    turns: tuple[Turn, ...]
    max_tokens: int


@dataclass(frozen=True)
class Usage:
    """The tokens a model read and wrote for one answer, as it counted them."""

    tokens_in: int
    tokens_out: int


#: What a model's stream yields: text pieces, and its :class:`Usage` last if it knows it.
Piece = str | Usage


class ChatModel(ABC):
    """A language model that streams the assistant's next turn.

    Attributes:
        name: stable engine name, recorded with every answer.
        model: the model it runs, recorded with every answer.

    """

    name: str
    model: str

    @abstractmethod
    def generate(self, conversation: Conversation) -> Generator[Piece, None, None]:
        """Stream the next assistant turn: text pieces as generated, then at most one Usage.

        Blocking. Nothing is asked until the generator is first advanced;
        closing the generator stops the generation and releases its
        connection (a listener who interrupts the assistant closes it).

        Raises:
            GenerationTimeoutError: no answer within the engine's time limit.
            GenerationError: the model failed, at the start or mid-stream.

        """

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Release connections or models the engine holds."""


@dataclass(frozen=True)
class Reply:
    """One answer as it ended: what was produced and how it was obtained.

    Attributes:
        text: every piece produced, joined; when the engine broke mid-stream,
            the pieces produced before it did.
        engine: the engine that answered, or ``none``.
        model: its model, or empty when no engine answered.
        first_token_ms: from the request to the first text piece (failed
            engines included), or to giving up when none answered.
        total_ms: from the request to the end of the stream.
        tokens_in: tokens the model read, if it said.
        tokens_out: tokens the model wrote, if it said.
        fallbacks: ``"engine:error_code"`` for each engine that failed before
            the first token.
        error_code: None for a complete answer; the engine's code when it
            broke mid-stream; ``assistant_unavailable`` when no engine answered.
        closed: the listener closed the stream before its end.

    """

    text: str
    engine: str
    model: str
    first_token_ms: int
    total_ms: int
    tokens_in: int | None
    tokens_out: int | None
    fallbacks: tuple[str, ...]
    error_code: str | None
    closed: bool
