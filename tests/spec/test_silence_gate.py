"""The segmenter's silence gate: quiet windows never reach the detector, sound always does."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.engines.audio import SAMPLE_RATE, Pcm
from adapters.engines.vad import (
    SegmenterConfig,
    SpeechScorer,
    SpeechSegmenter,
    UtteranceOpened,
    VoiceActivityDetector,
)

WINDOW = 512


class LoudIsSpeech(VoiceActivityDetector):
    """Calls a window speech when its peak is above 0.1; remembers what it was asked."""

    name = "loud-is-speech"
    window_samples = WINDOW

    def __init__(self) -> None:
        self.scored: list[float] = []
        self.scorers = 0

    def scorer(self) -> SpeechScorer:
        self.scorers += 1
        detector = self

        class Scorer(SpeechScorer):
            def score(self, window: Pcm) -> float:
                peak = float(np.abs(window).max())
                detector.scored.append(peak)
                return 1.0 if peak > 0.1 else 0.0

        return Scorer()


def tone(seconds: float, dbfs: float) -> Pcm:
    """A 440 Hz sine whose RMS is ``dbfs``."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    amplitude = np.sqrt(2) * 10 ** (dbfs / 20)
    wave: Pcm = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return wave


def zeros(seconds: float) -> Pcm:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def test_digital_silence_and_quiet_hiss_never_reach_the_detector() -> None:
    detector = LoudIsSpeech()
    segmenter = SpeechSegmenter(detector)
    events = segmenter.push(zeros(2.0)) + segmenter.push(tone(2.0, -65.0))
    assert events == []
    assert detector.scored == []


def test_sound_above_the_floor_is_scored_window_by_window() -> None:
    detector = LoudIsSpeech()
    segmenter = SpeechSegmenter(detector)
    segmenter.push(tone(1.0, -45.0))
    assert len(detector.scored) == SAMPLE_RATE // WINDOW


def test_speech_after_silence_opens_with_its_padding_and_its_first_window() -> None:
    """Nothing of the onset is lost: the detector sees the first loud window, and the padding."""
    detector = LoudIsSpeech()
    config = SegmenterConfig()
    segmenter = SpeechSegmenter(detector, config)
    onset = 64 * WINDOW  # 2,048 ms of silence, on a window boundary
    audio = np.concatenate((zeros(onset / SAMPLE_RATE), tone(1.0, -20.0), zeros(1.0)))
    events = segmenter.push(audio) + segmenter.finish()
    opened = [e for e in events if isinstance(e, UtteranceOpened)]
    assert len(opened) == 1
    assert detector.scored[0] > 0.1  # the first window the detector saw was the onset
    onset_ms = onset * 1000 // SAMPLE_RATE
    assert opened[0].start_ms <= onset_ms - config.prefix_padding_ms
    loud = np.flatnonzero(np.abs(opened[0].audio) > 0.1)
    assert loud[0] * 1000 // SAMPLE_RATE >= config.prefix_padding_ms


def test_the_detector_starts_afresh_after_a_long_silence_only() -> None:
    detector = LoudIsSpeech()
    segmenter = SpeechSegmenter(detector)
    segmenter.push(tone(0.5, -20.0))
    segmenter.push(zeros(0.1))
    segmenter.push(tone(0.5, -20.0))
    assert detector.scorers == 1
    segmenter.push(zeros(1.0))
    segmenter.push(tone(0.5, -20.0))
    assert detector.scorers == 2


def test_without_a_floor_every_window_is_scored() -> None:
    detector = LoudIsSpeech()
    segmenter = SpeechSegmenter(detector, SegmenterConfig(silence_floor_dbfs=None))
    segmenter.push(zeros(1.0))
    assert len(detector.scored) == SAMPLE_RATE // WINDOW


def test_a_floor_at_or_above_full_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="silence_floor_dbfs"):
        SegmenterConfig(silence_floor_dbfs=0.0)
