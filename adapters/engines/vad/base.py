"""The interface every voice activity detector implements.

A detector is split in two, as livekit-agents splits ``VAD`` and ``VADStream``:
the engine (a loaded model, shared by every audio source, thread-safe) and a
scorer per audio source that holds that source's recurrent state. Scoring is
blocking and cheap; callers run it on a worker thread with the decoder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from adapters.engines.audio import Pcm


class SpeechScorer(ABC):
    """Scores the consecutive windows of one audio source; not thread-safe."""

    @abstractmethod
    def score(self, window: Pcm) -> float:
        """Return the probability (0..1) that ``window`` holds speech.

        Args:
            window: exactly the detector's ``window_samples`` samples of
                16 kHz mono float32, following the previous window.

        """


class VoiceActivityDetector(ABC):
    """A voice activity detection engine.

    Attributes:
        name: stable engine name, for configuration and logs.
        window_samples: how many 16 kHz samples each score covers.

    """

    name: str
    window_samples: int

    @abstractmethod
    def scorer(self) -> SpeechScorer:
        """Start scoring a new audio source, with fresh state."""
