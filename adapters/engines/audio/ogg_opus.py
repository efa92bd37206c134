"""Whole clips to and from Ogg Opus (recording, export), through PyAV's libopus.

Unlike the streaming decoders of client audio, these take a finished clip
at once: a recorded utterance or synthesis is encoded when it is complete,
and read back whole. Opus takes 8, 12, 16, 24 or 48 kHz; any other rate is
resampled to the next one up (:func:`opus_rate`), so 22.05 kHz espeak-ng
speech is kept at 24 kHz.
"""

from __future__ import annotations

import io
from typing import Final

import av
import numpy as np
import numpy.typing as npt

from adapters.engines.audio.base import Pcm, empty_pcm

OPUS_RATES: Final = (8000, 12000, 16000, 24000, 48000)
BIT_RATE: Final = 32000
"""Bits per second: speech at 16-24 kHz is transparent enough for STT at 24-32 kb/s."""


def opus_rate(sample_rate: int) -> int:
    """The Opus rate a clip at ``sample_rate`` is encoded at (the next supported one up)."""
    return next((rate for rate in OPUS_RATES if rate >= sample_rate), OPUS_RATES[-1])


def encode_ogg_opus(samples: npt.NDArray[np.int16] | Pcm, sample_rate: int) -> bytes:
    """Encode mono samples (int16, or float32 in [-1, 1]) as one Ogg Opus file.

    Blocking CPU work (about 15 ms per second of audio): run it on a worker.
    """
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=opus_rate(sample_rate), layout="mono")
        stream.bit_rate = BIT_RATE
        if samples.size:
            frame = _frame(samples)
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def decode_ogg_opus(data: bytes, sample_rate: int) -> Pcm:
    """Decode a whole Ogg Opus (or any audio) file to mono float32 at ``sample_rate``."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks: list[Pcm] = []
    with av.open(io.BytesIO(data), "r") as container:
        for frame in container.decode(audio=0):
            chunks += [out.to_ndarray()[0] for out in resampler.resample(frame)]
    chunks += [out.to_ndarray()[0] for out in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else empty_pcm()


def _frame(samples: npt.NDArray[np.int16] | Pcm) -> av.AudioFrame:
    """One mono frame of all the samples, in their own sample format."""
    if samples.dtype == np.int16:
        pcm16 = np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1)
        return av.AudioFrame.from_ndarray(pcm16, format="s16", layout="mono")
    floats = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
    return av.AudioFrame.from_ndarray(floats, format="flt", layout="mono")
