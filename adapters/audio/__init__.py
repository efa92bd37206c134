"""Client audio in any accepted encoding, decoded incrementally to 16 kHz mono float32."""

from adapters.audio.base import SAMPLE_RATE, AudioDecoder, Pcm, empty_pcm
from adapters.audio.decoders import ENCODINGS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, open_decoder
from adapters.audio.errors import (
    AudioFormatError,
    CorruptAudioError,
    InvalidSampleRateError,
    OddByteCountError,
    UnsupportedEncodingError,
)

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
    "open_decoder",
]
