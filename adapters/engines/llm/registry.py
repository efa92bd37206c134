"""The chat model registry: per-user engine preference, a time limit to the first token, fallback.

An engine is chosen by its first token: the registry asks each engine in turn
(preferred ones first) for the first text piece of its answer within
``timeout_s``, and the first that delivers streams the rest. An engine that
fails or is too slow before its first token is recorded in ``fallbacks`` and
the next is asked. Once text has started there is no switching engines, since
it may already have been shown or spoken: an error mid-stream ends the
stream, keeps the text already produced, and records the engine's error code
(see :class:`ReplyStream`). ``reply`` never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Sequence

from adapters.engines.llm.base import (
    NO_ANSWER,
    ChatModel,
    Conversation,
    GenerationError,
    GenerationTimeoutError,
    Piece,
    Reply,
    Usage,
)
from adapters.engines.registry import NO_ENGINE, EngineRegistry, elapsed_ms

logger = logging.getLogger(__name__)


class ReplyStream(Iterator[str]):
    """One answer streaming from the engine that gave its first token: iterate, then ``reply()``.

    Iterating yields the answer's text pieces as the engine produces them
    and never raises: if the engine breaks mid-stream the iteration ends
    there, and :meth:`reply` keeps the text produced so far with the
    engine's error code. The engine's own time limits bound the wait for
    each later piece. Iterate from one thread at a time.

    Args:
        engine: the engine that answered, or None if none did.
        first: its first text piece (empty if none answered).
        pieces: the rest of its stream, or None if none answered.
        started: ``time.perf_counter()`` when the request was made.
        first_token_ms: from the request to ``first``.
        fallbacks: the engines that failed first, ``"engine:error_code"``.
        error_code: why no engine answered (None when one did).

    """

    def __init__(
        self,
        engine: ChatModel | None,
        first: str,
        pieces: Generator[Piece, None, None] | None,
        started: float,
        first_token_ms: int,
        fallbacks: tuple[str, ...],
        error_code: str | None = None,
    ) -> None:
        self._engine = engine
        self._pending = first
        self._pieces = pieces
        self._started = started
        self._first_token_ms = first_token_ms
        self._fallbacks = fallbacks
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self._error_code = error_code
        self._total_ms: int | None = None if pieces is not None else elapsed_ms(started)
        self._closed = False

    @property
    def engine(self) -> str:
        """The answering engine's name, or ``none``."""
        return self._engine.name if self._engine is not None else NO_ENGINE

    @property
    def first_token_ms(self) -> int:
        """From the request to the first text piece (or to giving up)."""
        return self._first_token_ms

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """``"engine:error_code"`` for each engine that failed before the first token."""
        return self._fallbacks

    @property
    def text(self) -> str:
        """The text produced so far."""
        return "".join(self._parts)

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> str:
        """Return the next text piece; stop at the end of the answer or where the engine broke."""
        if self._pending:
            piece, self._pending = self._pending, ""
            self._parts.append(piece)
            return piece
        if self._pieces is None or self._total_ms is not None:
            raise StopIteration
        try:
            piece = self._next_text(self._pieces)
        except StopIteration:
            self._end(None)
            raise
        except GenerationError as exc:
            logger.warning("language model %s broke mid-stream: %s: %s", self.engine, exc.code, exc)
            self._end(exc.code)
            raise StopIteration from None
        except Exception:
            logger.exception("language model %s broke mid-stream", self.engine)
            self._end(GenerationError.code)
            raise StopIteration from None
        self._parts.append(piece)
        return piece

    def close(self) -> None:
        """Stop the answer here: the engine stops generating; :meth:`reply` keeps what came.

        Call it from the thread that iterates (e.g. between two pieces).
        """
        if self._total_ms is None and self._pieces is not None:
            self._closed = True
            self._pending = ""
            self._pieces.close()
            self._end(None)

    def reply(self) -> Reply:
        """What the answer was, once the stream has ended or been closed.

        Raises:
            RuntimeError: the stream is still going.

        """
        if self._total_ms is None:
            raise RuntimeError("the answer is still streaming: read it to its end or close it")
        return Reply(
            text=self.text,
            engine=self.engine,
            model=self._engine.model if self._engine is not None else "",
            first_token_ms=self._first_token_ms,
            total_ms=self._total_ms,
            tokens_in=self._usage.tokens_in if self._usage else None,
            tokens_out=self._usage.tokens_out if self._usage else None,
            fallbacks=self._fallbacks,
            error_code=self._error_code,
            closed=self._closed,
        )

    def _next_text(self, pieces: Generator[Piece, None, None]) -> str:
        """Advance to the next non-empty text piece, keeping a Usage met on the way."""
        while True:
            piece = next(pieces)
            if isinstance(piece, Usage):
                self._usage = piece
            elif piece:
                return piece

    def _end(self, error_code: str | None) -> None:
        """Record how the stream ended."""
        self._error_code = error_code
        self._total_ms = elapsed_ms(self._started)


class ChatRegistry(EngineRegistry[ChatModel]):
    """Chat models in registration order, tried with per-user preference and fallback.

    Arguments as :class:`~adapters.engines.registry.EngineRegistry`'s;
    ``timeout_s`` bounds an engine's start and first token. An engine
    abandoned for being late keeps its pool thread until it gives that
    token; its stream is then dropped, which closes it.
    """

    failure = GenerationError
    timeout = GenerationTimeoutError
    kind = "language model"

    def __init__(
        self,
        engines: Sequence[ChatModel],
        timeout_s: float = 10.0,
        max_workers: int = 8,
    ) -> None:
        super().__init__(engines, timeout_s, max_workers, "llm")

    def reply(self, conversation: Conversation, preference: Sequence[str] = ()) -> ReplyStream:
        """Start answering with the first engine that gives a first token in time.

        Never raises. Engines that fail or time out before their first token
        are recorded in ``fallbacks`` and the next one is asked; an engine
        that ends without any text counts as failed (``assistant_failed``).

        Args:
            conversation: the system prompt, the turns, the token budget.
            preference: the user's preferred engine names, best first.

        Returns:
            The answer's stream; if no engine gave a first token, an empty
            stream with engine ``none`` and error ``assistant_unavailable``.

        """
        started = time.perf_counter()
        answer = self._first(
            preference, lambda engine: self._start(engine, conversation), NO_ANSWER
        )
        if answer.engine is None or answer.result is None:
            return ReplyStream(
                None, "", None, started, elapsed_ms(started), answer.fallbacks, NO_ANSWER
            )
        first, pieces = answer.result
        return ReplyStream(
            answer.engine, first, pieces, started, elapsed_ms(started), answer.fallbacks
        )

    def _start(
        self, engine: ChatModel, conversation: Conversation
    ) -> tuple[str, Generator[Piece, None, None]] | None:
        """Start one engine and get its first text piece within the time limit.

        Raises:
            GenerationError: the engine failed, broke, ended without text,
                or ran out of time (``assistant_timeout``).

        """

        def first_token() -> tuple[str, Generator[Piece, None, None]]:
            pieces = engine.generate(conversation)
            for piece in pieces:
                if isinstance(piece, str) and piece:
                    return piece, pieces
            raise GenerationError(f"{engine.name} answered nothing")

        return self._ask(engine, lambda: True, first_token, awaited="first token")
