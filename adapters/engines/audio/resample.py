"""Streaming conversion of decoded audio frames to 16 kHz mono float32.

libswresample (through PyAV) keeps its filter state between frames, so a
stream cut into arbitrary chunks resamples exactly as if it were whole, with
no clicks at chunk boundaries.
"""

from __future__ import annotations

import av
import numpy as np

from adapters.engines.audio.base import SAMPLE_RATE, Pcm, empty_pcm


class StreamResampler:
    """Converts the frames of one stream, whatever their rate, layout or sample format."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

    def convert(self, frame: av.AudioFrame) -> Pcm:
        """Resample one frame; the output may lag the input by the filter's few samples."""
        return _join(self._resampler.resample(frame))

    def finish(self) -> Pcm:
        """Return the samples the filter still holds; the resampler is spent afterwards."""
        return _join(self._resampler.resample(None))


def int16_frame(samples: bytes, sample_rate: int) -> av.AudioFrame:
    """Wrap little-endian 16-bit mono samples (an even number of bytes) as a PyAV frame."""
    array = np.frombuffer(samples, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(array, format="s16", layout="mono")
    frame.sample_rate = sample_rate
    return frame


def _join(frames: list[av.AudioFrame]) -> Pcm:
    """Concatenate resampled mono float frames into one array."""
    if not frames:
        return empty_pcm()
    return np.concatenate([frame.to_ndarray()[0] for frame in frames]).astype(np.float32)
