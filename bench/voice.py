"""Voice latency of ``voicemode serve`` in real time, over real WebSocket clients.

``voicemode serve`` runs as a subprocess with its embedded speech engines
(``VOICEMODE_SPEECH=on``: Silero VAD, faster-whisper tiny.en, espeak-ng) and
Apertium, on a fresh SQLite store. For each speaker there is one room with the
speaker (en) and one listener who hears Spanish. Each speaker streams
espeak-ng English sentences as LINEAR16 16 kHz in 20-40 ms chunks, paced in
real time (a chunk is sent when its last sample would have been captured),
with ``--gap`` (1 s) of silence after each sentence. Speakers start staggered
and speak the sentences in rotated order, as independent people would.

End of speech is the time the chunk holding the sentence's last non-silent
sample was sent (espeak-ng's own silence is trimmed, so this is known from the
audio). From it, on one monotonic clock:

* final: the ``recognized-speech`` at the speaker (goal p50 <= 300 ms);
* translation: the ``translated-message`` at the Spanish listener (goal p50 <= 400 ms);
* audio: the first binary frame after the ``synthesized-speech`` header of that
  id at the listener (goal p50 <= 600 ms);
* caption gaps: time between consecutive ``partial-speech`` frames of one
  utterance at the listener while the sentence is being spoken (goal <= 700 ms);
* the word error rate of the final transcripts against the sentences.

Each final transcript is matched to its sentence by order and words (a sentence
the VAD cut in two gets two finals; the latency is the last one's). Runs with
1, 2, 4 and 6 simultaneous speakers (``--speakers``) tell how many the machine
sustains in real time: a run keeps up when every sentence got its final, its
translation (without errorCode) and its synthesized audio, p90 end of speech ->
final is below ``--keep-up-ms`` (1 s) and -> translation and -> audio below
``--keep-up-audio-ms`` (2 s), and the server reported no dropped audio
(``audio_too_fast``, ``audio_overflow``, ``audio_rate_limited``). A run whose
speakers sent their chunks late (p90 over ``--max-send-lag-ms``) is refused:
the generator fell behind, so it is not a system figure; when that is the
headline run (the fewest speakers) the bench fails (exit 1).

Baseline, measured in the same run, in-process, before any server runs:
what end of speech -> final would cost without incremental decoding. The same
chunks go through the same VAD (Silero + ``SpeechSegmenter`` defaults) to find
when the segmenter closes each utterance (its ``min_silence_ms`` wait), and the
whole utterance it produced is then transcribed once with
``RecognizerRegistry([FasterWhisperRecognizer()]).transcribe``, the text
translated by the same engine as the server (``--translation``) and the
translation synthesized by espeak-ng, each timed. Baselines, all measured:
final = VAD wait + decode; translation = that + translation; audio = that +
time to the first synthesized chunk. The VAD wait (measured, not the
``min_silence_ms`` setting) is reported on its own too: it is in both paths.

    .venv/bin/python bench/voice.py                             # 1, 2, 4, 6 speakers x 10 sentences
    .venv/bin/python bench/voice.py --speakers 1,2 --sentences 4
    .venv/bin/python bench/voice.py --smoke                     # 1 speaker, 2 sentences
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import numpy as np
import orjson
from common import Row, heading, machine_note, num, percentile
from delivery import proc_status
from websockets.asyncio.client import ClientConnection, connect

from tests.support.service import ServedInstance
from tests.support.speech import normalize_words, silence, trimmed, word_error_rate

RATE = 16000
BYTES_PER_SAMPLE = 2
SENTENCES = (
    "Good morning everyone, thank you for joining the call today.",
    "The new version of the app is ready for testing.",
    "Could you send me the report before the end of the week?",
    "I think the weather will be better tomorrow afternoon.",
    "Please remember to lock the door when you leave the office.",
    "The train to the city was late again this morning.",
    "We should ask the team what they think about the plan.",
    "My sister lives in a small house near the river.",
    "Let us meet again next Monday to review the results.",
    "The children played in the garden until it was dark.",
)
WARMUP_SENTENCE = "Hello, this is a short warm up before the measurement."
LEAD_S = 0.5  # silence before the first sentence
LISTENER_LANG = "es"
SPEAKER_LANG = "en"
DROPPED_AUDIO = ("audio_too_fast", "audio_overflow", "audio_rate_limited")
MATCH_MIN = 0.34  # share of a final's words that must be in its sentence
TRANSLATION_TIMEOUT_S = 3.0  # as ``voicemode serve`` by default
SMOKE = {
    "speakers": "1",
    "sentences": 2,
    "baseline_repeats": 1,
    "drain": 8.0,
    "max_send_lag_ms": 100.0,
}
"""What ``--smoke`` sets: one speaker, two sentences; a looser send-lag bound so a busy CI
machine does not refuse the run (the full bench keeps 20 ms)."""


# ================================================================ the audio each speaker sends


@dataclass
class PlannedSentence:
    """One sentence in a speaker's stream: which chunks hold its first and last sound."""

    text: str
    words: list[str]
    first_chunk: int
    last_chunk: int  # the chunk with the last non-silent sample: its send is end of speech
    first_sample: int
    end_sample: int  # one past the last non-silent sample
    speech_s: float


@dataclass
class Plan:
    """A speaker's whole stream, cut into chunks with their due times (stream seconds)."""

    chunks: list[bytes]
    due_s: list[float]  # when the chunk's last sample would have been captured
    sentences: list[PlannedSentence]
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / BYTES_PER_SAMPLE / RATE


def sentence_audio(texts: list[str]) -> dict[str, bytes]:
    """espeak-ng speech of each text, LINEAR16 16 kHz, trimmed to its first and last sound."""
    return {text: trimmed(text, RATE) for text in texts}


