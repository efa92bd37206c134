"""The streaming decoder interface: encoded client chunks in, 16 kHz mono float32 PCM out.

Everything after the decoder (VAD, STT) works on one format only, 16 kHz mono
float32 in [-1, 1], whatever the client sent; this is where that is settled.
Decoders are blocking and not thread-safe: one decoder per audio source,
called from one worker thread at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Final

import numpy as np
import numpy.typing as npt

#: The one sample rate the engines after the decoder work at.
SAMPLE_RATE: Final = 16000

#: Mono float32 samples in [-1, 1] at :data:`SAMPLE_RATE`.
Pcm = npt.NDArray[np.float32]


def empty_pcm() -> Pcm:
    """Return a zero-length PCM array: "no audio yet" without a special case."""
    return np.zeros(0, dtype=np.float32)


class AudioDecoder(ABC):
    """Turns the chunks of one client audio stream into PCM, incrementally.

    Each ``feed`` returns the audio that the bytes seen so far make decodable,
    so audio reaches the VAD while the person is still speaking; nothing is
    decoded twice, so cost and memory stay proportional to the new bytes.
    """

    @abstractmethod
    def feed(self, chunk: bytes) -> Pcm:
        """Decode one more chunk; return the newly decodable audio (maybe empty).

        Raises:
            AudioFormatError: the chunk cannot be decoded; the decoder is then
                unusable and should be closed.

        """

    @abstractmethod
    def finish(self) -> Pcm:
        """End of stream: return the audio still held back (resampler tail, last packets).

        Raises:
            AudioFormatError: the stream ended in a way that cannot be decoded.

        """

    def close(self) -> None:  # noqa: B027 - decoders without resources need nothing
        """Release threads or codec state; safe to call more than once."""

    def __enter__(self) -> AudioDecoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
