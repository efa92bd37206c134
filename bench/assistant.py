"""The assistant's answer latency: end of a spoken question -> first sound of the answer.

A fake language model (``tests.support.vendor_fakes.FakeOpenAI``, OpenAI's streamed chat
completions on a loopback port, in this process) answers every question with a fixed answer of
three sentences, the one scripted for that question (picked by the words the recognizer heard).
Every answer streams as the issue sets it: the first token 300 ms after the request
(``--first-token-ms``), then 40 tokens/s (``--tokens-per-s``). A *token* here is 4 characters
of the answer (OpenAI's rule of thumb for English; a word is ~1.3 of them). The fake streams one
word per chunk, all at one interval: the answers' tokens / 40 tokens/s / their words, so the
answers take, together, as long as a 40 tokens/s model would need for them.

Over the WebSocket, ``voicemode serve`` runs as a subprocess (``VOICEMODE_SPEECH=on``: Silero
VAD, faster-whisper tiny.en, espeak-ng; identity translation; ``VOICEMODE_LLM_ENGINES`` naming
the fake). One client in assistant mode (``start-speech {languageCode: en, assistant: true}``)
speaks each question as espeak-ng LINEAR16 16 kHz in 20-40 ms chunks paced in real time, as in
bench/voice.py, and keeps sending silence until the answer's ``assistant-response`` (which the
server sends once it believes the answer has been heard), then asks the next one. End of speech
is when the chunk holding the question's last non-silent sample was sent. From it:

* final: the ``recognized-speech`` of the question;
* text: the answer's first ``assistant-text`` (the model's first token reached the client);
* sentence: the answer's first ``translated-message`` (``fromUserId`` assistant): its first
  sentence was recorded;
* audio: the first binary frame of that answer's synthesized speech (the headline; goal p50 <=
  first token + 300 ms).

Baseline, same run: a second ``serve`` with ``VOICEMODE_ASSISTANT_STREAM_SPEECH=off``, which
waits for the whole reply before speaking any of it; same questions, same fake.

Over LiveKit (full size; ``--livekit`` with ``--smoke``): a real LiveKit server and the agent
worker in a child process (``bench/agent_child.py``, with the assistant and the asker
seated in a voice session with ``assistant: true``); an rtc client speaks each question on its
microphone in real time and listens to ``tts-en``; end of speech -> first loud audio of the
answer on the track (goal p50 <= first token + 450 ms).

The embedded model (SmolLM2-135M through ``adapters.engines.llm.engines.build(["smollm2"])``),
in this process, last: load time, time to the first token and tokens/s over a few questions
(``--embedded-questions``), and the RSS it adds (VmRSS before loading, after, and after
answering).

    .venv/bin/python bench/assistant.py                 # 10 questions per path (~8 min)
    .venv/bin/python bench/assistant.py --questions 4 --no-livekit
    .venv/bin/python bench/assistant.py --smoke         # 2 questions, WebSocket only (~2 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import math
import os
import random
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
from common import Row, heading, machine_note, num, percentile
from delivery import proc_status
from voice import START_SPEECH, Conn, open_conn

from tests.support.service import ServedInstance
from tests.support.speech import normalize_words, silence, trimmed
from tests.support.vendor_fakes import FakeOpenAI, Paced

RATE = 16000
BYTES_PER_SAMPLE = 2
ASSISTANT = "assistant"
LANGUAGE = "en"
QUESTIONS: tuple[tuple[str, str], ...] = (
    (
        "What is the capital of France?",
        "The capital of France is Paris. It lies on the river Seine, in the north of the "
        "country. More than two million people live in the city itself.",
    ),
    (
        "How far away is the moon?",
        "The moon is about four hundred thousand kilometres away. Light covers that distance in "
        "just over a second. The distance changes a little during each month.",
    ),
    (
        "Why is the sky blue?",
        "Sunlight is scattered by the air. Blue light is scattered much more than red light, so "
        "it reaches our eyes from every direction. That is why the sky looks blue by day.",
    ),
    (
        "How many legs does a spider have?",
        "A spider has eight legs. Insects have six, so spiders are not insects. They belong to "
        "a group called arachnids, like scorpions and ticks.",
    ),
    (
        "When should I water my plants?",
        "Water them early in the morning. The soil stays moist through the heat of the day. "
        "Check it first, and water only when the top is dry.",
    ),
    (
        "What is the boiling point of water?",
        "Water boils at one hundred degrees Celsius at sea level. High in the mountains it "
        "boils at a lower temperature. That is why pasta takes longer to cook there.",
    ),
    (
        "Who wrote Romeo and Juliet?",
        "William Shakespeare wrote it. It was first performed in the fifteen nineties. It is "
        "one of the most famous love stories ever told.",
    ),
    (
        "How do I make a cup of tea?",
        "Boil fresh water and pour it over the tea bag. Let it steep for three to five minutes. "
        "Then take out the bag and add milk if you like.",
    ),
    (
        "What time does the sun set in winter?",
        "In winter the sun sets early, often before five in the afternoon. The further north "
        "you are, the earlier it gets dark. Near the pole it may not rise at all.",
    ),
    (
        "Can you recommend a good book?",
        "Try The Hobbit by Tolkien. It is a short adventure that most readers enjoy. If you like "
        "it, the longer Lord of the Rings comes next.",
    ),
)
WARMUP = (
    "Can you hear me clearly?",
    "Yes, I can hear you. How can I help you today? Ask me anything you like.",
)
API_KEY = "sk-bench-assistant"
ENGINE = "bench"
"""The fake's engine name: ``VOICEMODE_BENCH_*`` configure it as an OpenAI-compatible server."""
CHARS_PER_TOKEN = 4.0
MATCH_MIN = 0.5
"""Share of a question's words the recognizer must have heard for the fake to give its answer."""
ANSWER_LIMIT_S = 45.0
"""Longest wait for one answer (generated, spoken and heard) before the next question."""
SETTLE_S = 0.3
"""Silence after an answer was heard, before the next question."""
EMBEDDED_MAX_TOKENS = 64
SMOKE = {"questions": 2, "embedded_questions": 2, "max_send_lag_ms": 100.0}
"""What ``--smoke`` sets: two questions per path, WebSocket only, two for the embedded model."""


