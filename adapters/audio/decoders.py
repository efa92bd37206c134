"""Choosing the decoder for what a client declared in ``start-speech``."""

from __future__ import annotations

from typing import Final

from adapters.audio.base import AudioDecoder
from adapters.audio.errors import InvalidSampleRateError, UnsupportedEncodingError
from adapters.audio.linear16 import Linear16Decoder
from adapters.audio.opus import OpusContainerDecoder

#: The encodings a client may declare, by their Google Speech API names.
ENCODINGS: Final = ("LINEAR16", "WEBM_OPUS", "OGG_OPUS")
MIN_SAMPLE_RATE: Final = 8000
MAX_SAMPLE_RATE: Final = 48000


def open_decoder(encoding: str, sample_rate: int = 16000) -> AudioDecoder:
    """Return a fresh decoder for one speech stream, checking the declaration first.

    ``sample_rate`` is the rate of LINEAR16 samples; Opus containers carry
    their own, so for them it is only range-checked (browsers declare 48000).

    Raises:
        UnsupportedEncodingError: ``encoding`` is not one of :data:`ENCODINGS`.
        InvalidSampleRateError: ``sample_rate`` is outside 8000..48000 Hz.

    """
    if encoding not in ENCODINGS:
        raise UnsupportedEncodingError(
            f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}"
        )
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise InvalidSampleRateError(
            f"sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
        )
    if encoding == "LINEAR16":
        return Linear16Decoder(sample_rate)
    if encoding == "WEBM_OPUS":
        return OpusContainerDecoder("WEBM_OPUS")
    return OpusContainerDecoder("OGG_OPUS")
