"""Voice activity detection and utterance segmentation of one PCM stream per source.

The package exports the interface and the segmenter; the detectors load
their runtimes (ONNX Runtime, webrtcvad): import them from
:mod:`adapters.vad.silero` and :mod:`adapters.vad.webrtc` where they are made.
"""

from adapters.vad.base import SpeechScorer, VoiceActivityDetector
from adapters.vad.segmenter import (
    EndReason,
    SegmenterConfig,
    SegmentEvent,
    SpeechSegmenter,
    UtteranceAudio,
    UtteranceClosed,
    UtteranceOpened,
    UtterancePaused,
)

__all__ = [
    "EndReason",
    "SegmentEvent",
    "SegmenterConfig",
    "SpeechScorer",
    "SpeechSegmenter",
    "UtteranceAudio",
    "UtteranceClosed",
    "UtteranceOpened",
    "UtterancePaused",
    "VoiceActivityDetector",
]
