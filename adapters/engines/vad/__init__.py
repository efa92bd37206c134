"""Voice activity detection and utterance segmentation of one PCM stream per source.

The package exports the interface and the segmenter; the detectors load
their runtimes (ONNX Runtime, webrtcvad): import them from
:mod:`adapters.engines.vad.silero` and :mod:`adapters.engines.vad.webrtc` where they are made.
"""

from adapters.engines.vad.base import SpeechScorer, VoiceActivityDetector
from adapters.engines.vad.segmenter import (
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
