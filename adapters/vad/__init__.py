"""Voice activity detection and utterance segmentation of one PCM stream per source."""

from adapters.vad.base import SpeechScorer, VoiceActivityDetector
from adapters.vad.segmenter import (
    EndReason,
    SegmenterConfig,
    SegmentEvent,
    SpeechAudio,
    SpeechEnded,
    SpeechPaused,
    SpeechSegmenter,
    SpeechStarted,
)
from adapters.vad.silero import SileroDetector, bundled_model_path
from adapters.vad.webrtc import WebRtcDetector

__all__ = [
    "EndReason",
    "SegmentEvent",
    "SegmenterConfig",
    "SileroDetector",
    "SpeechAudio",
    "SpeechEnded",
    "SpeechPaused",
    "SpeechScorer",
    "SpeechSegmenter",
    "SpeechStarted",
    "VoiceActivityDetector",
    "WebRtcDetector",
    "bundled_model_path",
]
