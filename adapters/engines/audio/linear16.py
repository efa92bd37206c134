"""LINEAR16: raw 16-bit little-endian mono PCM at any rate from 8 kHz to 48 kHz."""

from __future__ import annotations

import numpy as np

from adapters.engines.audio.base import SAMPLE_RATE, AudioDecoder, Pcm, empty_pcm
from adapters.engines.audio.errors import OddByteCountError
from adapters.engines.audio.resample import StreamResampler, int16_frame

_INT16_SCALE = 1.0 / 32768.0


class Linear16Decoder(AudioDecoder):
    """Validates and converts raw PCM chunks; resamples when the rate is not 16 kHz.

    Each chunk must hold whole samples: a client that splits a sample across
    two frames has a bug worth reporting (``odd_byte_count``) rather than
    hiding, since every later sample would be read shifted by a byte.

    Args:
        sample_rate: the client's declared rate, already validated.

    """

    def __init__(self, sample_rate: int) -> None:
        self._sample_rate = sample_rate
        self._resampler = StreamResampler() if sample_rate != SAMPLE_RATE else None

    def feed(self, chunk: bytes) -> Pcm:
        """Convert one chunk of whole samples.

        Raises:
            OddByteCountError: the chunk has an odd number of bytes.

        """
        if len(chunk) % 2:
            raise OddByteCountError(
                f"LINEAR16 chunk of {len(chunk)} bytes: 16-bit samples need an even count"
            )
        if not chunk:
            return empty_pcm()
        if self._resampler is None:
            samples = np.frombuffer(chunk, dtype="<i2").astype(np.float32)
            return samples * np.float32(_INT16_SCALE)
        return self._resampler.convert(int16_frame(chunk, self._sample_rate))

    def finish(self) -> Pcm:
        """Return the resampler's tail (nothing at 16 kHz)."""
        if self._resampler is None:
            return empty_pcm()
        return self._resampler.finish()