def make_plan(
    order: list[str], audio: dict[str, bytes], gap_s: float, chunk_ms: tuple[int, int], seed: int
) -> Plan:
    pcm = bytearray(silence(LEAD_S, RATE))
    spans: list[tuple[str, int, int]] = []
    for text in order:
        start = len(pcm) // BYTES_PER_SAMPLE
        pcm += audio[text]
        spans.append((text, start, len(pcm) // BYTES_PER_SAMPLE))
        pcm += silence(gap_s, RATE)
    rng = random.Random(seed)
    low, high = (ms * RATE // 1000 for ms in chunk_ms)
    bounds = [0]
    total = len(pcm) // BYTES_PER_SAMPLE
    while bounds[-1] < total:
        bounds.append(min(total, bounds[-1] + rng.randint(low, high)))
    chunks = [
        bytes(pcm[a * BYTES_PER_SAMPLE : b * BYTES_PER_SAMPLE])
        for a, b in itertools.pairwise(bounds)
    ]
    due = [b / RATE for b in bounds[1:]]
    ends = np.array(bounds[1:])

    def chunk_of(sample: int) -> int:
        return int(np.searchsorted(ends, sample, side="right"))

    sentences = [
        PlannedSentence(
            text,
            normalize_words(text),
            chunk_of(start),
            chunk_of(end - 1),
            start,
            end,
            (end - start) / RATE,
        )
        for text, start, end in spans
    ]
    return Plan(chunks, due, sentences, bytes(pcm))


# ================================================================ baseline (in-process)


@dataclass
class Baseline:
    vad_wait_ms: list[float]  # end-of-speech chunk sent -> chunk after which the VAD closed it
    pause_ms: list[float]  # end-of-speech chunk sent -> UtterancePaused (the forced decode starts)
    decode_ms: list[float]  # whole utterance, one decode, no server running
    decode_cpu_s: list[float]
    translate_ms: list[float]  # the decoded text, translated by the same engine (in-process)
    synth_first_ms: list[float]  # the translation, synthesized: time to its first audio chunk
    wer: float
    words: int
    splits: int
    min_silence_ms: int
    end_padding_ms: int
    window_ms: float
    speech_s: float
    stream_s: float
    texts: list[str]


def run_baseline(plan: Plan, repeats: int, translation: str) -> Baseline:
    """Replay the stream through the server's VAD, then transcribe each utterance whole.

    Each decoded text is then translated by the same engine the server uses and the
    translation synthesized by espeak-ng (time to its first audio chunk), one after
    the other, in-process: the same three steps as the server, with no server.
    """
    from adapters.engines.audio.decoders import open_decoder  # noqa: PLC0415
    from adapters.engines.stt.registry import RecognizerRegistry  # noqa: PLC0415
    from adapters.engines.stt.whisper import FasterWhisperRecognizer  # noqa: PLC0415
    from adapters.engines.translation import engines as translation_engines  # noqa: PLC0415
    from adapters.engines.tts.espeak import EspeakSynthesizer  # noqa: PLC0415
    from adapters.engines.tts.registry import SynthesizerRegistry  # noqa: PLC0415
    from adapters.engines.vad import (  # noqa: PLC0415
        SegmenterConfig,
        SpeechSegmenter,
        UtteranceAudio,
        UtteranceClosed,
        UtteranceOpened,
        UtterancePaused,
    )
    from adapters.engines.vad.silero import SileroDetector  # noqa: PLC0415

    config = SegmenterConfig()
    detector = SileroDetector()
    segmenter = SpeechSegmenter(detector, config)
    decoder = open_decoder("LINEAR16", RATE)
    utterances: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for index, chunk in enumerate(plan.chunks):
        for event in segmenter.push(decoder.feed(chunk)):
            if isinstance(event, UtteranceOpened):
                current = {"start_ms": event.start_ms, "audio": [event.audio], "paused": None}
            elif isinstance(event, UtteranceAudio) and current is not None:
                current["audio"].append(event.audio)
            elif isinstance(event, UtterancePaused) and current is not None:
                current["paused"] = index
            elif isinstance(event, UtteranceClosed) and current is not None:
                current |= {"end_ms": event.end_ms, "ended": index}
                utterances.append(current)
                current = None
    for event in segmenter.finish():
        if isinstance(event, UtteranceClosed) and current is not None:
            current |= {"end_ms": event.end_ms, "ended": len(plan.chunks) - 1}
            utterances.append(current)
            current = None

    # each utterance belongs to the sentence it overlaps most
    by_sentence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for utterance in utterances:
        a = utterance["start_ms"] * RATE // 1000
        b = utterance["end_ms"] * RATE // 1000
        overlaps = [max(0, min(b, s.end_sample) - max(a, s.first_sample)) for s in plan.sentences]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0:
            by_sentence[best].append(utterance)

    recognizers = RecognizerRegistry([FasterWhisperRecognizer()])
    translators = translation_engines.build([translation], TRANSLATION_TIMEOUT_S)
    synthesizers = SynthesizerRegistry([EspeakSynthesizer()])

    def first_chunk_ms(text: str) -> float:
        began = time.perf_counter()
        synthesis = synthesizers.synthesize(text, LISTENER_LANG)
        first = next(synthesis.chunks, None)
        elapsed = (time.perf_counter() - began) * 1000
        for _ in synthesis.chunks:  # let the engine finish, as the server's does
            pass
        return elapsed if first else math.nan

    try:
        warm = np.concatenate(by_sentence[0][0]["audio"]) if by_sentence else np.zeros(RATE)
        warm_text = recognizers.transcribe(warm.astype(np.float32), SPEAKER_LANG).text  # load
        first_chunk_ms(
            translators.translate(warm_text or "hello", SPEAKER_LANG, LISTENER_LANG).text
        )
        vad_wait, pause, decode, decode_cpu, texts = [], [], [], [], []
        translate: list[float] = []
        synth_first: list[float] = []
        edits = words = 0.0
        splits = 0
        for index, sentence in enumerate(plan.sentences):
            parts = by_sentence.get(index, [])
            if not parts:
                texts.append("")
                edits += len(sentence.words)
                words += len(sentence.words)
                continue
            splits += len(parts) - 1
            last = parts[-1]
            eos_due = plan.due_s[sentence.last_chunk]
            vad_wait.append((plan.due_s[last["ended"]] - eos_due) * 1000)
            if last["paused"] is not None:
                pause.append((plan.due_s[last["paused"]] - eos_due) * 1000)
            audio = np.concatenate([a for part in parts for a in part["audio"]]).astype(np.float32)
            times, cpus = [], []
            text = ""
            for _ in range(repeats):
                cpu0 = _own_cpu()
                began = time.perf_counter()
                text = recognizers.transcribe(audio, SPEAKER_LANG).text
                times.append((time.perf_counter() - began) * 1000)
                cpus.append(_own_cpu() - cpu0)
            decode.append(statistics.median(times))
            decode_cpu.append(statistics.median(cpus))
            texts.append(text)
            began = time.perf_counter()
            translated = translators.translate(text, SPEAKER_LANG, LISTENER_LANG).text
            translate.append((time.perf_counter() - began) * 1000)
            synth_first.append(first_chunk_ms(translated))
            edits += word_error_rate(sentence.text, text) * len(sentence.words)
            words += len(sentence.words)
    finally:
        recognizers.close()
    return Baseline(
        vad_wait,
        pause,
        decode,
        decode_cpu,
        translate,
        synth_first,
        edits / max(1.0, words),
        int(words),
        splits,
        config.min_silence_ms,
        config.end_padding_ms,
        detector.window_samples * 1000 / RATE,
        sum(s.speech_s for s in plan.sentences),
        plan.seconds,
        texts,
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ================================================================ WebSocket clients


@dataclass
class Conn:
    user: str
    ws: ClientConnection
    waiters: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    finals: list[tuple[float, str, str]] = field(default_factory=list)  # (t, id, text)
    partials: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    translations: dict[str, tuple[float, str, str | None]] = field(default_factory=dict)
    headers: dict[str, float] = field(default_factory=dict)
    first_audio: dict[str, float] = field(default_factory=dict)
    speech_end: dict[str, tuple[float, int, str | None]] = field(default_factory=dict)
    audio_bytes: int = 0
    closed: str | None = None
    progress: float = 0.0
    on_frame: Callable[[float, dict[str, Any]], None] | None = None
    """Also shown every text frame with its arrival time (benches that need more of them)."""
    _speaking_id: str | None = None
    _refs: int = 0

    async def request(
        self, event: str, data: dict[str, Any], timeout: float = 60.0
    ) -> dict[str, Any]:
        self._refs += 1
        ref = f"{self.user}-{self._refs}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[ref] = waiter
        await self.ws.send(orjson.dumps({"event": event, "data": data, "ref": ref}).decode())
        return await asyncio.wait_for(waiter, timeout)


async def read(conn: Conn) -> None:
    clock = time.perf_counter
    try:
        async for message in conn.ws:
            now = clock()
            conn.progress = now
            if isinstance(message, bytes):
                conn.audio_bytes += len(message)
                if conn._speaking_id is not None and conn._speaking_id not in conn.first_audio:
                    conn.first_audio[conn._speaking_id] = now
                continue
            frame = orjson.loads(message)
            if conn.on_frame is not None:
                conn.on_frame(now, frame)
            name = frame.get("event")
            data = frame.get("data", {})
            if name == "partial-speech":
                conn.partials[data["id"]].append(now)
            elif name == "recognized-speech":
                conn.finals.append((now, data["id"], data["text"]))
            elif name == "translated-message":
                conn.translations[data["id"]] = (now, data["translatedText"], data.get("errorCode"))
            elif name == "synthesized-speech":
                conn._speaking_id = data["id"]
                conn.headers[data["id"]] = now
            elif name == "synthesized-speech-end":
                conn.speech_end[data["id"]] = (
                    now,
                    data.get("durationMs", 0),
                    data.get("errorCode"),
                )
                conn._speaking_id = None
            elif name == "error":
                conn.errors[data.get("code", "?")] += 1
            ref = frame.get("ref")
            if ref is not None and ref in conn.waiters:
                waiter = conn.waiters.pop(ref)
                if not waiter.done():
                    waiter.set_result(frame)
    except Exception as error:
        conn.closed = repr(error)
    else:
        conn.closed = "closed"


async def open_conn(
    server: ServedInstance,
    user: str,
    lang: str,
    room: str,
    compression: str | None,
    tasks: list[asyncio.Task[None]],
) -> Conn:
    ws = await connect(
        f"{server.url}?token={server.token(user, lang=lang)}",
        compression=compression,
        max_queue=None,
        open_timeout=60,
        ping_interval=None,
    )
    conn = Conn(user, ws)
    tasks.append(asyncio.create_task(read(conn)))
    reply = await conn.request("join-room", {"roomCode": room})
    if reply.get("event") != "joined-room":
        raise RuntimeError(f"{user} could not join {room}: {reply}")
    return conn


START_SPEECH = {"languageCode": SPEAKER_LANG, "encoding": "LINEAR16", "sampleRateHertz": RATE}


async def speak(
    conn: Conn, plan: Plan, t_start: float, sent_at: list[float], lag: list[float]
) -> None:
    """Send the plan's chunks in real time; record when each was sent."""
    clock = time.perf_counter
    for chunk, due_s in zip(plan.chunks, plan.due_s, strict=True):
        due = t_start + due_s
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        now = clock()
        sent_at.append(now)
        lag.append(now - due)
        await conn.ws.send(chunk)
    reply = await conn.request("stop-speech", {}, timeout=120)
    if reply.get("event") != "ack":
        conn.errors[f"stop-speech: {reply.get('data', {}).get('code')}"] += 1


async def warm_up(server: ServedInstance, audio: bytes, compression: str | None) -> float:
    """One sentence through STT, translation and synthesis before anything is timed."""
    began = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    speaker = await open_conn(server, "warm-s", SPEAKER_LANG, "warmup", compression, tasks)
    listener = await open_conn(server, "warm-l", LISTENER_LANG, "warmup", compression, tasks)
    await speaker.request("start-speech", START_SPEECH)
    plan = make_plan([WARMUP_SENTENCE], {WARMUP_SENTENCE: audio}, 0.8, (40, 40), 0)
    await speak(speaker, plan, time.perf_counter(), [], [])
    deadline = time.perf_counter() + 60
    while not listener.speech_end and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    for conn in (speaker, listener):
        with contextlib.suppress(Exception):
            await conn.request("leave-room", {}, timeout=10)
        await conn.ws.close()
    for task in tasks:
        task.cancel()
    if not listener.speech_end:
        raise RuntimeError("warm-up: no synthesized speech within 60 s")
    return time.perf_counter() - began


# ================================================================ one run with N speakers


@dataclass
class SpeakerResult:
    final_ms: list[float] = field(default_factory=list)
    translation_ms: list[float] = field(default_factory=list)
    audio_ms: list[float] = field(default_factory=list)
    step_translation_ms: list[float] = field(default_factory=list)  # final -> translation
    step_audio_ms: list[float] = field(default_factory=list)  # translation -> first audio
    gaps_ms: list[float] = field(default_factory=list)
    first_caption_ms: list[float] = field(default_factory=list)
    lost: int = 0
    no_translation: int = 0
    no_audio: int = 0
    translation_errors: int = 0
    unmatched: list[str] = field(default_factory=list)
    splits: int = 0
    edits: float = 0.0
    words: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)


def attribute(
    finals: list[tuple[float, str, str]], plan: Plan, sent_at: list[float]
) -> tuple[dict[int, list[tuple[float, str, str]]], list[str]]:
    """Match each final transcript to the sentence it transcribes (in order, by its words)."""
    starts = [
        sent_at[s.first_chunk] if s.first_chunk < len(sent_at) else None for s in plan.sentences
    ]
    matched: dict[int, list[tuple[float, str, str]]] = defaultdict(list)
    unmatched: list[str] = []
    current = 0
    for final in finals:
        arrived, _, text = final
        words = normalize_words(text)
        best, best_score = None, 0.0
        for index in range(current, min(current + 3, len(plan.sentences))):
            start = starts[index]
            if start is None or start > arrived:
                break
            vocabulary = set(plan.sentences[index].words)
            score = sum(word in vocabulary for word in words) / max(1, len(words))
            if score > best_score + 1e-9:
                best, best_score = index, score
        if best is None or best_score < MATCH_MIN:
            unmatched.append(text)
            continue
        current = best
        matched[best].append(final)
    return matched, unmatched


def analyse(speaker: Conn, listener: Conn, plan: Plan, sent_at: list[float]) -> SpeakerResult:
    result = SpeakerResult()
    matched, result.unmatched = attribute(speaker.finals, plan, sent_at)
    for index, sentence in enumerate(plan.sentences):
        result.words += len(sentence.words)
        finals = matched.get(index, [])
        if not finals:
            result.lost += 1
            result.edits += len(sentence.words)
            continue
        result.splits += len(finals) - 1
        hypothesis = " ".join(text for _, _, text in finals)
        result.edits += word_error_rate(sentence.text, hypothesis) * len(sentence.words)
        if len(result.examples) < 3 and word_error_rate(sentence.text, hypothesis) > 0:
            result.examples.append((sentence.text, hypothesis))
        eos = sent_at[sentence.last_chunk]
        started = sent_at[sentence.first_chunk]
        final_at, final_id, _ = finals[-1]
        result.final_ms.append((final_at - eos) * 1000)
        translation = listener.translations.get(final_id)
        if translation is None:
            result.no_translation += 1
        else:
            result.translation_ms.append((translation[0] - eos) * 1000)
            result.step_translation_ms.append((translation[0] - final_at) * 1000)
            if translation[2]:
                result.translation_errors += 1
            audio_at = listener.first_audio.get(final_id)
            if audio_at is None:
                result.no_audio += 1
            else:
                result.audio_ms.append((audio_at - eos) * 1000)
                result.step_audio_ms.append((audio_at - translation[0]) * 1000)
        for _, utterance, _ in finals:
            times = sorted(listener.partials.get(utterance, []))
            speaking = [t for t in times if t <= eos]
            result.gaps_ms += [(b - a) * 1000 for a, b in itertools.pairwise(speaking)]
        first_partials = listener.partials.get(finals[0][1], [])
        if first_partials:
            result.first_caption_ms.append((min(first_partials) - started) * 1000)
    return result


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "max": ordered[-1] if ordered else float("nan"),
    }


def fmt(values: list[float], with_max: bool = True) -> str:
    s = stats(values)
    if not s["n"]:
        return "none"
    tail = f", max {s['max']:.0f}" if with_max else ""
    return f"p50 {s['p50']:.0f} ms, p90 {s['p90']:.0f} ms{tail} (n={s['n']})"


async def drive(
    server: ServedInstance,
    n: int,
    plans: list[Plan],
    args: argparse.Namespace,
    warm_audio: bytes,
) -> dict[str, Any]:
    compression = None if args.compression == "none" else "deflate"
    warm_s = await warm_up(server, warm_audio, compression)
    tasks: list[asyncio.Task[None]] = []
    speakers: list[Conn] = []
    listeners: list[Conn] = []
    for k in range(n):
        speakers.append(
            await open_conn(server, f"s{k}", SPEAKER_LANG, f"voice-{k}", compression, tasks)
        )
        listeners.append(
            await open_conn(server, f"l{k}", LISTENER_LANG, f"voice-{k}", compression, tasks)
        )
    for speaker in speakers:
        if args.record:
            reply = await speaker.request("set-recording", {"enabled": True})
            if reply.get("event") != "ack":
                raise RuntimeError(f"set-recording refused: {reply}")
        reply = await speaker.request("start-speech", START_SPEECH)
        if reply.get("event") != "ack":
            raise RuntimeError(f"start-speech refused: {reply}")
    assert server.process is not None
    pid = server.process.pid
    sent_at: list[list[float]] = [[] for _ in range(n)]
    lags: list[list[float]] = [[] for _ in range(n)]
    t_start = time.perf_counter() + 0.3
    marks = (common.tree_cpu_seconds(pid), common.system_busy_seconds(), _own_cpu())
    await asyncio.gather(
        *(
            speak(speakers[k], plans[k], t_start + k * args.stagger, sent_at[k], lags[k])
            for k in range(n)
        )
    )
    spoken = time.perf_counter()
    # drain: every final's translation and its synthesized speech, or no progress for --drain s
    while True:
        wanted = [final_id for speaker in speakers for _, final_id, _ in speaker.finals]
        have = sum(
            1
            for k, speaker in enumerate(speakers)
            for _, final_id, _ in speaker.finals
            if final_id in listeners[k].speech_end
            or (final_id in listeners[k].translations and listeners[k].translations[final_id][2])
        )
        if have >= len(wanted):
            break
        last = max([spoken, *(c.progress for c in listeners)])
        if time.perf_counter() - last > args.drain:
            break
        await asyncio.sleep(0.05)
    ended = time.perf_counter()
    server_cpu = common.tree_cpu_seconds(pid) - marks[0]
    machine_cpu = common.system_busy_seconds() - marks[1]
    client_cpu = _own_cpu() - marks[2]
    hwm = proc_status(pid, "VmHWM")
    for conn in (*speakers, *listeners):
        with contextlib.suppress(Exception):
            await conn.ws.close()
    for task in tasks:
        task.cancel()
    results = [analyse(speakers[k], listeners[k], plans[k], sent_at[k]) for k in range(n)]
    errors: dict[str, int] = defaultdict(int)
    for conn in (*speakers, *listeners):
        for code, count in conn.errors.items():
            errors[code] += count
    window = ended - t_start
    return {
        "n": n,
        "results": results,
        "errors": dict(errors),
        "lag_ms": [lag * 1000 for lags_k in lags for lag in lags_k],
        "window_s": window,
        "speaking_s": spoken - t_start,
        "drain_s": ended - spoken,
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
        "other_cpu_s": max(0.0, machine_cpu - server_cpu - client_cpu),
        "hwm": hwm,
        "warm_s": warm_s,
        "closed": [c.closed for c in (*speakers, *listeners) if c.closed not in (None, "closed")],
        "audio_mb": sum(c.audio_bytes for c in listeners) / 2**20,
    }


def run_speakers(
    n: int,
    plans: list[Plan],
    args: argparse.Namespace,
    workdir: Path,
    warm_audio: bytes,
) -> dict[str, Any]:
    heading(f"run: {n} simultaneous speaker(s), each in its own room with a Spanish listener", "-")
    env = {
        "VOICEMODE_SPEECH": "on",
        "VOICEMODE_TRANSLATION_ENGINES": args.translation,
        "VOICEMODE_STT_ENGINES": "faster-whisper",
        "VOICEMODE_TTS_ENGINES": "espeak-ng",
    }
    record_dir = workdir / f"recordings-{n}-{time.monotonic_ns()}"
    record = ("--record", "--record-dir", str(record_dir)) if args.record else ()
    name = f"speakers-{n}{'-recording' if args.record else ''}.db"
    server = ServedInstance(db=str(workdir / name), env=env, args=record)
    began = time.perf_counter()
    server.start()
    listening = time.perf_counter() - began
    try:
        outcome = asyncio.run(drive(server, n, plans, args, warm_audio))
    finally:
        server.stop()
    outcome["finalize_ms"] = stored_finalize_waits(server)
    log = server.output()
    outcome["log_problems"] = [
        line
        for line in log.splitlines()
        if "WARNING" in line or "ERROR" in line or "Traceback" in line
    ]
    outcome["log"] = str(server.log_path)
    outcome["listen_s"] = listening
    outcome["recorded_clips"] = len(list(record_dir.rglob("*.ogg")))
    report_run(outcome, args)
    return outcome


def stored_finalize_waits(server: ServedInstance) -> dict[str, float]:
    """Each spoken final's ``TranscriptRecognized.decode_ms``, as the server recorded it.

    It is the time ``UtteranceStream.finalize`` took once it ran: 0 when the
    decode made at the pause already covered all the audio, else the wait for a
    running or a new decode. The time the finalize task waited in the shared
    recognition pool's queue before it ran is not part of it.
    """
    waits: dict[str, float] = {}
    try:
        out = server.replay("--json", "--type", "TranscriptRecognized")
    except Exception as error:  # the figure is an extra; never lose the run for it
        print(f"  (voicemode replay failed: {error})")
        return waits
    for line in out.splitlines():
        record = orjson.loads(line)
        if record.get("speaker_id", "").startswith("s"):
            waits[str(record.get("transcript_id"))] = float(record.get("decode_ms", 0))
    return waits


def combine(outcome: dict[str, Any]) -> dict[str, Any]:
    results: list[SpeakerResult] = outcome["results"]

    def pool(name: str) -> list[float]:
        return [value for r in results for value in getattr(r, name)]

    sentences = sum(len(r.final_ms) + r.lost for r in results)
    errors = outcome["errors"]
    dropped = {code: errors[code] for code in DROPPED_AUDIO if code in errors}
    final = stats(pool("final_ms"))
    translation = stats(pool("translation_ms"))
    audio = stats(pool("audio_ms"))
    lost = sum(r.lost for r in results)
    no_translation = sum(r.no_translation for r in results)
    no_audio = sum(r.no_audio for r in results)
    translation_errors = sum(r.translation_errors for r in results)
    lag = stats(outcome["lag_ms"])
    # Every sentence got its final, its translation and its audio; each p90 in bounds;
    # nothing dropped or failed.
    kept_up = (
        final["n"] > 0
        and final["p90"] < outcome["keep_up_ms"]
        and translation["p90"] < outcome["keep_up_audio_ms"]
        and audio["p90"] < outcome["keep_up_audio_ms"]
        and not dropped
        and lost == 0
        and no_translation == 0
        and no_audio == 0
        and translation_errors == 0
        and "speech_pipeline_failed" not in errors
    )
    return {
        "final": pool("final_ms"),
        "translation": pool("translation_ms"),
        "audio": pool("audio_ms"),
        "step_translation": pool("step_translation_ms"),
        "step_audio": pool("step_audio_ms"),
        "gaps": pool("gaps_ms"),
        "first_caption": pool("first_caption_ms"),
        "sentences": sentences,
        "lost": lost,
        "no_translation": no_translation,
        "no_audio": no_audio,
        "translation_errors": translation_errors,
        "unmatched": [text for r in results for text in r.unmatched],
        "splits": sum(r.splits for r in results),
        "wer": sum(r.edits for r in results) / max(1, sum(r.words for r in results)),
        "words": sum(r.words for r in results),
        "examples": [e for r in results for e in r.examples],
        "dropped": dropped,
        "kept_up": kept_up,
        "client_lagged": not lag["p90"] <= outcome["max_send_lag_ms"],
        "lag": lag,
    }


def report_run(outcome: dict[str, Any], args: argparse.Namespace) -> None:
    outcome["keep_up_ms"] = args.keep_up_ms
    outcome["keep_up_audio_ms"] = args.keep_up_audio_ms
    outcome["max_send_lag_ms"] = args.max_send_lag_ms
    c = outcome["combined"] = combine(outcome)
    n = outcome["n"]
    print(
        f"  server listening after {outcome['listen_s']:.1f} s; warm-up sentence (STT, "
        f"translation, synthesis) {outcome['warm_s']:.1f} s; {n} speaker(s) x "
        f"{c['sentences'] // max(1, n)} sentences over {outcome['speaking_s']:.0f} s, drain "
        f"{outcome['drain_s']:.1f} s"
    )
    print(f"  end of speech -> final (recognized-speech at speaker)      {fmt(c['final'])}")
    print(f"  end of speech -> translated-message (es listener)          {fmt(c['translation'])}")
    print(f"  end of speech -> first synthesized audio byte (es)         {fmt(c['audio'])}")
    print(
        f"    steps: final -> translation {fmt(c['step_translation'], False)}; "
        f"translation -> first audio {fmt(c['step_audio'], False)}"
    )
    waits = list(outcome["finalize_ms"].values())
    if waits:
        ready = sum(1 for wait in waits if wait <= 1)
        print(
            f"    server side: TranscriptRecognized.decode_ms (finalize once running; the "
            f"recognition pool's queue wait before it is not recorded) {fmt(waits)}; "
            f"{ready} of {len(waits)} finals reused the decode made at the pause"
        )
    print(f"  partial-speech gaps while speaking (same utterance)        {fmt(c['gaps'])}")
    print(f"  first loud sample sent -> first partial-speech             {fmt(c['first_caption'])}")
    print(
        f"  word error rate {c['wer']:.1%} over {c['words']} words; sentences without a final "
        f"{c['lost']}, cut in two or more by the VAD {c['splits']}, finals matching no sentence "
        f"{len(c['unmatched'])} {c['unmatched'][:3] or ''}"
    )
    for reference, hypothesis in c["examples"][:3]:
        print(f"    e.g. {reference!r} -> {hypothesis!r}")
    print(
        f"  listener: missing translations {c['no_translation']} (with errorCode "
        f"{c['translation_errors']}), missing synthesized audio {c['no_audio']}; "
        f"{outcome['audio_mb']:.1f} MB of speech received"
    )
    window = outcome["window_s"]
    print(
        f"  CPU over {window:.0f} s ({os.cpu_count()} cores): server (+children) "
        f"{outcome['server_cpu_s']:.1f} core-s ({outcome['server_cpu_s'] / window:.0%} of a "
        f"core, {outcome['server_cpu_s'] / window / n:.0%} per speaker), clients "
        f"{outcome['client_cpu_s']:.1f} core-s, other processes {outcome['other_cpu_s']:.1f} "
        f"core-s ({outcome['other_cpu_s'] / window:.0%} of a core)"
        + (
            "; WARNING: machine busy with other work"
            if outcome["other_cpu_s"] / window > 0.1
            else ""
        )
    )
    print(
        f"  server VmHWM {outcome['hwm'] / 2**20:.0f} MB; client send lag p50 "
        f"{c['lag']['p50']:.1f} ms, p90 {c['lag']['p90']:.1f} ms, max {c['lag']['max']:.1f} ms"
        + (
            " (generator fell behind — not a system figure: this run is refused)"
            if c["client_lagged"]
            else ""
        )
    )
    if outcome["errors"]:
        print(f"  error frames: {outcome['errors']}")
    if outcome["closed"]:
        print(f"  connections closed early: {outcome['closed'][:3]}")
    if outcome["log_problems"]:
        print(
            f"  server log: {len(outcome['log_problems'])} warning/error line(s), first: "
            f"{outcome['log_problems'][0][:200]} ({outcome['log']})"
        )
    if c["client_lagged"]:
        print(
            f"  => REFUSED with {n} speaker(s): generator fell behind — not a system figure",
            flush=True,
        )
        return
    verdict = "KEPT UP" if c["kept_up"] else "DID NOT KEEP UP"
    print(
        f"  => {verdict} with {n} speaker(s) (p90 end of speech -> final "
        f"{num(stats(c['final'])['p90'])} ms vs {args.keep_up_ms:.0f} ms, -> translation "
        f"{num(stats(c['translation'])['p90'])} ms and -> audio "
        f"{num(stats(c['audio'])['p90'])} ms vs {args.keep_up_audio_ms:.0f} ms; dropped audio "
        f"{c['dropped'] or 'none'}; sentences without final {c['lost']}, translation "
        f"{c['no_translation']} (+{c['translation_errors']} with errorCode), audio "
        f"{c['no_audio']})",
        flush=True,
    )


# ================================================================ summary


def ms(value: float) -> str:
    return num(value, ".0f", " ms")


def summary_rows(
    outcomes: dict[int, dict[str, Any]], base: Baseline, args: argparse.Namespace
) -> list[Row]:
    rows: list[Row] = []
    vad = stats(base.vad_wait_ms)
    decode = stats(base.decode_ms)
    base_final = sorted(w + d for w, d in zip(base.vad_wait_ms, base.decode_ms, strict=True))
    base_final_p50 = percentile(base_final, 50)
    base_text = (
        f"{ms(base_final_p50)} p50 = VAD wait {ms(vad['p50'])} + whole-utterance decode "
        f"{ms(decode['p50'])} (p90 {ms(percentile(base_final, 90))})"
    )
    base_translation, base_audio = baseline_chain(base)
    valid = {n: o for n, o in outcomes.items() if not o["combined"]["client_lagged"]}
    if not valid:
        return rows
    first = valid[min(valid)]
    c = first["combined"]
    who = f"{first['n']} speaker" + ("s" if first["n"] > 1 else "")

    def p(values: list[float], q: int) -> float:
        return percentile(sorted(values), q)

    rows.append(
        Row(
            "voice",
            f"end of speech -> final recognized-speech p50 ({who})",
            "<= 300 ms",
            f"{ms(p(c['final'], 50))} (p90 {ms(p(c['final'], 90))}, n={len(c['final'])})",
            base_text,
        )
    )
    step_t = p(c["step_translation"], 50)
    step_a = p(c["step_audio"], 50)
    rows.append(
        Row(
            "voice",
            f"end of speech -> translated-message (es) p50 ({who})",
            "<= 400 ms",
            f"{ms(p(c['translation'], 50))} (p90 {ms(p(c['translation'], 90))}; final -> "
            f"translation {ms(step_t)})",
            f"{ms(percentile(base_translation, 50))} p50 (in-process: VAD wait + whole decode + "
            f"{ms(percentile(sorted(base.translate_ms), 50))} translation, same engine)",
        )
    )
    rows.append(
        Row(
            "voice",
            f"end of speech -> first synthesized audio byte (es) p50 ({who})",
            "<= 600 ms",
            f"{ms(p(c['audio'], 50))} (p90 {ms(p(c['audio'], 90))}; translation -> audio "
            f"{ms(step_a)})",
            f"{ms(percentile(base_audio, 50))} p50 (in-process: ... + espeak-ng first chunk "
            f"{ms(percentile(sorted(base.synth_first_ms), 50))})",
        )
    )
    rows.append(
        Row(
            "voice",
            f"partial-speech gap while speaking p50 / p90 / max ({who})",
            "<= 700 ms",
            f"{ms(p(c['gaps'], 50))} / {ms(p(c['gaps'], 90))} / {ms(max(c['gaps'], default=0))} "
            f"(first caption {ms(p(c['first_caption'], 50))} after speech start)",
            f"no caption before the final: {ms(base.speech_s * 1000 / max(1, len(base.texts)))} "
            f"of speech per sentence on average + the final's latency",
        )
    )
    rows.append(
        Row(
            "voice",
            "word error rate, embedded STT (faster-whisper tiny.en) on the bench sentences",
            "-",
            f"{c['wer']:.1%} of {c['words']} words (served finals, {who})",
            f"{base.wer:.1%} (whole utterance decoded once)",
        )
    )
    rows.append(
        Row(
            "voice",
            "VAD end-of-speech wait (in both paths)",
            "-",
            f"{ms(vad['p50'])} p50, {ms(vad['p90'])} p90 (segmenter min_silence_ms "
            f"{base.min_silence_ms}, {base.window_ms:.0f} ms windows, 20-40 ms chunks)",
            f"forced decode starts at the pause: {ms(p(base.pause_ms, 50))} p50 "
            f"(end_padding_ms {base.end_padding_ms})",
        )
    )
    sustained = [n for n, o in sorted(valid.items()) if o["combined"]["kept_up"]]
    failed = [n for n, o in sorted(valid.items()) if not o["combined"]["kept_up"]]
    refused = sorted(set(outcomes) - set(valid))
    cpu_per_sentence = statistics.mean(base.decode_cpu_s) if base.decode_cpu_s else float("nan")
    period_s = base.stream_s / max(1, len(base.texts))
    capacity = (os.cpu_count() or 1) / (cpu_per_sentence / period_s)
    rows.append(
        Row(
            "voice",
            f"simultaneous real-time speakers on {os.cpu_count()} cores "
            f"(ran {', '.join(str(n) for n in sorted(outcomes))})",
            ">= 4",
            (f"{max(sustained)} kept up" if sustained else "none kept up")
            + (f"; not {', '.join(map(str, failed))}" if failed else "")
            + (
                f"; {', '.join(map(str, refused))} refused (generator fell behind)"
                if refused
                else ""
            )
            + f" (every sentence: final, translation and audio; p90 final < "
            f"{args.keep_up_ms:.0f} ms, translation and audio < {args.keep_up_audio_ms:.0f} ms; "
            "nothing dropped)",
            f"~{capacity:.0f} by decode CPU alone if each utterance were decoded once "
            f"({cpu_per_sentence * 1000:.0f} ms CPU per sentence every {period_s:.1f} s)",
        )
    )
    for n, outcome in sorted(outcomes.items()):
        c = outcome["combined"]
        window = outcome["window_s"]
        if c["client_lagged"]:
            rows.append(
                Row(
                    "voice",
                    f"{n} speaker(s)",
                    "-",
                    "generator fell behind — not a system figure",
                    f"send lag p90 {num(c['lag']['p90'])} ms > {args.max_send_lag_ms:.0f} ms",
                )
            )
            continue
        rows.append(
            Row(
                "voice",
                f"{n} speaker(s): final / translation / audio p50 | p90; gaps p90",
                f"p90 final < {args.keep_up_ms:.0f} ms, translation/audio < "
                f"{args.keep_up_audio_ms:.0f} ms",
                f"{ms(p(c['final'], 50))} / {ms(p(c['translation'], 50))} / "
                f"{ms(p(c['audio'], 50))} | {ms(p(c['final'], 90))} / "
                f"{ms(p(c['translation'], 90))} / {ms(p(c['audio'], 90))}; "
                f"{ms(p(c['gaps'], 90))}; {ready_note(outcome)}"
                f"{'kept up' if c['kept_up'] else 'DID NOT keep up'}"
                + (f" (dropped {c['dropped']})" if c["dropped"] else "")
                + (f", {c['lost']} unrecognized" if c["lost"] else "")
                + (f", {c['no_translation']} untranslated" if c["no_translation"] else "")
                + (f", {c['no_audio']} unspoken" if c["no_audio"] else ""),
                f"server {outcome['server_cpu_s'] / window:.2f} cores; baseline final "
                f"{ms(base_final_p50)} p50 (in-process, no server running)",
            )
        )
    return rows


def baseline_chain(base: Baseline) -> tuple[list[float], list[float]]:
    """Per sentence, in-process: end of speech -> translation, and -> first audio chunk."""
    translation = [
        w + d + t
        for w, d, t in zip(base.vad_wait_ms, base.decode_ms, base.translate_ms, strict=True)
    ]
    audio = [t + a for t, a in zip(translation, base.synth_first_ms, strict=True)]
    return sorted(translation), sorted(value for value in audio if math.isfinite(value))


def ready_note(outcome: dict[str, Any]) -> str:
    """How many finals the server had ready when the VAD closed the utterance."""
    waits = list(outcome["finalize_ms"].values())
    if not waits:
        return ""
    ready = sum(1 for wait in waits if wait <= 1)
    return f"{ready}/{len(waits)} finals reused the pause decode (decode_ms p90 {ms(p90(waits))}); "


def p90(values: list[float]) -> float:
    return percentile(sorted(values), 90)


def build_parser() -> argparse.ArgumentParser:
    """The bench's flags (``bench/recording.py`` runs the same bench with them)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--speakers", default="1,2,4,6", help="comma-separated speaker counts, one run each"
    )
    parser.add_argument(
        "--sentences", type=int, default=len(SENTENCES), help=f"per speaker (1-{len(SENTENCES)})"
    )
    parser.add_argument("--gap", type=float, default=1.0, help="silence after each sentence (s)")
    parser.add_argument("--chunk-ms", default="20,40", help="chunk length range MIN,MAX (ms)")
    parser.add_argument(
        "--stagger", type=float, default=0.3, help="start offset between speakers (s)"
    )
    parser.add_argument(
        "--keep-up-ms", type=float, default=1000.0, help="p90 end of speech -> final bound"
    )
    parser.add_argument(
        "--keep-up-audio-ms",
        type=float,
        default=2000.0,
        help="p90 end of speech -> translation and -> first audio bound",
    )
    parser.add_argument(
        "--drain", type=float, default=15.0, help="wait this long for missing frames at the end"
    )
    parser.add_argument(
        "--max-send-lag-ms",
        type=float,
        default=20.0,
        help="a run whose speakers sent their chunks later than this (p90) is refused: "
        "the generator fell behind, so its figures are not the system's",
    )
    parser.add_argument("--baseline-repeats", type=int, default=3)
    parser.add_argument("--translation", default="apertium", help="VOICEMODE_TRANSLATION_ENGINES")
    parser.add_argument("--compression", choices=("deflate", "none"), default="deflate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (stores, logs)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="serve --record, every room recording (bench/recording.py compares)",
    )
    common.add_smoke_flag(parser, "1 speaker, 2 sentences")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    return parser


def plan_speakers(
    args: argparse.Namespace, speakers: int, chunk_ms: tuple[int, int]
) -> tuple[list[Plan], dict[str, bytes]]:
    """Each speaker's stream (the sentences in rotated order), and every sentence's audio."""
    chosen = list(SENTENCES[: args.sentences])
    audio = sentence_audio([*chosen, WARMUP_SENTENCE])
    plans = [
        make_plan(
            chosen[k % len(chosen) :] + chosen[: k % len(chosen)],
            audio,
            args.gap,
            chunk_ms,
            args.seed + k,
        )
        for k in range(speakers)
    ]
    return plans, audio


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    counts = sorted({int(n) for n in args.speakers.split(",") if n.strip()})
    if not counts or min(counts) < 1:
        parser.error("--speakers needs positive counts")
    if not 1 <= args.sentences <= len(SENTENCES):
        parser.error(f"--sentences must be 1-{len(SENTENCES)}")
    low, high = (int(v) for v in args.chunk_ms.split(","))
    if not 5 <= low <= high <= 500:
        parser.error("--chunk-ms needs 5 <= MIN <= MAX <= 500")

    heading(
        "bench/voice.py: speech latency over real WebSockets, in real time"
        + " (smoke)" * args.smoke
    )
    verdicts = common.Verdicts("voice")
    print(machine_note("the clients, the server and the baseline share them"))
    chosen = list(SENTENCES[: args.sentences])
    began = time.perf_counter()
    plans, audio = plan_speakers(args, max(counts), (low, high))
    speech_s = sum(s.speech_s for s in plans[0].sentences)
    print(
        f"Speech: {len(chosen)} espeak-ng sentences per speaker ({speech_s:.1f} s of speech, "
        f"{plans[0].seconds:.1f} s stream with {args.gap:g} s gaps), LINEAR16 16 kHz in "
        f"{low}-{high} ms chunks paced in real time; generated in "
        f"{time.perf_counter() - began:.1f} s. Speakers start {args.stagger:g} s apart, "
        f"each in its own room with an {LISTENER_LANG} listener; translation: {args.translation}."
    )
    load = common.OtherLoad()

    heading("baseline: whole utterance transcribed once after end of speech (in-process)", "-")
    base = run_baseline(plans[0], args.baseline_repeats, args.translation)
    print(
        f"  VAD (Silero, SegmenterConfig defaults: min_silence_ms {base.min_silence_ms}, "
        f"end_padding_ms {base.end_padding_ms}, {base.window_ms:.0f} ms windows) closes each "
        f"utterance {fmt(base.vad_wait_ms)} after the end-of-speech chunk was sent"
    )
    print(f"    and reports the pause (when the forced partial decode starts) {fmt(base.pause_ms)}")
    print(
        f"  whole-utterance decode (FasterWhisperRecognizer via RecognizerRegistry.transcribe, "
        f"median of {args.baseline_repeats}): {fmt(base.decode_ms)}; CPU "
        f"{statistics.mean(base.decode_cpu_s) * 1000:.0f} ms per sentence on average"
    )
    total = sorted(w + d for w, d in zip(base.vad_wait_ms, base.decode_ms, strict=True))
    print(f"  => baseline end of speech -> final (VAD wait + decode): {fmt(total)}")
    base_translation, base_audio = baseline_chain(base)
    print(
        f"  then, on the decoded text: translation ({args.translation}, en -> es) "
        f"{fmt(base.translate_ms)}; espeak-ng synthesis of it, first audio chunk "
        f"{fmt([v for v in base.synth_first_ms if math.isfinite(v)])}"
    )
    print(
        f"  => baseline end of speech -> translation {fmt(base_translation)}; -> first audio "
        f"{fmt(base_audio)}"
    )
    for name, values in (
        ("baseline VAD wait", base.vad_wait_ms),
        ("baseline end of speech -> final", total),
        ("baseline end of speech -> translation", base_translation),
        ("baseline end of speech -> first audio", base_audio),
    ):
        verdicts.finite(name, percentile(sorted(values), 50))
    print(f"  word error rate {base.wer:.1%} over {base.words} words; VAD splits {base.splits}")

    workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-voice-"))
    print(f"Work dir (stores, server logs): {workdir}", flush=True)
    outcomes = {n: run_speakers(n, plans, args, workdir, audio[WARMUP_SENTENCE]) for n in counts}
    troubled = any(o["log_problems"] for o in outcomes.values())
    if args.keep or troubled:
        print(f"Kept the work dir (stores and server logs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)

    heading("Summary", "-")
    rows = summary_rows(outcomes, base, args)
    print(common.markdown_table(rows))
    judge(outcomes, args, verdicts)
    machine_load = load.report()
    print(machine_load)
    common.write_results(
        args.results,
        rows,
        {
            "machine_load": machine_load,
            "runs": {
                str(n): {
                    key: stats(o["combined"][key])
                    for key in ("final", "translation", "audio", "gaps")
                }
                | {"kept_up": o["combined"]["kept_up"], "wer": o["combined"]["wer"]}
                for n, o in outcomes.items()
            },
            "failures": verdicts.failures,
            "goals": verdicts.goals,
        },
    )
    return verdicts.finish()


def judge(
    outcomes: dict[int, dict[str, Any]], args: argparse.Namespace, verdicts: common.Verdicts
) -> None:
    """Fail what was not measured in the headline run; print the goal verdicts."""
    for n, outcome in sorted(outcomes.items()):
        if outcome["closed"]:
            verdicts.fail(f"{n} speaker(s): connections closed early {outcome['closed'][:2]}")
    first_n = min(outcomes)
    first = outcomes[first_n]["combined"]
    who = f"{first_n} speaker(s)"
    if first["client_lagged"]:
        verdicts.fail(
            f"{who}: generator fell behind (send lag p90 {num(first['lag']['p90'])} ms > "
            f"{args.max_send_lag_ms:.0f} ms): the headline run is not a system figure"
        )
        return
    for key, goal in (("final", 300.0), ("translation", 400.0), ("audio", 600.0)):
        p50 = stats(first[key])["p50"]
        if verdicts.finite(f"{who}: end of speech -> {key} p50", p50):
            verdicts.goal(
                f"end of speech -> {key} p50 ({who})",
                p50 <= goal,
                f"{p50:.0f} ms (goal <= {goal:.0f} ms)",
            )
    gaps = stats(first["gaps"])["p90"]
    if math.isfinite(gaps):
        verdicts.goal(
            f"partial-speech gap p90 ({who})", gaps <= 700, f"{gaps:.0f} ms (goal <= 700 ms)"
        )
    valid = [n for n, o in outcomes.items() if not o["combined"]["client_lagged"]]
    kept = [n for n in valid if outcomes[n]["combined"]["kept_up"]]
    verdicts.goal(
        f"simultaneous real-time speakers (ran {', '.join(map(str, sorted(outcomes)))})",
        max(kept, default=0) >= 4,
        f"{max(kept, default=0)} kept up (goal >= 4)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