# ================================================================ the fake language model


class AnswerBook(dict[str, str]):
    """The fake model's answers by question, found from the words the recognizer heard.

    ``FakeOpenAI`` looks the user's last message up with ``get``; here the message
    is a transcript, never exactly the question, so ``get`` answers for the
    question whose words it holds most of. What each request was matched to is
    kept in :attr:`asked`: (what was heard, the question or None: none matched, so
    the fake gave its default answer).
    """

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.asked: list[tuple[str, str | None]] = []

    def get(self, key: str, default: Any = None, /) -> Any:
        """The answer of the question ``key`` transcribes (``default`` if none)."""
        heard = set(normalize_words(key))

        def share(question: str) -> float:
            words = normalize_words(question)
            return sum(word in heard for word in words) / max(1, len(words))

        best = max(self, key=share)
        matched = best if share(best) >= MATCH_MIN else None
        self.asked.append((key, matched))
        return default if matched is None else self[matched]


@dataclass(frozen=True)
class Pace:
    """How the fake streams: first token, then one word per chunk at the mean token rate."""

    first_token_s: float
    tokens_per_s: float
    word_interval_s: float

    @classmethod
    def for_answers(
        cls, answers: Sequence[str], first_token_ms: float, tokens_per_s: float
    ) -> Pace:
        """The interval per word at which the answers, on average, stream ``tokens_per_s``."""
        tokens = sum(len(answer) / CHARS_PER_TOKEN for answer in answers)
        words = sum(len(answer.split()) for answer in answers)
        return cls(first_token_ms / 1000, tokens_per_s, tokens / tokens_per_s / words)

    def paced(self) -> Paced:
        """The fake's script for one streamed answer."""
        return Paced(first_text_s=self.first_token_s, interval_s=self.word_interval_s)

    def first_sentence_ms(self, answer: str) -> float:
        """Request -> the last word of the answer's first sentence, as the fake streams it."""
        first = answer.split(". ", maxsplit=1)[0]
        return (self.first_token_s + (len(first.split()) - 1) * self.word_interval_s) * 1000

    def whole_ms(self, answer: str) -> float:
        """Request -> the answer's last word."""
        return (self.first_token_s + (len(answer.split()) - 1) * self.word_interval_s) * 1000


def start_model(pace: Pace, scripted: int) -> tuple[FakeOpenAI, AnswerBook, dict[str, str]]:
    """The fake model, every one of its next ``scripted`` requests paced; the serve variables."""
    fake = FakeOpenAI(API_KEY)
    book = AnswerBook([*QUESTIONS, WARMUP])
    fake.chat_replies = book
    fake.script(*[pace.paced()] * scripted)
    fake.start()
    env = {
        "VOICEMODE_LLM_ENGINES": ENGINE,
        f"VOICEMODE_{ENGINE.upper()}_BASE_URL": fake.base_url,
        f"VOICEMODE_{ENGINE.upper()}_API_KEY": API_KEY,
        f"VOICEMODE_{ENGINE.upper()}_LLM_MODEL": "fake-40-tokens-per-s",
    }
    return fake, book, env


