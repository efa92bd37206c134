"""The assistant's hosted language models through the official SDKs, against local vendor fakes.

``anthropic`` (Messages API, server-sent events) and the OpenAI-compatible
engine (streamed chat completions) run their real SDKs against
``tests.support.vendor_fakes``: text arrives in pieces as the vendor sends
it, usage is recorded, failures before the first token fall back to the
next engine, an error mid-stream keeps the text already produced, and no
key reaches a log line or an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from adapters.engines.llm.anthropic_messages import AnthropicChatModel
from adapters.engines.llm.base import Conversation, GenerationError, Turn
from adapters.engines.llm.engines import chat_model
from adapters.engines.llm.openai_compatible import OpenAICompatibleChatModel
from adapters.engines.llm.registry import ChatRegistry
from tests.support.vendor_fakes import (
    FakeAnthropic,
    FakeOpenAI,
    Hang,
    Paced,
    VendorError,
    closed_port_url,
)

ANTHROPIC_KEY = "sk-ant-api03-SECRETKEY-0123456789abcd"
OPENAI_KEY = "sk-proj-SECRETKEY-0123456789wxyz"
QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris."
CONVERSATION = Conversation(
    "You are a helpful voice assistant.",
    (Turn("user", "Hello"), Turn("assistant", "Hi! How can I help?"), Turn("user", QUESTION)),
    max_tokens=64,
)

STREAM_INTERVAL_S = 0.1
"""The fakes send the 6 pieces 0.1 s apart: 0.5 s from the first to the last."""
STREAMED_SPAN_S = 0.25
"""What the pieces' arrivals must span at least: streamed, not all at the end. Half the
sending span, so a first piece held up by a busy machine (it was 0.15 s late once, in
the full suite) does not fail the test."""


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(ANTHROPIC_KEY) as fake:
        fake.replies[QUESTION] = ANSWER
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(OPENAI_KEY, models={"gpt-test"}) as fake:
        fake.chat_replies[QUESTION] = ANSWER
        yield fake


@pytest.fixture
def claude(fake_anthropic: FakeAnthropic) -> Iterator[AnthropicChatModel]:
    engine = AnthropicChatModel(
        api_key=ANTHROPIC_KEY, model="claude-test", base_url=fake_anthropic.base_url, timeout_s=2.0
    )
    with closing(engine):
        yield engine


@pytest.fixture
def gpt(fake_openai: FakeOpenAI) -> Iterator[OpenAICompatibleChatModel]:
    engine = OpenAICompatibleChatModel(
        api_key=OPENAI_KEY, model="gpt-test", base_url=fake_openai.base_url, timeout_s=2.0
    )
    with closing(engine):
        yield engine


def test_claude_streams_the_answer_in_pieces_with_its_usage(
    fake_anthropic: FakeAnthropic, claude: AnthropicChatModel
) -> None:
    fake_anthropic.script(Paced(interval_s=STREAM_INTERVAL_S))
    with closing(ChatRegistry([claude])) as registry:
        stream = registry.reply(CONVERSATION)
        arrivals = [(piece, time.perf_counter()) for piece in stream]
    reply = stream.reply()
    assert [piece for piece, _ in arrivals] == [
        "The ",
        "capital ",
        "of ",
        "France ",
        "is ",
        "Paris.",
    ]
    assert arrivals[-1][1] - arrivals[0][1] >= STREAMED_SPAN_S  # as sent, not all at the end
    assert (reply.text, reply.engine, reply.model) == (ANSWER, "anthropic", "claude-test")
    assert (reply.tokens_in, reply.tokens_out) == (18, 6)
    assert reply.first_token_ms < reply.total_ms
    [request] = fake_anthropic.requests
    body = request.json()
    assert (request.path, body["stream"], body["max_tokens"]) == ("/v1/messages", True, 64)
    assert body["system"] == "You are a helpful voice assistant."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert request.headers["x-stainless-retry-count"] == "0"
    assert fake_anthropic.key_locations(ANTHROPIC_KEY) == {"header:authorization"}


def test_openai_streams_the_answer_in_pieces_with_its_usage(
    fake_openai: FakeOpenAI, gpt: OpenAICompatibleChatModel
) -> None:
    fake_openai.script(Paced(interval_s=STREAM_INTERVAL_S))
    with closing(ChatRegistry([gpt])) as registry:
        stream = registry.reply(CONVERSATION)
        arrivals = [(piece, time.perf_counter()) for piece in stream]
    reply = stream.reply()
    assert "".join(piece for piece, _ in arrivals) == ANSWER
    assert len(arrivals) == 6
    assert arrivals[-1][1] - arrivals[0][1] >= STREAMED_SPAN_S
    assert (reply.engine, reply.model, reply.tokens_in, reply.tokens_out) == (
        "openai",
        "gpt-test",
        18,
        6,
    )
    [request] = fake_openai.requests
    body = request.json()
    assert (body["stream"], body["stream_options"], body["max_completion_tokens"]) == (
        True,
        {"include_usage": True},
        64,
    )
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert fake_openai.key_locations(OPENAI_KEY) == {"header:authorization"}


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "engine_unavailable"), (401, "engine_auth_failed"), (429, "engine_rate_limited")],
)
def test_a_vendor_failing_before_the_first_token_hands_over_to_the_next(
    fake_anthropic: FakeAnthropic,
    claude: AnthropicChatModel,
    gpt: OpenAICompatibleChatModel,
    fake_openai: FakeOpenAI,
    status: int,
    code: str,
) -> None:
    fake_anthropic.script(VendorError(status, retry_after=20 if status == 429 else None))
    with closing(ChatRegistry([claude, gpt])) as registry:
        stream = registry.reply(CONVERSATION)
        text = "".join(stream)
        assert (text, stream.engine) == (ANSWER, "openai")
        assert stream.fallbacks == (f"anthropic:{code}",)
        # and the other way round
        fake_openai.script(VendorError(status))
        stream = registry.reply(CONVERSATION, preference=["openai"])
        text = "".join(stream)
        assert (text, stream.engine) == (ANSWER, "anthropic")
        assert stream.fallbacks == (f"openai:{code}",)


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
def test_an_error_mid_stream_keeps_the_partial_answer_and_its_code(
    fake_anthropic: FakeAnthropic,
    claude: AnthropicChatModel,
    fake_openai: FakeOpenAI,
    gpt: OpenAICompatibleChatModel,
    vendor: str,
) -> None:
    first, second = (claude, gpt) if vendor == "anthropic" else (gpt, claude)
    (fake_anthropic if vendor == "anthropic" else fake_openai).script(Paced(fail_after=3))
    with closing(ChatRegistry([first, second])) as registry:
        stream = registry.reply(CONVERSATION)
        text = "".join(stream)
    reply = stream.reply()
    assert (text, reply.text) == ("The capital of ", "The capital of ")
    assert (reply.engine, reply.error_code, reply.fallbacks) == (vendor, "engine_unavailable", ())
    assert len((fake_openai if vendor == "anthropic" else fake_anthropic).requests) == 0


@pytest.mark.parametrize("where", ["before the answer", "before the first text"])
def test_a_vendor_too_slow_for_the_first_token_falls_back(
    fake_anthropic: FakeAnthropic,
    claude: AnthropicChatModel,
    gpt: OpenAICompatibleChatModel,
    where: str,
) -> None:
    fake_anthropic.script(Hang(3) if where == "before the answer" else Paced(first_text_s=3))
    with closing(ChatRegistry([claude, gpt], timeout_s=5)) as registry:
        started = time.perf_counter()
        stream = registry.reply(CONVERSATION)
        text = "".join(stream)
    assert (text, stream.engine, stream.fallbacks) == (
        ANSWER,
        "openai",
        ("anthropic:assistant_timeout",),
    )
    assert time.perf_counter() - started < 3  # the engine's 2 s limit, not the vendor's 3 s


def test_the_registry_limit_bounds_the_first_token_too(
    fake_openai: FakeOpenAI, gpt: OpenAICompatibleChatModel, claude: AnthropicChatModel
) -> None:
    fake_openai.script(Paced(first_text_s=1.5))
    with closing(ChatRegistry([gpt, claude], timeout_s=0.3)) as registry:
        stream = registry.reply(CONVERSATION)
        text = "".join(stream)
    assert (text, stream.engine, stream.fallbacks) == (
        ANSWER,
        "anthropic",
        ("openai:assistant_timeout",),
    )


def test_when_no_vendor_answers_the_reply_is_empty_and_unavailable(
    fake_anthropic: FakeAnthropic, claude: AnthropicChatModel
) -> None:
    fake_anthropic.script(VendorError(529))
    gone = OpenAICompatibleChatModel(
        api_key=OPENAI_KEY, model="gpt-test", base_url=closed_port_url()
    )
    with closing(ChatRegistry([claude, gone])) as registry:
        stream = registry.reply(CONVERSATION)
        assert list(stream) == []
    reply = stream.reply()
    assert (reply.engine, reply.error_code) == ("none", "assistant_unavailable")
    assert reply.fallbacks == ("anthropic:engine_unavailable", "openai:engine_unavailable")


def test_closing_an_answer_closes_the_vendors_stream(
    fake_anthropic: FakeAnthropic, claude: AnthropicChatModel
) -> None:
    fake_anthropic.script(Paced(interval_s=0.2))
    with closing(ChatRegistry([claude])) as registry:
        stream = registry.reply(CONVERSATION)
        assert next(stream) == "The "
        started = time.perf_counter()
        stream.close()
    assert time.perf_counter() - started < 0.5
    assert (stream.reply().text, stream.reply().closed) == ("The ", True)


def test_keys_never_reach_logs_or_errors(
    fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_anthropic = "sk-ant-api03-WRONGKEY-9876543210zyxw"
    wrong_openai = "sk-proj-WRONGKEY-9876543210zyxw"
    engines = [
        AnthropicChatModel(api_key=wrong_anthropic, model="m", base_url=fake_anthropic.base_url),
        OpenAICompatibleChatModel(
            api_key=wrong_openai, model="gpt-test", base_url=fake_openai.base_url
        ),
    ]
    caplog.set_level(logging.DEBUG)
    with closing(ChatRegistry(engines)) as registry:
        stream = registry.reply(CONVERSATION)
        list(stream)
        for engine in engines:
            with pytest.raises(GenerationError) as caught:
                list(engine.generate(CONVERSATION))
            assert caught.value.code == "engine_auth_failed"
            shown = f"{caught.value!s} {caught.value!r} {engine!r}"
            assert "WRONGKEY" not in shown and "zyxw" not in shown
    assert stream.reply().fallbacks == ("anthropic:engine_auth_failed", "openai:engine_auth_failed")
    assert "WRONGKEY" not in caplog.text and "zyxw" not in caplog.text


def test_engines_are_configured_from_the_environment(
    fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEMODE_ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("VOICEMODE_ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    monkeypatch.setenv("VOICEMODE_ANTHROPIC_MODEL", "claude-env")
    monkeypatch.setenv("VOICEMODE_LOCAL_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("VOICEMODE_LOCAL_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("VOICEMODE_LOCAL_MODEL", "gpt-test")
    for name, model in [("anthropic", "claude-env"), ("local", "gpt-test")]:
        with closing(ChatRegistry([chat_model(name)])) as registry:
            stream = registry.reply(CONVERSATION)
            assert "".join(stream) == ANSWER
        assert (stream.engine, stream.reply().model) == (name, model)
    monkeypatch.delenv("VOICEMODE_ANTHROPIC_API_KEY")
    with pytest.raises(ValueError, match="VOICEMODE_ANTHROPIC_API_KEY is not set"):
        chat_model("anthropic")
