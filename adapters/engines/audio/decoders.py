"""Choosing the decoder for what a client declared in ``start-speech``.

This module loads PyAV (both decoders resample with it): import it where
decoders are opened, not for the declarations (:mod:`adapters.engines.audio.formats`).
"""

from __future__ import annotations

from adapters.engines.audio.base import AudioDecoder
from adapters.engines.audio.errors import InvalidSampleRateError, UnsupportedEncodingError
from adapters.engines.audio.formats import ENCODINGS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from adapters.engines.audio.linear16 import Linear16Decoder
from adapters.engines.audio.opus import OpusContainerDecoder


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
