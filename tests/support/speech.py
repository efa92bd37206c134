"""Real speech for engine tests: espeak-ng sentences as LINEAR16 or MediaRecorder-like Opus.

Generated with the espeak-ng program directly (not the project's TTS engine), so
a broken synthesizer adapter cannot hide a broken recognizer, and resampled and
encoded with PyAV, the library the decoders use. :func:`run_pipeline` wires
decoder, segmenter and utterance streams as the pipeline actor does, and
:func:`word_error_rate` scores what comes out.
"""

from __future__ import annotations

import io
import re
import subprocess
import wave
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import av
import numpy as np

from adapters.engines.audio import AudioDecoder
from adapters.engines.stt import RecognizerRegistry, Transcript
from adapters.engines.stt.stream import UtteranceStream
from adapters.engines.vad import (
    SegmentEvent,
    SpeechSegmenter,
    UtteranceAudio,
    UtteranceClosed,
    UtteranceOpened,
    UtterancePaused,
)

ESPEAK_RATE = 22050

Container = Literal["webm", "ogg"]


def espeak(text: str, voice: str = "en-us", words_per_minute: int = 160) -> bytes:
    """Synthesize ``text``: 16-bit mono PCM at espeak-ng's 22050 Hz."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(words_per_minute)],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        assert reader.getframerate() == ESPEAK_RATE
        pcm: bytes = reader.readframes(len(wav))
    return pcm


def resample_int16(pcm: bytes, rate_in: int, rate_out: int) -> bytes:
    """Resample 16-bit mono PCM with libswresample."""
    if rate_in == rate_out:
        return pcm
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm, dtype="<i2").reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = rate_in
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_out)
    frames = resampler.resample(frame) + resampler.resample(None)
    return b"".join(out.to_ndarray().astype("<i2").tobytes() for out in frames)


def linear16(text: str, rate: int = 16000, voice: str = "en-us") -> bytes:
    """Speak ``text`` as LINEAR16 bytes at ``rate``."""
    return resample_int16(espeak(text, voice), ESPEAK_RATE, rate)


def trimmed(text: str, rate: int = 16000) -> bytes:
    """Speak ``text`` as LINEAR16 without espeak-ng's silence before and after it."""
    samples = np.frombuffer(linear16(text, rate), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples) > 300)
    return samples[loud[0] : loud[-1] + 1].tobytes()


def silence(seconds: float, rate: int = 16000) -> bytes:
    """Digital silence as LINEAR16 bytes."""
    return bytes(2 * round(seconds * rate))


def to_float(pcm: bytes) -> np.ndarray:
    """LINEAR16 bytes as float32 in [-1, 1], the engines' input format."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


class _Sink(io.RawIOBase):
    """A write-only, non-seekable output: the muxer writes a live stream, as browsers do."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += chunk
        return len(chunk)


def opus_stream(pcm: bytes, rate: int, container: Container) -> bytes:
    """Encode LINEAR16 at ``rate`` as a live WebM or Ogg Opus stream at 48 kHz."""
    sink = _Sink()
    with av.open(sink, mode="w", format=container) as output:
        stream = output.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = 32000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.frombuffer(pcm, dtype="<i2").reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            output.mux(stream.encode(resampled))
        output.mux(stream.encode(None))
    return bytes(sink.data)


def timeslices(stream: bytes, seconds: float, timeslice_ms: int = 250) -> list[bytes]:
    """Cut a stream into MediaRecorder-like chunks: one per timeslice, at any byte offset."""
    count = max(1, round(seconds * 1000 / timeslice_ms))
    size = max(1, -(-len(stream) // count))
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def opus_chunks(
    text: str, container: Container, rate: int = 48000, timeslice_ms: int = 250
) -> list[bytes]:
    """Speak ``text`` and return it as MediaRecorder-like Opus chunks."""
    pcm = linear16(text, rate)
    seconds = len(pcm) / 2 / rate
    return timeslices(opus_stream(pcm, rate, container), seconds, timeslice_ms)


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens split words ("round-trip")."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by word-level Levenshtein."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (ref_word != hyp_word),
                )
            )
        previous = current
    return previous[-1] / max(1, len(ref))


@dataclass
class PipelineRun:
    """What one stream produced: final transcripts, partial captions, segment ends."""

    finals: list[Transcript] = field(default_factory=list)
    partials: list[Transcript] = field(default_factory=list)
    ends: list[UtteranceClosed] = field(default_factory=list)


def run_pipeline(
    chunks: Iterable[bytes],
    decoder: AudioDecoder,
    segmenter: SpeechSegmenter,
    registry: RecognizerRegistry,
    language: str = "en",
) -> PipelineRun:
    """Drive decoder -> segmenter -> utterance streams the way the pipeline actor will.

    A partial decode is tried after each chunk, forced at each pause, and the
    utterance is finalized at its end; everything runs on this thread.
    """
    run = PipelineRun()
    stream: UtteranceStream | None = None

    def handle(events: list[SegmentEvent]) -> None:
        nonlocal stream
        for event in events:
            if isinstance(event, UtteranceOpened):
                stream = UtteranceStream(registry, language)
                stream.push(event.audio)
            elif isinstance(event, UtteranceAudio) and stream is not None:
                stream.push(event.audio)
            elif isinstance(event, UtterancePaused) and stream is not None:
                if (partial := stream.partial(force=True)) is not None:
                    run.partials.append(partial)
            elif isinstance(event, UtteranceClosed) and stream is not None:
                run.finals.append(stream.finalize())
                run.ends.append(event)
                stream = None
        if stream is not None and (partial := stream.partial()) is not None:
            run.partials.append(partial)

    with decoder:
        for chunk in chunks:
            handle(segmenter.push(decoder.feed(chunk)))
        handle(segmenter.push(decoder.finish()))
    handle(segmenter.finish())
    return run