# ================================================================ the asker's microphone


@dataclass
class Mouth:
    """One continuous microphone stream, paced in real time: each chunk when its last sample is due.

    ``push`` sends one chunk (a WebSocket binary frame, a LiveKit audio frame);
    chunks are ``chunk_ms`` long (a random length in the range).
    """

    push: Callable[[bytes], Awaitable[None]]
    chunk_ms: tuple[int, int]
    clock: Callable[[], float]
    seed: int
    lag: list[float] = field(default_factory=list)
    _start: float | None = None
    _sent: int = 0  # samples
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def send(self, pcm: bytes) -> float:
        """Send ``pcm``; return when its last chunk went (its end of speech if it is trimmed)."""
        if self._start is None:
            self._start = self.clock()
        low, high = (ms * RATE // 1000 for ms in self.chunk_ms)
        total = len(pcm) // BYTES_PER_SAMPLE
        offset = 0
        sent_at = self.clock()
        while offset < total:
            count = min(total - offset, self._rng.randint(low, high))
            self._sent += count
            due = self._start + self._sent / RATE
            if (delay := due - self.clock()) > 0:
                await asyncio.sleep(delay)
            sent_at = self.clock()
            self.lag.append(sent_at - due)
            chunk = pcm[offset * BYTES_PER_SAMPLE : (offset + count) * BYTES_PER_SAMPLE]
            await self.push(chunk)
            offset += count
        return sent_at

    async def quiet_until(self, done: Callable[[], bool], limit_s: float) -> bool:
        """Send silence until ``done()`` (True) or ``limit_s`` passed (False)."""
        deadline = self.clock() + limit_s
        piece = silence(self.chunk_ms[0] / 1000, RATE)
        while not done():
            if self.clock() > deadline:
                return False
            await self.send(piece)
        return True


def question_audio(texts: Sequence[str]) -> dict[str, bytes]:
    """espeak-ng speech of each question, LINEAR16 16 kHz, trimmed to its first and last sound."""
    return {text: trimmed(text, RATE) for text in texts}


# ================================================================ WebSocket: what the asker got


@dataclass
class Answers:
    """The assistant's answers as the asker's WebSocket received them, timed (perf_counter)."""

    first_text: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    first_sentence: dict[str, float] = field(default_factory=dict)
    sentences: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: set[str] = field(default_factory=set)

    def note(self, now: float, frame: dict[str, Any]) -> None:
        """Keep what matters of one text frame (``voice.Conn.on_frame``)."""
        name = frame.get("event")
        data = frame.get("data", {})
        if name == "assistant-text":
            answer = data["answerId"]
            if answer not in self.first_text:
                self.first_text[answer] = now
                self.order.append(answer)
        elif name == "translated-message" and data.get("fromUserId") == ASSISTANT:
            answer = data.get("answerId")
            if answer is not None:
                self.first_sentence.setdefault(answer, now)
                self.sentences[answer].append(data["id"])
        elif name == "assistant-response":
            self.responses[data["answerId"]] = data
        elif name == "assistant-interrupted":
            self.interrupted.add(data["answerId"])

    def started_since(self, moment: float) -> list[str]:
        """The answers whose first text arrived after ``moment``, in order."""
        return [answer for answer in self.order if self.first_text[answer] >= moment]

    def all_heard_since(self, moment: float) -> bool:
        """Some answer started after ``moment``, and every such answer has its response."""
        started = self.started_since(moment)
        return bool(started) and all(answer in self.responses for answer in started)


@dataclass
class Asked:
    """One spoken question and what came back, in ms from its end of speech (None: never)."""

    question: str
    expected: str
    final_ms: float | None = None
    text_ms: float | None = None
    sentence_ms: float | None = None
    audio_ms: float | None = None
    first_token_ms: float | None = None  # the server's record: request -> first token
    total_ms: float | None = None  # the server's record: request -> the answer's end
    answered: str = ""
    error_code: str | None = None
    answers: int = 0  # answers that started while it was asked (2+: the VAD cut it in two)
    finals: int = 0
    unspoken: int = 0  # sentences of the answer with no audio (or an errorCode)
    interrupted: int = 0  # answers to it that were cut (the asker spoke over them)
    timed_out: bool = False


def judge_question(
    asked: Asked, conn: Conn, answers: Answers, began: float, eos: float, heard: bool
) -> Asked:
    """Fill ``asked`` from what the asker received between ``began`` and now."""
    asked.timed_out = not heard
    started = answers.started_since(began)
    asked.answers = len(started)
    asked.interrupted = sum(1 for answer in started if answer in answers.interrupted)
    after = [answer for answer in started if answers.first_text[answer] > eos]
    answer = next(iter(after or started), None)
    if answer is None:
        return asked
    first_text = answers.first_text[answer]
    finals = [t for t, _, _ in conn.finals if began <= t <= first_text]
    asked.finals = len(finals)
    if finals:
        asked.final_ms = (finals[-1] - eos) * 1000
    asked.text_ms = (first_text - eos) * 1000
    if answer in answers.first_sentence:
        asked.sentence_ms = (answers.first_sentence[answer] - eos) * 1000
    ids = answers.sentences.get(answer, [])
    audio = [conn.first_audio[i] for i in ids if i in conn.first_audio]
    if audio:
        asked.audio_ms = (min(audio) - eos) * 1000
    asked.unspoken = sum(
        1
        for i in ids
        if i not in conn.first_audio or (i in conn.speech_end and conn.speech_end[i][2])
    )
    response = answers.responses.get(answer)
    if response is not None:
        asked.first_token_ms = float(response["firstTokenMs"])
        asked.total_ms = float(response["totalMs"])
        asked.answered = response["answer"]
        asked.error_code = response.get("errorCode")
    return asked


# ================================================================ WebSocket: one serve


@dataclass
class PathOutcome:
    """One path's run (streamed or whole-reply WebSocket, or LiveKit)."""

    label: str
    asked: list[Asked] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    server_hwm: int = 0

    def values(self, key: str) -> list[float]:
        """One step's figures over the questions that have it."""
        found = [getattr(asked, key) for asked in self.asked]
        return sorted(value for value in found if value is not None)

    def p(self, key: str, q: float) -> float:
        """A percentile of one step."""
        return percentile(self.values(key), q)


async def ask_over_websocket(
    server: ServedInstance,
    questions: Sequence[tuple[str, str]],
    audio: dict[str, bytes],
    outcome: PathOutcome,
    seed: int,
) -> None:
    """The asker joins, starts speech in assistant mode, asks the warm-up, then each question."""
    tasks: list[asyncio.Task[None]] = []
    conn = await open_conn(server, "asker", LANGUAGE, "assistant-bench", "deflate", tasks)
    answers = Answers()
    conn.on_frame = answers.note
    try:
        reply = await conn.request("start-speech", {**START_SPEECH, "assistant": True})
        if reply.get("event") != "ack":
            raise RuntimeError(f"start-speech refused: {reply}")

        async def push(chunk: bytes) -> None:
            await conn.ws.send(chunk)

        mouth = Mouth(push, (20, 40), time.perf_counter, seed)
        await mouth.send(silence(0.5, RATE))
        for index, (question, expected) in enumerate([WARMUP, *questions]):
            began = time.perf_counter()
            eos = await mouth.send(audio[question])
            heard = await mouth.quiet_until(
                functools.partial(answers.all_heard_since, began), ANSWER_LIMIT_S
            )
            await mouth.send(silence(SETTLE_S, RATE))
            asked = judge_question(Asked(question, expected), conn, answers, began, eos, heard)
            if index == 0:
                warm = asked.audio_ms
                outcome.notes.append(f"warm-up question: first audio after {ms(warm)}")
                mouth.lag.clear()
                continue
            outcome.asked.append(asked)
            print(f"    {question!r}: {step_line(asked)}", flush=True)
        outcome.lag_ms = [lag * 1000 for lag in mouth.lag]
        with contextlib.suppress(Exception):
            await conn.request("stop-speech", {}, timeout=30)
    finally:
        outcome.errors = dict(conn.errors)
        if conn.closed not in (None, "closed"):
            outcome.closed.append(str(conn.closed))
        with contextlib.suppress(Exception):
            await conn.ws.close()
        for task in tasks:
            task.cancel()


def run_websocket(
    label: str,
    stream_speech: bool,
    model_env: dict[str, str],
    questions: Sequence[tuple[str, str]],
    audio: dict[str, bytes],
    workdir: Path,
    seed: int,
) -> PathOutcome:
    """One ``voicemode serve`` with the fake model; the asker asks every question."""
    env = {
        "VOICEMODE_SPEECH": "on",
        "VOICEMODE_STT_ENGINES": "faster-whisper",
        "VOICEMODE_TTS_ENGINES": "espeak-ng",
        "VOICEMODE_TRANSLATION_ENGINES": "identity",
        "VOICEMODE_ASSISTANT_STREAM_SPEECH": "on" if stream_speech else "off",
        **model_env,
    }
    outcome = PathOutcome(label)
    server = ServedInstance(db=str(workdir / f"{label}.db"), env=env)
    began = time.perf_counter()
    server.start()
    outcome.notes.append(f"server listening after {time.perf_counter() - began:.1f} s")
    try:
        asyncio.run(ask_over_websocket(server, questions, audio, outcome, seed))
        assert server.process is not None
        outcome.server_hwm = proc_status(server.process.pid, "VmHWM")
    finally:
        server.stop()
    outcome.log_problems = [
        line
        for line in server.output().splitlines()
        if "WARNING" in line or "ERROR" in line or "Traceback" in line
    ]
    return outcome


# ================================================================ reporting


def ms(value: float | None) -> str:
    """A duration in ms for printing (``-`` when there is none)."""
    return num(math.nan if value is None else value, ".0f", " ms")


def step_line(asked: Asked) -> str:
    """One question's steps from its end of speech."""
    return (
        f"final {ms(asked.final_ms)}, text {ms(asked.text_ms)}, sentence "
        f"{ms(asked.sentence_ms)}, audio {ms(asked.audio_ms)} (model's first token "
        f"{ms(asked.first_token_ms)}, whole answer {ms(asked.total_ms)})"
    )


STEPS = (
    ("final_ms", "end of speech -> recognized-speech (final)"),
    ("text_ms", "end of speech -> first assistant-text"),
    ("sentence_ms", "end of speech -> first answer sentence (translated-message)"),
    ("audio_ms", "end of speech -> first audio byte of the answer"),
    ("first_token_ms", "server: request -> the model's first token"),
    ("total_ms", "server: request -> the model's last token"),
)


def fmt(values: Sequence[float]) -> str:
    """p50 / p90 / max of sorted ms values."""
    if not values:
        return "none"
    return (
        f"p50 {percentile(values, 50):.0f} ms, p90 {percentile(values, 90):.0f} ms, "
        f"max {values[-1]:.0f} ms (n={len(values)})"
    )


def report_path(outcome: PathOutcome, max_lag_ms: float) -> None:
    """Print one path's figures and what went wrong in it."""
    for note in outcome.notes:
        print(f"  {note}")
    for key, name in STEPS:
        if outcome.values(key):
            print(f"  {name:<62} {fmt(outcome.values(key))}")
    if outcome.values("audio_ms"):
        print(f"    steps (p50): {steps_p50(outcome)}")
    lag = sorted(outcome.lag_ms)
    if lag:
        print(
            f"  send lag p50 {percentile(lag, 50):.1f} ms, p90 {percentile(lag, 90):.1f} ms "
            f"(bound {max_lag_ms:.0f} ms)"
        )
    if outcome.server_hwm:
        print(f"  server VmHWM {outcome.server_hwm / 2**20:.0f} MB")
    for line in outcome.log_problems[:3]:
        print(f"  server log: {line[:200]}")


def steps_p50(outcome: PathOutcome) -> str:
    """The p50 of each step between consecutive stages measured (final, text, sentence, audio)."""
    stages = [
        (key, label)
        for key, label in (
            ("final_ms", "final"),
            ("text_ms", "text"),
            ("sentence_ms", "sentence"),
            ("audio_ms", "audio"),
        )
        if outcome.values(key)
    ]
    parts = []
    for (a, a_label), (b, b_label) in itertools.pairwise(stages):
        gaps = sorted(
            getattr(x, b) - getattr(x, a)
            for x in outcome.asked
            if getattr(x, a) is not None and getattr(x, b) is not None
        )
        parts.append(f"{a_label} -> {b_label} {num(percentile(gaps, 50), '.0f', ' ms')}")
    return "; ".join(parts) or "-"


def problems(outcome: PathOutcome, max_lag_ms: float) -> list[str]:
    """What makes a path's figures invalid (nothing: valid)."""
    found: list[str] = []
    label = outcome.label
    if not outcome.asked:
        found.append(f"{label}: no question was asked")
    for asked in outcome.asked:
        if asked.timed_out:
            found.append(f"{label}: {asked.question!r} not answered within {ANSWER_LIMIT_S:g} s")
        elif asked.audio_ms is None:
            found.append(f"{label}: {asked.question!r}: no audio of the answer")
        if asked.error_code:
            found.append(f"{label}: {asked.question!r}: answer ended with {asked.error_code}")
        if asked.unspoken:
            found.append(f"{label}: {asked.question!r}: {asked.unspoken} sentence(s) unspoken")
        if asked.interrupted:
            found.append(f"{label}: {asked.question!r}: its answer was interrupted")
        if asked.answers > 1:
            found.append(
                f"{label}: {asked.question!r} was answered {asked.answers} times (the VAD cut it)"
            )
    if outcome.errors:
        found.append(f"{label}: error frames {outcome.errors}")
    if outcome.closed:
        found.append(f"{label}: connection closed early: {outcome.closed[:2]}")
    lag = sorted(outcome.lag_ms)
    if lag and percentile(lag, 90) > max_lag_ms:
        found.append(
            f"{label}: generator fell behind (send lag p90 {percentile(lag, 90):.0f} ms > "
            f"{max_lag_ms:.0f} ms): not a system figure"
        )
    return found


# ================================================================ the embedded model


@dataclass
class Embedded:
    """SmolLM2 in this process: load, first token, tokens/s, memory."""

    load_s: float
    cold_first_token_ms: float  # the first question after loading, not in the others
    first_token_ms: list[float]
    tokens_per_s: list[float]
    tokens_out: list[int]
    rss_before: int
    rss_loaded: int
    rss_answered: int
    examples: list[tuple[str, str]]


def embedded_model(questions: Sequence[str], max_tokens: int) -> Embedded:
    """Load SmolLM2 as ``serve`` does and ask it each question alone, timed."""
    from actors.assistant.context import DEFAULT_SYSTEM_PROMPT  # noqa: PLC0415
    from adapters.engines.llm import engines as llm  # noqa: PLC0415
    from adapters.engines.llm.base import Conversation, Turn  # noqa: PLC0415

    pid = os.getpid()
    rss_before = proc_status(pid, "VmRSS")
    began = time.perf_counter()
    registry = llm.build(["smollm2"], timeout_s=60)
    load_s = time.perf_counter() - began
    rss_loaded = proc_status(pid, "VmRSS")
    first: list[float] = []
    rates: list[float] = []
    tokens: list[int] = []
    examples: list[tuple[str, str]] = []
    cold = math.nan
    try:
        for index, question in enumerate([WARMUP[0], *questions]):
            chat = Conversation(DEFAULT_SYSTEM_PROMPT, (Turn("user", question),), max_tokens)
            asked = time.perf_counter()
            stream = registry.reply(chat)
            first_at: float | None = None
            for _ in stream:
                if first_at is None:
                    first_at = time.perf_counter()
            ended = time.perf_counter()
            reply = stream.reply()
            if first_at is None or not reply.tokens_out:
                continue
            if index == 0:
                cold = (first_at - asked) * 1000
                continue
            first.append((first_at - asked) * 1000)
            tokens.append(reply.tokens_out)
            if reply.tokens_out > 1 and ended > first_at:
                rates.append((reply.tokens_out - 1) / (ended - first_at))
            examples.append((question, reply.text.strip()))
        rss_answered = proc_status(pid, "VmRSS")
    finally:
        registry.close()
    return Embedded(
        load_s, cold, first, rates, tokens, rss_before, rss_loaded, rss_answered, examples
    )


# ================================================================ main


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run each path, judge, print the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--questions", type=int, default=len(QUESTIONS), help=f"per path (1-{len(QUESTIONS)})"
    )
    parser.add_argument("--first-token-ms", type=float, default=300.0)
    parser.add_argument("--tokens-per-s", type=float, default=40.0)
    parser.add_argument(
        "--livekit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also over LiveKit (default: yes, but not with --smoke)",
    )
    parser.add_argument("--embedded-questions", type=int, default=5)
    parser.add_argument(
        "--max-send-lag-ms",
        type=float,
        default=20.0,
        help="a path whose microphone chunks went out later than this (p90) is refused",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (stores, logs)")
    common.add_smoke_flag(parser, "2 questions, WebSocket only")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    if args.livekit is None:
        args.livekit = not args.smoke
    if not 1 <= args.questions <= len(QUESTIONS):
        parser.error(f"--questions must be 1-{len(QUESTIONS)}")

    heading("bench/assistant.py: spoken question -> answer's first audio" + " (smoke)" * args.smoke)
    verdicts = common.Verdicts("assistant")
    print(
        machine_note("the clients, the fake model, the servers and the embedded model share them")
    )
    questions = list(QUESTIONS[: args.questions])
    answers = [answer for _, answer in questions]
    pace = Pace.for_answers(answers, args.first_token_ms, args.tokens_per_s)
    audio = question_audio([WARMUP[0], *(q for q, _ in questions)])
    tokens = [len(a) / CHARS_PER_TOKEN for a in answers]
    print(
        f"Fake model: first token {args.first_token_ms:.0f} ms after the request, then one word "
        f"per chunk every {pace.word_interval_s * 1000:.1f} ms = {args.tokens_per_s:g} tokens/s "
        f"(a token = {CHARS_PER_TOKEN:g} characters); answers of 3 sentences, "
        f"{statistics_line([len(a.split()) for a in answers], 'words')}, "
        f"{statistics_line([round(t) for t in tokens], 'tokens')}; the first sentence complete "
        f"{fmt(sorted(pace.first_sentence_ms(a) for a in answers))} after the request, the "
        f"whole answer {fmt(sorted(pace.whole_ms(a) for a in answers))}"
    )
    spoken = [len(audio[q]) / BYTES_PER_SAMPLE / RATE for q, _ in questions]
    print(
        f"Questions: {len(questions)} espeak-ng sentences ({sum(spoken):.1f} s of speech), "
        "LINEAR16 16 kHz paced in real time; the asker waits for each answer's "
        "assistant-response before the next question."
    )
    load = common.OtherLoad()
    workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-assistant-"))
    print(f"Work dir (stores, server logs): {workdir}", flush=True)
    fake, book, model_env = start_model(pace, 1000)
    outcomes: dict[str, PathOutcome] = {}
    try:
        for label, stream_speech, title in (
            ("streamed", True, "WebSocket, speech starts after the first sentence (default)"),
            ("whole", False, "baseline: WebSocket, VOICEMODE_ASSISTANT_STREAM_SPEECH=off"),
        ):
            heading(title, "-")
            outcome = run_websocket(
                label, stream_speech, model_env, questions, audio, workdir, args.seed
            )
            report_path(outcome, args.max_send_lag_ms)
            outcomes[label] = outcome
        if args.livekit:
            from assistant_livekit import run_livekit  # noqa: PLC0415

            heading("LiveKit: voice session with assistant: true, answer on tts-en", "-")
            outcome = run_livekit(model_env, questions, audio, workdir, args.seed)
            report_path(outcome, args.max_send_lag_ms)
            outcomes["livekit"] = outcome
    finally:
        fake.stop()
    unmatched = [heard for heard, question in book.asked if question is None]
    if unmatched:
        print(
            f"  note: {len(unmatched)} of {len(book.asked)} requests matched no question (the "
            f"recognizer misheard it; the fake gave its default answer): {unmatched[:3]}"
        )

    heading(
        f"embedded model: SmolLM2-135M in this process, {args.embedded_questions} questions", "-"
    )
    embedded = embedded_model(
        [q for q, _ in (QUESTIONS * 2)[: args.embedded_questions]], EMBEDDED_MAX_TOKENS
    )
    report_embedded(embedded)

    for outcome in outcomes.values():
        for problem in problems(outcome, args.max_send_lag_ms):
            verdicts.fail(problem)
    heading("Summary", "-")
    rows = summary_rows(outcomes, embedded, args)
    print(common.markdown_table(rows))
    judge(outcomes, embedded, args, verdicts)
    if args.keep or any(o.log_problems for o in outcomes.values()):
        print(f"Kept the work dir (stores and server logs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    machine_load = load.report()
    print(machine_load)
    common.write_results(
        args.results,
        rows,
        {
            "machine_load": machine_load,
            "paths": {
                label: {key: outcome.values(key) for key, _ in STEPS}
                for label, outcome in outcomes.items()
            },
            "failures": verdicts.failures,
            "goals": verdicts.goals,
        },
    )
    return verdicts.finish()


def statistics_line(values: Sequence[int], unit: str) -> str:
    """``min-max unit (mean m)``."""
    return f"{min(values)}-{max(values)} {unit} (mean {sum(values) / len(values):.0f})"


def report_embedded(embedded: Embedded) -> None:
    """Print the embedded model's figures."""
    mb = 2**20
    before, loaded, answered = (
        embedded.rss_before / mb,
        embedded.rss_loaded / mb,
        embedded.rss_answered / mb,
    )
    print(
        f"  load (engines.build(['smollm2'])): {embedded.load_s:.2f} s; first question after "
        f"it: first token {ms(embedded.cold_first_token_ms)}; then time to first token "
        f"{fmt(sorted(embedded.first_token_ms))}; "
        f"{fmt_rate(embedded.tokens_per_s)} over {sum(embedded.tokens_out)} tokens"
    )
    print(
        f"  VmRSS {before:.0f} MB before loading, {loaded:.0f} MB loaded "
        f"(+{loaded - before:.0f} MB), {answered:.0f} MB after answering "
        f"(+{answered - before:.0f} MB)"
    )
    for question, answer in embedded.examples[:2]:
        print(f"    e.g. {question!r} -> {answer[:120]!r}")


def fmt_rate(rates: Sequence[float]) -> str:
    """Tokens/s p50 and range."""
    if not rates:
        return "no tokens/s (no answer had 2 tokens)"
    ordered = sorted(rates)
    return f"{percentile(ordered, 50):.0f} tokens/s p50 ({ordered[0]:.0f}-{ordered[-1]:.0f})"


def embedded_figures(embedded: Embedded) -> tuple[float, float, float]:
    """First token p50 (ms), tokens/s p50, RSS added after answering (MB)."""
    return (
        percentile(sorted(embedded.first_token_ms), 50),
        percentile(sorted(embedded.tokens_per_s), 50),
        (embedded.rss_answered - embedded.rss_before) / 2**20,
    )


GOALS_MS = {"streamed": 300.0, "livekit": 450.0}
"""The goal of each path: end of speech -> first answer audio p50 <= first token + this."""


def judge(
    outcomes: dict[str, PathOutcome],
    embedded: Embedded,
    args: argparse.Namespace,
    verdicts: common.Verdicts,
) -> None:
    """The goal verdicts, and failures for headlines that were not measured."""
    whole = outcomes["whole"].p("audio_ms", 50)
    verdicts.finite("baseline end of speech -> first answer audio p50", whole)
    for label, margin in GOALS_MS.items():
        if label not in outcomes:
            continue
        p50 = outcomes[label].p("audio_ms", 50)
        goal = args.first_token_ms + margin
        where = "WebSocket" if label == "streamed" else "LiveKit"
        compared = (
            f"baseline, whole reply then speech: {num(whole)} ms"
            if label == "streamed"
            else f"WebSocket, same model: {num(outcomes['streamed'].p('audio_ms', 50))} ms"
        )
        if verdicts.finite(f"{where}: end of speech -> first answer audio p50", p50):
            verdicts.goal(
                f"end of speech -> first answer audio p50, {where} (first token "
                f"{args.first_token_ms:.0f} ms + {margin:.0f} ms)",
                p50 <= goal,
                f"{p50:.0f} ms (goal <= {goal:.0f} ms; {compared})",
            )
    first, rate, added = embedded_figures(embedded)
    for name, value in (("first token", first), ("tokens/s", rate), ("RSS added", added)):
        verdicts.finite(f"embedded smollm2 {name}", value)
    print(
        f"embedded smollm2: load {embedded.load_s:.2f} s, first token p50 {num(first)} ms, "
        f"{num(rate)} tokens/s, RSS +{num(added)} MB"
    )


def summary_rows(
    outcomes: dict[str, PathOutcome], embedded: Embedded, args: argparse.Namespace
) -> list[Row]:
    """The combined table's rows."""
    rows: list[Row] = []
    whole = outcomes.get("whole")
    base = (
        f"{ms(whole.p('audio_ms', 50))} p50 (p90 {ms(whole.p('audio_ms', 90))}): whole reply, "
        "then speech"
        if whole
        else "-"
    )
    for label, margin in GOALS_MS.items():
        outcome = outcomes.get(label)
        if outcome is None:
            continue
        where = "WebSocket" if label == "streamed" else "LiveKit (tts-en track, first loud audio)"
        rows.append(
            Row(
                "assistant",
                f"end of speech -> first answer audio p50, {where}",
                f"<= {args.first_token_ms + margin:.0f} ms (first token "
                f"{args.first_token_ms:.0f} + {margin:.0f})",
                f"{ms(outcome.p('audio_ms', 50))} (p90 {ms(outcome.p('audio_ms', 90))}; "
                f"{steps_p50(outcome)})",
                base if label == "streamed" else "-",
            )
        )
    first, rate, added = embedded_figures(embedded)
    rows.append(
        Row(
            "assistant",
            "embedded SmolLM2-135M (llama-cpp, 2 threads): load, first token p50, tokens/s, RSS",
            "-",
            f"{embedded.load_s:.2f} s, {num(first)} ms, {num(rate)} tokens/s, +{num(added)} MB",
            f"fake hosted model: {args.first_token_ms:.0f} ms, {args.tokens_per_s:g} tokens/s",
        )
    )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
