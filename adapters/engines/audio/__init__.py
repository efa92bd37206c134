"""Client audio in any accepted encoding, decoded incrementally to 16 kHz mono float32.

The package exports the interface only; the decoders load PyAV and are
opened through :func:`adapters.engines.audio.decoders.open_decoder`.
"""

from adapters.engines.audio.base import SAMPLE_RATE, AudioDecoder, Pcm, empty_pcm
from adapters.engines.audio.errors import (
    AudioFormatError,
    CorruptAudioError,
    InvalidSampleRateError,
    OddByteCountError,
    UnsupportedEncodingError,
)
from adapters.engines.audio.formats import ENCODINGS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

__all__ = [
    "ENCODINGS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "SAMPLE_RATE",
    "AudioDecoder",
    "AudioFormatError",
    "CorruptAudioError",
    "InvalidSampleRateError",
    "OddByteCountError",
    "Pcm",
    "UnsupportedEncodingError",
    "empty_pcm",
]
