"""The chat registry's fallback rule: fallback only before the first token.

The assistant's answer streams, so the registry picks an engine by its first
token: engines that fail or are too slow before it are recorded as
``engine:error_code`` and the next is asked; once text has come, an error
ends the stream, keeps the text already produced and records the engine's
code; when no engine answers, the stream is empty with engine ``none`` and
``assistant_unavailable``. The engines are small classes written for the
test, behind the real interface; only the registry's public methods are
called.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import closing

import pytest

from adapters.engines.llm.base import (
    ChatModel,
    Conversation,
    GenerationError,
    Piece,
    Turn,
    Usage,
)
from adapters.engines.llm.registry import ChatRegistry

QUESTION = Conversation("Be brief.", (Turn("user", "Hello?"),), max_tokens=32)


class EngineUnavailableError(GenerationError):
    """What a hosted engine raises when its vendor does not answer."""

    code = "engine_unavailable"


class Answering(ChatModel):
    """Answers with its pieces, then its usage; breaks with ``error`` after ``break_after``."""

    def __init__(
        self,
        name: str,
        pieces: tuple[str, ...] = ("Hi ", "there."),
        error: Exception | None = None,
        break_after: int = 0,
    ) -> None:
        self.name = name
        self.model = f"{name}-model"
        self.pieces = pieces
        self.error = error
        self.break_after = break_after
        self.asked = 0
        self.closed_mid_stream = False

    def generate(self, conversation: Conversation) -> Generator[Piece, None, None]:
        self.asked += 1
        try:
            for index, piece in enumerate(self.pieces):
                if self.error is not None and index == self.break_after:
                    raise self.error
                yield piece
        except GeneratorExit:
            self.closed_mid_stream = True
            raise
        yield Usage(len(conversation.turns), len(self.pieces))


class Hanging(Answering):
    """Gives its first token only once released: later than any registry waits."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.released = threading.Event()

    def generate(self, conversation: Conversation) -> Generator[Piece, None, None]:
        self.released.wait(5)
        yield from super().generate(conversation)

    def close(self) -> None:
        self.released.set()


def test_the_first_engine_to_give_a_token_streams_the_whole_answer() -> None:
    with closing(ChatRegistry([Answering("first"), Answering("second")])) as registry:
        stream = registry.reply(QUESTION)
        pieces = list(stream)
    reply = stream.reply()
    assert pieces == ["Hi ", "there."]
    assert (reply.text, reply.engine, reply.model) == ("Hi there.", "first", "first-model")
    assert (reply.tokens_in, reply.tokens_out) == (1, 2)
    assert (reply.fallbacks, reply.error_code, reply.closed) == ((), None, False)
    assert 0 <= reply.first_token_ms <= reply.total_ms


def test_the_users_preference_is_asked_first() -> None:
    second = Answering("second")
    with closing(ChatRegistry([Answering("first"), second])) as registry:
        stream = registry.reply(QUESTION, preference=["second", "unknown"])
        list(stream)
    assert (stream.engine, second.asked) == ("second", 1)


def test_an_engine_failing_before_its_first_token_hands_over_and_is_recorded() -> None:
    engines = [
        Answering("hosted", error=EngineUnavailableError("503")),
        Answering("buggy", error=ZeroDivisionError("oops")),
        Answering("silent", pieces=("", "")),
        Answering("embedded"),
    ]
    with closing(ChatRegistry(engines)) as registry:
        stream = registry.reply(QUESTION)
        text = "".join(stream)
    assert (text, stream.engine) == ("Hi there.", "embedded")
    assert stream.reply().fallbacks == (
        "hosted:engine_unavailable",
        "buggy:assistant_failed",
        "silent:assistant_failed",
    )
    assert stream.reply().error_code is None


def test_an_engine_too_slow_for_its_first_token_is_left_behind() -> None:
    with closing(ChatRegistry([Hanging("slow"), Answering("quick")], timeout_s=0.05)) as registry:
        stream = registry.reply(QUESTION)
        list(stream)
    assert (stream.engine, stream.fallbacks) == ("quick", ("slow:assistant_timeout",))


def test_an_error_mid_stream_ends_the_answer_and_keeps_what_came() -> None:
    broken = Answering(
        "hosted", ("One ", "two ", "three."), EngineUnavailableError("reset"), break_after=2
    )
    second = Answering("second")
    with closing(ChatRegistry([broken, second])) as registry:
        stream = registry.reply(QUESTION)
        pieces = list(stream)
    reply = stream.reply()
    assert pieces == ["One ", "two "]
    assert (reply.text, reply.engine, reply.error_code) == (
        "One two ",
        "hosted",
        "engine_unavailable",
    )
    assert (reply.tokens_in, reply.tokens_out, reply.fallbacks) == (None, None, ())
    assert second.asked == 0  # no switching engines once text has come


def test_an_engine_breaking_unexpectedly_mid_stream_counts_as_failed() -> None:
    broken = Answering("buggy", ("One ", "two."), KeyError("x"), break_after=1)
    with closing(ChatRegistry([broken])) as registry:
        stream = registry.reply(QUESTION)
        assert list(stream) == ["One "]
    assert (stream.reply().text, stream.reply().error_code) == ("One ", "assistant_failed")


def test_when_no_engine_answers_the_stream_is_empty_and_says_why() -> None:
    engines = [
        Answering("first", error=GenerationError("bad")),
        Answering("second", error=EngineUnavailableError("down")),
    ]
    with closing(ChatRegistry(engines)) as registry:
        stream = registry.reply(QUESTION)
        assert list(stream) == []
    reply = stream.reply()
    assert (reply.text, reply.engine, reply.model, reply.error_code) == (
        "",
        "none",
        "",
        "assistant_unavailable",
    )
    assert reply.fallbacks == ("first:assistant_failed", "second:engine_unavailable")


def test_closing_an_answer_stops_the_engine_and_keeps_what_came() -> None:
    engine = Answering("talker", ("One ", "two ", "three."))
    with closing(ChatRegistry([engine])) as registry:
        stream = registry.reply(QUESTION)
        assert next(stream) == "One "
        assert next(stream) == "two "
        stream.close()
        assert list(stream) == []
    reply = stream.reply()
    assert (reply.text, reply.closed, reply.error_code) == ("One two ", True, None)
    assert engine.closed_mid_stream


def test_the_reply_is_known_only_once_the_stream_has_ended() -> None:
    with closing(ChatRegistry([Answering("first")])) as registry:
        stream = registry.reply(QUESTION)
        with pytest.raises(RuntimeError):
            stream.reply()
        list(stream)
    assert stream.reply().text == "Hi there."
