"""WebRTC's GMM voice activity detector (webrtcvad-wheels): no model file, tiny cost.

Less accurate than Silero in noise, but it needs nothing but a small C
extension; it scores 0 or 1, which the segmenter's thresholds handle alike.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import webrtcvad  # type: ignore[import-untyped]

from adapters.engines.audio import SAMPLE_RATE, Pcm
from adapters.engines.vad.base import SpeechScorer, VoiceActivityDetector

_WINDOW: Final = 480  # 30 ms, the longest frame the detector accepts


class _WebRtcScorer(SpeechScorer):
    """One source's detector instance (it keeps adaptive noise estimates)."""

    def __init__(self, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def score(self, window: Pcm) -> float:
        """Return 1.0 for speech, 0.0 otherwise."""
        samples = (np.clip(window, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        return 1.0 if self._vad.is_speech(samples, SAMPLE_RATE) else 0.0


class WebRtcDetector(VoiceActivityDetector):
    """The WebRTC detector, for machines without onnxruntime or to spare CPU.

    Args:
        aggressiveness: 0 (lets most through) to 3 (filters non-speech hardest).

    Raises:
        ValueError: ``aggressiveness`` is not 0..3.

    """

    name = "webrtc"
    window_samples = _WINDOW

    def __init__(self, aggressiveness: int = 2) -> None:
        if aggressiveness not in range(4):
            raise ValueError(f"aggressiveness must be 0..3, not {aggressiveness}")
        self._aggressiveness = aggressiveness

    def scorer(self) -> SpeechScorer:
        """Start a source with a fresh detector."""
        return _WebRtcScorer(self._aggressiveness)
